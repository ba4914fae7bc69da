import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { conversationOf, unwrap } from "../conversation/access";
import { bearerSecurity, createApp } from "../lib/app";
import { validationError } from "../lib/errors";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import {
  EditMessageBodySchema,
  HistoryResponseSchema,
  MessageSchema,
  MessagesQuerySchema,
  ReactionsSchema,
  ReceiptsSchema,
  SendMessageBodySchema,
} from "../schemas/messages";

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
  const { stub, actor } = conversationOf(c.env, c.get("identity"), c.req.valid("param").id);
  const { message, created } = unwrap(await stub.sendMessage(actor, c.req.valid("json")));
  return c.json(message, created ? 201 : 200);
});

const history = createRoute({
  method: "get",
  path: "/",
  tags: ["messages"],
  summary: "History in ascending seq (the newest `limit`, or before `before_seq`, or after `after_seq`); with `q`, a full-text search",
  description:
    "Without `q`: a page of history in ascending seq. With `q`: the messages containing every word of `q` (the last word also as a prefix; case and accents ignored), newest first; the next page is asked with `before_seq` = the smallest seq returned (`after_seq` is not accepted with `q`). Deleted messages are never found; an edited message is found by its current words only.",
  security: bearerSecurity,
  request: { params: Params, query: MessagesQuerySchema },
  responses: { 200: jsonResponse(HistoryResponseSchema, "A page of messages (history ascending, search results newest first)"), ...errorResponses(400, 401, 403, 404) },
});

messageRoutes.openapi(history, async (c) => {
  const { stub, actor } = conversationOf(c.env, c.get("identity"), c.req.valid("param").id);
  const { q, ...query } = c.req.valid("query");
  if (q === undefined) return c.json(unwrap(await stub.history(actor, query)), 200);
  if (query.after_seq !== undefined) throw validationError("after_seq", "a search pages with before_seq only");
  return c.json(unwrap(await stub.search(actor, { q, before_seq: query.before_seq, limit: query.limit })), 200);
});

const MessageParams = z.object({ id: IdSchema, message_id: IdSchema });

const edit = createRoute({
  method: "patch",
  path: "/{message_id}",
  tags: ["messages"],
  summary: "Edit a message's content (sender only); sets edited_at and broadcasts message.updated",
  security: bearerSecurity,
  request: { params: MessageParams, body: { content: { "application/json": { schema: EditMessageBodySchema } }, required: true } },
  responses: { 200: jsonResponse(MessageSchema, "The edited message"), ...errorResponses(400, 401, 403, 404, 409, 429) },
});

messageRoutes.openapi(edit, async (c) => {
  const { id, message_id: messageId } = c.req.valid("param");
  const { stub, actor } = conversationOf(c.env, c.get("identity"), id);
  return c.json(unwrap(await stub.editMessage(actor, messageId, c.req.valid("json").content)), 200);
});

const remove = createRoute({
  method: "delete",
  path: "/{message_id}",
  tags: ["messages"],
  summary: "Soft-delete a message (sender, or an admin as moderator); content and attachment are withheld from then on",
  security: bearerSecurity,
  request: { params: MessageParams },
  responses: { 200: jsonResponse(MessageSchema, "The deleted message"), ...errorResponses(401, 403, 404) },
});

messageRoutes.openapi(remove, async (c) => {
  const { id, message_id: messageId } = c.req.valid("param");
  const { stub, actor } = conversationOf(c.env, c.get("identity"), id);
  return c.json(unwrap(await stub.deleteMessage(actor, messageId)), 200);
});

const ReactionParams = z.object({ id: IdSchema, message_id: IdSchema, emoji: z.string().min(1).max(64) });

for (const [method, add] of [["put", true], ["delete", false]] as const) {
  const route = createRoute({
    method,
    path: "/{message_id}/reactions/{emoji}",
    tags: ["messages"],
    summary: add
      ? "Add the caller's reaction (one per user per emoji; idempotent; at most MAX_REACTIONS_PER_MESSAGE distinct emoji and 10 of the caller's per message; takes a reactions token)"
      : "Remove the caller's reaction (takes a reactions token)",
    security: bearerSecurity,
    request: { params: ReactionParams },
    responses: { 200: jsonResponse(ReactionsSchema, "The message's reactions"), ...errorResponses(400, 401, 403, 404, 409, 429) },
  });
  messageRoutes.openapi(route, async (c) => {
    const { id, message_id: messageId, emoji } = c.req.valid("param");
    const { stub, actor } = conversationOf(c.env, c.get("identity"), id);
    return c.json(unwrap(await stub.react(actor, messageId, emoji, add)), 200);
  });
}

const receipts = createRoute({
  method: "get",
  path: "/{message_id}/receipts",
  tags: ["messages"],
  summary: "Per participant (other than the sender): sent, delivered or read, with times",
  security: bearerSecurity,
  request: { params: MessageParams },
  responses: { 200: jsonResponse(ReceiptsSchema, "Receipts"), ...errorResponses(401, 403, 404) },
});

messageRoutes.openapi(receipts, async (c) => {
  const { id, message_id: messageId } = c.req.valid("param");
  const { stub, actor } = conversationOf(c.env, c.get("identity"), id);
  return c.json(unwrap(await stub.receipts(actor, messageId)), 200);
});
