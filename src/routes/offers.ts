import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { conversationOf, unwrap } from "../conversation/access";
import { bearerSecurity, createApp } from "../lib/app";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import { MessageSchema } from "../schemas/messages";
import { CreateOfferBodySchema, RespondOfferBodySchema } from "../schemas/offers";

/** Mounted at /api/v1/conversations/{id}/offers. */
export const offerRoutes = createApp();
offerRoutes.use("*", requireAuth);

const create = createRoute({
  method: "post",
  path: "/",
  tags: ["offers"],
  summary: "Make an offer: an `offer` message whose data holds {offer_id, status: pending, amount, currency, product_id}",
  security: bearerSecurity,
  request: { params: z.object({ id: IdSchema }), body: { content: { "application/json": { schema: CreateOfferBodySchema } }, required: true } },
  responses: {
    201: jsonResponse(MessageSchema, "The offer message"),
    200: jsonResponse(MessageSchema, "Already made under this client_id"),
    ...errorResponses(400, 401, 403, 409, 429),
  },
});

offerRoutes.openapi(create, async (c) => {
  const { stub, actor } = conversationOf(c.env, c.get("identity"), c.req.valid("param").id);
  const { message, created } = unwrap(await stub.createOffer(actor, c.req.valid("json")));
  return c.json(message, created ? 201 : 200);
});

const respond = createRoute({
  method: "post",
  path: "/{offer_id}/respond",
  tags: ["offers"],
  summary: "Accept, reject or counter (the other party) or withdraw (the offerer) a pending offer",
  description: "Returns the `offer_response` message. A counter also creates a new pending offer linked by `counter_of`; an answer to a non-pending offer is 409 OFFER_NOT_PENDING.",
  security: bearerSecurity,
  request: {
    params: z.object({ id: IdSchema, offer_id: IdSchema }),
    body: { content: { "application/json": { schema: RespondOfferBodySchema } }, required: true },
  },
  responses: { 201: jsonResponse(MessageSchema, "The offer_response message"), ...errorResponses(400, 401, 403, 404, 409, 429) },
});

offerRoutes.openapi(respond, async (c) => {
  const { id, offer_id: offerId } = c.req.valid("param");
  const { stub, actor } = conversationOf(c.env, c.get("identity"), id);
  return c.json(unwrap(await stub.respondToOffer(actor, offerId, c.req.valid("json"))), 201);
});
