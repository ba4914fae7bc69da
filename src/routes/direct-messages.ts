import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { conversationOf, unwrap } from "../conversation/access";
import { openConversation } from "../conversation/opening";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError } from "../lib/errors";
import { errorResponses, jsonResponse } from "../schemas/common";
import { SendToPersonBodySchema, SentToPersonSchema, type SentToPerson } from "../schemas/direct-messages";

/** Mounted at /api/v1/messages. */
export const directMessageRoutes = createApp();
directMessageRoutes.use("*", requireAuth);

const sendToPerson = createRoute({
  method: "post",
  path: "/",
  tags: ["messages"],
  summary: "Send to a person in one call: create-or-get the direct conversation with them (for `context` when given) and append the message",
  description:
    "Every rule of creating and sending applies (blocks, DM_POLICY, both limits). The same client_id again answers 200 with `created_conversation: false` and the first message.",
  security: bearerSecurity,
  request: { body: { content: { "application/json": { schema: SendToPersonBodySchema } }, required: true } },
  responses: {
    201: jsonResponse(SentToPersonSchema, "Stored and broadcast"),
    200: jsonResponse(SentToPersonSchema, "Already stored under this client_id"),
    ...errorResponses(400, 401, 403, 404, 409, 429),
  },
});

/** The body names the person as to_user_id / to_email; creation's errors name them as participant_ids / participant_emails. */
const PERSON_FIELDS: Record<string, string> = { participant_ids: "to_user_id", participant_emails: "to_email" };

directMessageRoutes.openapi(sendToPerson, async (c) => {
  const identity = c.get("identity");
  const { to_user_id: toUserId, to_email: toEmail, context, roles, metadata, ...message } = c.req.valid("json");
  const opened = await openConversation(c.env, c.executionCtx, identity, {
    type: "direct",
    ...(toUserId !== undefined && { participant_ids: [toUserId] }),
    ...(toEmail !== undefined && { participant_emails: [toEmail] }),
    context,
    roles,
    metadata,
  }).catch((err: unknown) => {
    if (!(err instanceof AppError) || !err.details) throw err;
    const details = err.details.map((d) => ({ ...d, field: PERSON_FIELDS[d.field] ?? d.field }));
    throw new AppError(err.code, err.message.replace(/^participant_(ids|emails)/, (f) => PERSON_FIELDS[f] ?? f), { details });
  });
  const { stub, actor } = conversationOf(c.env, identity, opened.conversation.id);
  const { message: sent, created } = unwrap(await stub.sendMessage(actor, message));
  const body: SentToPerson = { conversation_id: opened.conversation.id, created_conversation: opened.created, message: sent };
  return c.json(body, created ? 201 : 200);
});
