import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { actorOf, conversationStub, requireConversation, requireParticipant, unwrap } from "../conversation/access";
import { database } from "../db/client";
import { bearerSecurity, createApp } from "../lib/app";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import { HistoryQuerySchema, HistoryResponseSchema, MessageSchema, SendMessageBodySchema } from "../schemas/messages";

/** Mounted at /api/v1/conversations/{id}/messages. */
export const messageRoutes = createApp();
messageRoutes.use("*", requireAuth);

const Params = z.object({ id: IdSchema });

const send = createRoute({
  method: "post",
  path: "/",
  tags: ["messages"],
  summary: "Send a message; a repeated client_id from the same sender returns the first message",
  security: bearerSecurity,
  request: { params: Params, body: { content: { "application/json": { schema: SendMessageBodySchema } }, required: true } },
  responses: {
    201: jsonResponse(MessageSchema, "Stored and broadcast"),
    200: jsonResponse(MessageSchema, "Already stored under this client_id"),
    ...errorResponses(400, 401, 403, 409, 413, 429),
  },
});

messageRoutes.openapi(send, async (c) => {
  const identity = c.get("identity");
  const { snapshot } = await requireParticipant(database(c.env.DB), c.req.valid("param").id, identity);
  const result = await conversationStub(c.env, snapshot.id).sendMessage(actorOf(identity), snapshot, c.req.valid("json"));
  const { message, created } = unwrap(result);
  return c.json(message, created ? 201 : 200);
});

const history = createRoute({
  method: "get",
  path: "/",
  tags: ["messages"],
  summary: "History in ascending seq: the newest `limit`, or before `before_seq`, or after `after_seq`",
  security: bearerSecurity,
  request: { params: Params, query: HistoryQuerySchema },
  responses: { 200: jsonResponse(HistoryResponseSchema, "A page of messages"), ...errorResponses(400, 401, 403, 404) },
});

messageRoutes.openapi(history, async (c) => {
  const identity = c.get("identity");
  const { snapshot } = await requireConversation(database(c.env.DB), c.req.valid("param").id, identity);
  return c.json(await conversationStub(c.env, snapshot.id).history(actorOf(identity), snapshot, c.req.valid("query")), 200);
});
