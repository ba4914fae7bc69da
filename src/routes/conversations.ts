import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { conversationOf, conversationStub, directRefusals, unwrap } from "../conversation/access";
import type { ConversationState } from "../conversation/membership-desk";
import { database, type Db } from "../db/client";
import {
  addParticipant,
  decodeCursor,
  encodeCursor,
  findConversationRow,
  findDirect,
  insertConversation,
  listConversations,
  loadConversation,
  toConversation,
  updateConversation,
  type ConversationWithParticipants,
} from "../db/conversations";
import { areFriends, blockersAmong, hasBlocked } from "../db/social";
import { findUserById, findUsersByEmails, findUsersByIds } from "../db/users";
import { readConfig } from "../lib/config";
import { inboxStub, pushToInboxes } from "../user/inbox";
import type { Env } from "../env";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError, validationError } from "../lib/errors";
import { newId, nowIso } from "../lib/ids";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import {
  AddParticipantBodySchema,
  ConversationStatsSchema,
  ConversationListSchema,
  ConversationSchema,
  CreateConversationBodySchema,
  ListConversationsQuerySchema,
  PatchConversationBodySchema,
  type CreateConversationBody,
  type ParticipantRole,
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

/** Everyone named by id or email, who must all exist, plus the creator. */
async function resolveMembers(db: Db, me: string, body: CreateConversationBody): Promise<string[]> {
  const ids = new Set(body.participant_ids ?? []);
  const emails = [...new Set(body.participant_emails ?? [])];
  const byEmail = await findUsersByEmails(db, emails);
  const missingEmail = emails.find((e) => !byEmail.some((u) => u.email === e));
  if (missingEmail) throw new AppError("USER_NOT_FOUND", `no user with email ${missingEmail}`, { details: [{ field: "participant_emails", message: `unknown: ${missingEmail}` }] });
  const found = await findUsersByIds(db, [...ids]);
  const missingId = [...ids].find((id) => !found.some((u) => u.id === id));
  if (missingId) throw new AppError("USER_NOT_FOUND", `no user with id ${missingId}`, { details: [{ field: "participant_ids", message: `unknown: ${missingId}` }] });
  for (const u of byEmail) ids.add(u.id);
  ids.delete(me);
  return [me, ...[...ids].sort()];
}

/**
 * No one may start a conversation (direct or group) with someone who blocked them; a direct
 * conversation under DM_POLICY=friends also needs the friendship.
 */
async function requireMayStart(env: Env, db: Db, me: string, others: string[], type: "direct" | "group"): Promise<void> {
  if ((await blockersAmong(db, me, others)).length > 0) throw new AppError("BLOCKED", "someone in this conversation does not accept conversations from you");
  if (type === "direct" && readConfig(env).dmPolicy === "friends" && !(await areFriends(db, me, others[0]!))) {
    throw new AppError("NOT_FRIENDS", "direct conversations need an accepted friendship");
  }
}

function directKey(pair: string[], context: CreateConversationBody["context"]): string {
  return `${[...pair].sort().join("|")}#${context ? `${context.type}:${context.id}` : ""}`;
}

conversationRoutes.openapi(create, async (c) => {
  const body = c.req.valid("json");
  const me = c.get("identity").id;
  const db = database(c.env.DB);
  const members = await resolveMembers(db, me, body);
  if (body.type === "direct" && members.length !== 2) {
    throw validationError("participant_ids", "a direct conversation has exactly one other participant");
  }
  await requireMayStart(c.env, db, me, members.slice(1), body.type);
  const unknownRole = Object.keys(body.roles ?? {}).find((id) => !members.includes(id));
  if (unknownRole) throw validationError(`roles.${unknownRole}`, "is not a participant of this conversation");

  const key = body.type === "direct" ? directKey(members, body.context) : null;
  if (key) {
    const existing = await findDirect(db, key);
    if (existing) return c.json(toConversation(existing, me), 200);
  }
  // Only a creation costs: a token of the creator's bucket, kept by their user object.
  const allowance = await inboxStub(c.env, me).takeToken("conversations", readConfig(c.env).rates.conversationsPerMin);
  if (!allowance.allowed) throw new AppError("RATE_LIMIT_EXCEEDED", "too many new conversations; slow down", { retryAfterMs: allowance.retryAfterMs });
  const now = nowIso();
  const id = newId("cnv");
  const roles: Record<string, ParticipantRole> = body.roles ?? {};
  const participants = members.map((userId) => ({ userId, role: roles[userId] ?? "member" }));
  // The object is the authority, so it exists first; D1's rows (for listing and the direct
  // key) follow. A create that loses the direct-key race leaves an object no one can reach.
  const refusals = body.type === "direct" ? await directRefusals(c.env, db, members[0]!, members[1]!) : {};
  unwrap(await conversationStub(c.env, id).create({ id, type: body.type, createdBy: me, participants, refusals }));
  try {
    await insertConversation(
      db,
      {
        id,
        type: body.type,
        title: body.title ?? null,
        contextType: body.context?.type ?? null,
        contextId: body.context?.id ?? null,
        context: body.context ?? null,
        metadata: body.metadata ?? {},
        directKey: key,
        participantCount: participants.length,
        createdBy: me,
        createdAt: now,
        updatedAt: now,
        lastActivityAt: now,
      },
      participants,
    );
  } catch (err) {
    // Two first contacts raced: the unique direct key let one in; the other gets that one.
    const winner = key ? await findDirect(db, key) : null;
    if (winner) return c.json(toConversation(winner, me), 200);
    throw err;
  }
  const created = toConversation((await loadConversation(db, id))!, me);
  const others = members.filter((userId) => userId !== me);
  c.executionCtx.waitUntil(pushToInboxes(c.env, others, { type: "conversation.created", conversation: created }));
  emitFromWorker(c.env, c.executionCtx, "conversation.created", { conversation: created });
  return c.json(created, 201);
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
async function conversationView(db: Db, state: ConversationState, viewerId: string) {
  const [row, people] = await Promise.all([findConversationRow(db, state.id), findUsersByIds(db, state.participants.map((p) => p.id))]);
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
  summary: "Change title, status (active|closed) or metadata (any participant, or an admin)",
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
  // Facts about the person from D1; the object refuses with them only after its own access check.
  const [known, blockedCaller] = await Promise.all([
    findUserById(db, body.user_id).then(Boolean),
    body.user_id === identity.id ? false : hasBlocked(db, body.user_id, identity.id),
  ]);
  const { stub, actor } = conversationOf(c.env, identity, c.req.valid("param").id);
  const { added, state } = unwrap(await stub.addParticipant(actor, { userId: body.user_id, role: body.role, known, blockedCaller }));
  return c.json(await conversationView(db, state, identity.id), added ? 201 : 200);
});

const removeMember = createRoute({
  method: "delete",
  path: "/{id}/participants/{user_id}",
  tags: ["conversations"],
  summary: "Leave a group, or remove someone (the creator or an admin); their sockets close with 4003",
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
