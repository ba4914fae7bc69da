import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { conversationOf, unwrap } from "../conversation/access";
import { openConversation } from "../conversation/opening";
import type { ConversationState } from "../conversation/membership-desk";
import { database, type Db } from "../db/client";
import {
  additionFacts,
  decodeCursor,
  encodeCursor,
  conversationRowWithPeople,
  peopleByIds,
  type ConversationFacts,
  listConversations,
  toConversation,
  updateConversation,
} from "../db/conversations";
import { profileOf } from "../db/users";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError, validationError } from "../lib/errors";
import { nowIso } from "../lib/ids";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import {
  AddParticipantBodySchema,
  ConversationStatsSchema,
  ConversationListSchema,
  ConversationSchema,
  CreateConversationBodySchema,
  ListConversationsQuerySchema,
  PatchConversationBodySchema,
  SetRoleBodySchema,
} from "../schemas/conversations";
import { ReadBodySchema, ReadResponseSchema } from "../schemas/messages";
import { emitFromWorker } from "../webhooks/outbox";

export const conversationRoutes = createApp();
conversationRoutes.use("*", requireAuth);

const IdParams = z.object({ id: IdSchema });

const create = createRoute({
  method: "post",
  path: "/",
  tags: ["conversations"],
  summary: "Create a conversation, or get the existing direct one for the same pair and context",
  security: bearerSecurity,
  request: { body: { content: { "application/json": { schema: CreateConversationBodySchema } }, required: true } },
  responses: {
    201: jsonResponse(ConversationSchema, "Created"),
    200: jsonResponse(ConversationSchema, "The existing direct conversation for this pair and context"),
    ...errorResponses(400, 401, 404, 429),
  },
});

conversationRoutes.openapi(create, async (c) => {
  const { conversation, created } = await openConversation(c.env, c.executionCtx, c.get("identity"), c.req.valid("json"));
  return c.json(conversation, created ? 201 : 200);
});

const list = createRoute({
  method: "get",
  path: "/",
  tags: ["conversations"],
  summary: "The caller's conversations, newest activity first, with last message and unread count",
  security: bearerSecurity,
  request: { query: ListConversationsQuerySchema },
  responses: { 200: jsonResponse(ConversationListSchema, "A page of conversations"), ...errorResponses(400, 401) },
});

conversationRoutes.openapi(list, async (c) => {
  const query = c.req.valid("query");
  const after = query.cursor ? decodeCursor(query.cursor) : null;
  if (query.cursor && !after) throw validationError("cursor", "is not a cursor this API returned");
  const me = c.get("identity").id;
  const { items, more } = await listConversations(database(c.env.DB), me, {
    limit: query.limit,
    after,
    status: query.status,
    contextType: query.context_type,
    contextId: query.context_id,
  });
  const last = items[items.length - 1];
  return c.json(
    { conversations: items.map((item) => toConversation(item, me)), next_cursor: more && last ? encodeCursor(last.row) : null },
    200,
  );
});

const get = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["conversations"],
  summary: "One conversation (participants and admins)",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 200: jsonResponse(ConversationSchema, "The conversation"), ...errorResponses(401, 403, 404) },
});

/**
 * One conversation as its object has it now (status, participants with their read cursors and
 * unread counts, the viewer's unread), with what only D1 holds (title, context, metadata, the
 * last message, people's names): an answer never shows a state older than the change it answers.
 */
async function conversationView(db: Db, state: ConversationState, viewerId: string, known?: ConversationFacts) {
  const { row, people } = await factsFor(db, state, known);
  if (!row) throw new AppError("INTERNAL", "conversation is missing from the list");
  const profiles = new Map(people.map((u) => [u.id, u]));
  return {
    ...toConversation({ row: { ...row, participantCount: state.participantCount }, participants: [] }, viewerId),
    status: state.status,
    last_seq: state.lastSeq,
    unread_count: state.viewerUnread,
    participants: state.participants.map((p) => {
      const profile = profiles.get(p.id);
      return {
        id: p.id,
        name: profile?.name ?? "",
        avatar_url: profile?.avatarUrl ?? null,
        role: p.role,
        online: profile?.online ?? false,
        last_read_seq: p.lastReadSeq,
        unread_count: p.unreadCount,
      };
    }),
  };
}

/** D1's part of an answer: what `known` (read ahead) lacks of the conversation's row and the people the object lists. */
async function factsFor(db: Db, state: ConversationState, known: ConversationFacts | undefined): Promise<ConversationFacts> {
  const listed = state.participants.map((p) => p.id);
  if (!known?.row) return conversationRowWithPeople(db, state.id, listed);
  const have = new Set(known.people.map((p) => p.id));
  const missing = listed.filter((id) => !have.has(id));
  return missing.length === 0 ? known : { row: known.row, people: [...known.people, ...(await peopleByIds(db, missing))] };
}

conversationRoutes.openapi(get, async (c) => {
  const identity = c.get("identity");
  const { stub, actor } = conversationOf(c.env, identity, c.req.valid("param").id);
  const state = unwrap(await stub.describe(actor));
  return c.json(await conversationView(database(c.env.DB), state, identity.id), 200);
});

const patch = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["conversations"],
  summary: "Change title, status (active|closed) or metadata (any participant, an admin or the app's backend)",
  security: bearerSecurity,
  request: { params: IdParams, body: { content: { "application/json": { schema: PatchConversationBodySchema } }, required: true } },
  responses: { 200: jsonResponse(ConversationSchema, "The updated conversation"), ...errorResponses(400, 401, 403, 404) },
});

conversationRoutes.openapi(patch, async (c) => {
  const identity = c.get("identity");
  const db = database(c.env.DB);
  const body = c.req.valid("json");
  const { stub, actor } = conversationOf(c.env, identity, c.req.valid("param").id);
  // The object decides access and the status; title and metadata are D1's alone.
  const state = unwrap(body.status !== undefined ? await stub.setStatus(actor, body.status) : await stub.describe(actor));
  if (body.title !== undefined || body.metadata !== undefined) {
    await updateConversation(db, state.id, {
      ...(body.title !== undefined && { title: body.title }),
      ...(body.metadata !== undefined && { metadata: body.metadata }),
      updatedAt: nowIso(),
    });
  }
  const updated = await conversationView(db, state, identity.id);
  emitFromWorker(c.env, c.executionCtx, "conversation.updated", { conversation: updated });
  return c.json(updated, 200);
});

const addMember = createRoute({
  method: "post",
  path: "/{id}/participants",
  tags: ["conversations"],
  summary: "Add a participant to a group conversation",
  security: bearerSecurity,
  request: { params: IdParams, body: { content: { "application/json": { schema: AddParticipantBodySchema } }, required: true } },
  responses: {
    201: jsonResponse(ConversationSchema, "Added"),
    200: jsonResponse(ConversationSchema, "Already a participant (role updated when given)"),
    ...errorResponses(400, 401, 403, 404),
  },
});

conversationRoutes.openapi(addMember, async (c) => {
  const identity = c.get("identity");
  const db = database(c.env.DB);
  const body = c.req.valid("json");
  const conversationId = c.req.valid("param").id;
  // Facts about the person from D1, and the answer's, in one request; the object refuses with
  // them only after its own access check.
  const { person, blocked, facts } = await additionFacts(db, conversationId, body.user_id, identity.id);
  const blockedCaller = body.user_id !== identity.id && !identity.isService && blocked;
  const { stub, actor } = conversationOf(c.env, identity, conversationId);
  const { added, state } = unwrap(await stub.addParticipant(actor, { userId: body.user_id, role: body.role, known: person !== undefined, blockedCaller, profile: person ? profileOf(person) : null, inboxOpen: person?.inboxOpen ?? false }));
  return c.json(await conversationView(db, state, identity.id, facts), added ? 201 : 200);
});

const setRole = createRoute({
  method: "patch",
  path: "/{id}/participants/{user_id}",
  tags: ["conversations"],
  summary: "Change a participant's role (the app's backend and admins only; participants cannot change it afterwards)",
  security: bearerSecurity,
  request: {
    params: z.object({ id: IdSchema, user_id: IdSchema }),
    body: { content: { "application/json": { schema: SetRoleBodySchema } }, required: true },
  },
  responses: { 200: jsonResponse(ConversationSchema, "The conversation with the new role"), ...errorResponses(400, 401, 403, 404) },
});

conversationRoutes.openapi(setRole, async (c) => {
  const identity = c.get("identity");
  const { id, user_id: userId } = c.req.valid("param");
  const { stub, actor } = conversationOf(c.env, identity, id);
  const state = unwrap(await stub.setParticipantRole(actor, userId, c.req.valid("json").role));
  return c.json(await conversationView(database(c.env.DB), state, identity.id), 200);
});

const removeMember = createRoute({
  method: "delete",
  path: "/{id}/participants/{user_id}",
  tags: ["conversations"],
  summary: "Leave a group, or remove someone (the creator, an admin or the app's backend); their sockets close with 4003",
  security: bearerSecurity,
  request: { params: z.object({ id: IdSchema, user_id: IdSchema }) },
  responses: { 204: { description: "Removed" }, ...errorResponses(401, 403, 404) },
});

conversationRoutes.openapi(removeMember, async (c) => {
  const { id, user_id: userId } = c.req.valid("param");
  const { stub, actor } = conversationOf(c.env, c.get("identity"), id);
  unwrap(await stub.removeParticipant(actor, userId));
  return c.body(null, 204);
});

const read = createRoute({
  method: "post",
  path: "/{id}/read",
  tags: ["messages"],
  summary: "Move the caller's read cursor (to the newest message when up_to_seq is absent)",
  security: bearerSecurity,
  request: { params: IdParams, body: { content: { "application/json": { schema: ReadBodySchema } }, required: false } },
  responses: { 200: jsonResponse(ReadResponseSchema, "The read cursor and what is left unread"), ...errorResponses(400, 401, 403) },
});

conversationRoutes.openapi(read, async (c) => {
  const { stub, actor } = conversationOf(c.env, c.get("identity"), c.req.valid("param").id);
  return c.json(unwrap(await stub.markRead(actor, c.req.valid("json").up_to_seq)), 200);
});

const stats = createRoute({
  method: "get",
  path: "/{id}/stats",
  tags: ["conversations"],
  summary: "Admin only: what the conversation's Durable Object has cost since it last started",
  description: "Messages appended, D1 flushes/statements/rows written, rows written to the object's own storage and frames sent. Used by `npm run bench`.",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 200: jsonResponse(ConversationStatsSchema, "Counters"), ...errorResponses(401, 403, 404) },
});

conversationRoutes.openapi(stats, async (c) => {
  const identity = c.get("identity");
  if (!identity.isAdmin) throw new AppError("FORBIDDEN", "stats are for admins");
  const { stub, actor } = conversationOf(c.env, identity, c.req.valid("param").id);
  return c.json(unwrap(await stub.costs(actor)), 200);
});
