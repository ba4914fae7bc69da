import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { conversationStub, openConversation, requireConversation, snapshotOf, unwrap } from "../conversation/access";
import { database, type Db } from "../db/client";
import {
  addParticipant,
  decodeCursor,
  encodeCursor,
  findDirect,
  insertConversation,
  listConversations,
  loadConversation,
  removeParticipant,
  toConversation,
  updateConversation,
  type ConversationWithParticipants,
  type ParticipantRole,
} from "../db/conversations";
import { areFriends, hasBlocked } from "../db/social";
import { findUserById, findUsersByEmails, findUsersByIds } from "../db/users";
import { readConfig } from "../lib/config";
import { pushToInboxes } from "../user/inbox";
import type { Env, Identity } from "../env";
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
} from "../schemas/conversations";
import { ReadBodySchema, ReadResponseSchema } from "../schemas/messages";

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
    ...errorResponses(400, 401, 404),
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

/** A direct conversation needs the other side not to have blocked the caller, and friendship under DM_POLICY=friends. */
async function requireMayStartDirect(env: Env, db: Db, me: string, other: string): Promise<void> {
  if (await hasBlocked(db, other, me)) throw new AppError("BLOCKED", "this user does not accept conversations from you");
  if (readConfig(env).dmPolicy === "friends" && !(await areFriends(db, me, other))) {
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
  if (body.type === "direct") await requireMayStartDirect(c.env, db, me, members[1]!);
  const unknownRole = Object.keys(body.roles ?? {}).find((id) => !members.includes(id));
  if (unknownRole) throw validationError(`roles.${unknownRole}`, "is not a participant of this conversation");

  const key = body.type === "direct" ? directKey(members, body.context) : null;
  if (key) {
    const existing = await findDirect(db, key);
    if (existing) return c.json(toConversation(existing, me), 200);
  }
  const now = nowIso();
  const id = newId("cnv");
  const roles: Record<string, ParticipantRole> = body.roles ?? {};
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
        createdBy: me,
        createdAt: now,
        updatedAt: now,
        lastActivityAt: now,
      },
      members.map((userId) => ({ userId, role: roles[userId] ?? "member" })),
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

conversationRoutes.openapi(get, async (c) => {
  const identity = c.get("identity");
  const { conversation } = await requireConversation(c.env, database(c.env.DB), c.req.valid("param").id, identity);
  return c.json(toConversation(conversation, identity.id), 200);
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

/** After D1 changed, the Durable Object takes the new snapshot so its sockets see it at once. */
async function reloadAndRefresh(
  env: Env,
  db: Db,
  id: string,
  identity: Identity,
  statusChange: "closed" | "reopened" | null = null,
): Promise<ConversationWithParticipants> {
  const fresh = (await loadConversation(db, id))!;
  await conversationStub(env, id).refresh(await snapshotOf(env, db, fresh), statusChange ? { actorId: identity.id, change: statusChange } : null);
  return fresh;
}

conversationRoutes.openapi(patch, async (c) => {
  const identity = c.get("identity");
  const db = database(c.env.DB);
  const { id } = c.req.valid("param");
  const { conversation, isParticipant } = await requireConversation(c.env, db, id, identity);
  const body = c.req.valid("json");
  // A moderator (an admin outside the conversation) closing or reopening it leaves a system note.
  const statusChange =
    !isParticipant && body.status && body.status !== conversation.row.status ? (body.status === "closed" ? "closed" : "reopened") : null;
  await updateConversation(db, id, {
    ...(body.title !== undefined && { title: body.title }),
    ...(body.status !== undefined && { status: body.status }),
    ...(body.metadata !== undefined && { metadata: body.metadata }),
    updatedAt: nowIso(),
  });
  return c.json(toConversation(await reloadAndRefresh(c.env, db, id, identity, statusChange), identity.id), 200);
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

function requireGroup(conversation: ConversationWithParticipants): void {
  if (conversation.row.type !== "group") throw new AppError("FORBIDDEN", "a direct conversation's participants are fixed");
}

conversationRoutes.openapi(addMember, async (c) => {
  const identity = c.get("identity");
  const db = database(c.env.DB);
  const { id } = c.req.valid("param");
  const { conversation, isParticipant } = await requireConversation(c.env, db, id, identity);
  if (!isParticipant && !identity.isAdmin) throw new AppError("CHAT_ACCESS_DENIED", "only participants may add people");
  requireGroup(conversation);
  const body = c.req.valid("json");
  if (!(await findUserById(db, body.user_id))) throw new AppError("USER_NOT_FOUND", "no such user");
  const existing = conversation.participants.find((p) => p.userId === body.user_id);
  await addParticipant(db, id, body.user_id, body.role ?? existing?.role ?? "member", nowIso());
  const fresh = await reloadAndRefresh(c.env, db, id, identity);
  return c.json(toConversation(fresh, identity.id), existing ? 200 : 201);
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

function mayRemove(identity: Identity, conversation: ConversationWithParticipants, userId: string): boolean {
  return identity.isAdmin || userId === identity.id || conversation.row.createdBy === identity.id;
}

conversationRoutes.openapi(removeMember, async (c) => {
  const identity = c.get("identity");
  const db = database(c.env.DB);
  const { id, user_id: userId } = c.req.valid("param");
  const { conversation } = await requireConversation(c.env, db, id, identity);
  requireGroup(conversation);
  if (!mayRemove(identity, conversation, userId)) throw new AppError("FORBIDDEN", "only the creator or an admin may remove others");
  if (!conversation.participants.some((p) => p.userId === userId)) throw new AppError("USER_NOT_FOUND", "not a participant");
  await removeParticipant(db, id, userId);
  await reloadAndRefresh(c.env, db, id, identity);
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
  const { stub, actor, snapshot } = await openConversation(c.env, c.get("identity"), c.req.valid("param").id, "participant");
  return c.json(unwrap(await stub.markRead(actor, snapshot, c.req.valid("json").up_to_seq)), 200);
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
  const { stub } = await openConversation(c.env, identity, c.req.valid("param").id, "viewer");
  return c.json(await stub.costs(), 200);
});
