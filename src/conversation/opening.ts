import type { Env, Identity } from "../env";
import { database, type Db } from "../db/client";
import { findDirect, insertConversation, loadConversation, toConversation } from "../db/conversations";
import { areFriends, blockersAmong } from "../db/social";
import { findUsersByEmails, findUsersByIds, profileOf } from "../db/users";
import { readConfig } from "../lib/config";
import { AppError, validationError } from "../lib/errors";
import { newId, nowIso } from "../lib/ids";
import type { Conversation, CreateConversationBody, ParticipantRole } from "../schemas/conversations";
import type { Profile } from "../schemas/messages";
import { inboxStub, pushToInboxes } from "../user/inbox";
import { emitFromWorker } from "../webhooks/outbox";
import { conversationStub, directRefusals, unwrap } from "./access";

// Opening a conversation (Worker side): POST /conversations and POST /messages (send to a person).

/**
 * Everyone named by id or email, who must all exist, plus the creator (first) unless the app's
 * backend creates it; with the profiles the conversation keeps for them, read in the same queries.
 */
async function resolveMembers(db: Db, creator: string | null, body: CreateConversationBody): Promise<{ members: string[]; profiles: Map<string, Profile> }> {
  const ids = new Set(body.participant_ids ?? []);
  const emails = [...new Set(body.participant_emails ?? [])];
  const byEmail = await findUsersByEmails(db, emails);
  const missingEmail = emails.find((e) => !byEmail.some((u) => u.email === e));
  if (missingEmail) throw new AppError("USER_NOT_FOUND", `no user with email ${missingEmail}`, { details: [{ field: "participant_emails", message: `unknown: ${missingEmail}` }] });
  const found = await findUsersByIds(db, creator === null ? [...ids] : [...ids, creator]);
  const missingId = [...ids].find((id) => !found.some((u) => u.id === id));
  if (missingId) throw new AppError("USER_NOT_FOUND", `no user with id ${missingId}`, { details: [{ field: "participant_ids", message: `unknown: ${missingId}` }] });
  for (const u of byEmail) ids.add(u.id);
  const profiles = new Map([...found, ...byEmail].map((row) => [row.id, profileOf(row)]));
  if (creator === null) return { members: [...ids].sort(), profiles };
  ids.delete(creator);
  return { members: [creator, ...[...ids].sort()], profiles };
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

/**
 * A user creates a conversation they take part in; the app's backend creates one for others
 * (it is not added), with roles that are trusted (locked) and no creation limit.
 */
export async function openConversation(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, identity: Identity, body: CreateConversationBody): Promise<{ conversation: Conversation; created: boolean }> {
  const me = identity.id;
  const db = database(env.DB);
  const { members, profiles } = await resolveMembers(db, identity.isService ? null : me, body);
  if (body.type === "direct" && members.length !== 2) {
    throw validationError("participant_ids", identity.isService ? "a direct conversation has exactly two participants" : "a direct conversation has exactly one other participant");
  }
  if (members.length === 0) throw validationError("participant_ids", "name at least one participant");
  if (!identity.isService) await requireMayStart(env, db, me, members.slice(1), body.type);
  const unknownRole = Object.keys(body.roles ?? {}).find((id) => !members.includes(id));
  if (unknownRole) throw validationError(`roles.${unknownRole}`, "is not a participant of this conversation");

  const key = body.type === "direct" ? directKey(members, body.context) : null;
  if (key) {
    const existing = await findDirect(db, key);
    if (existing) return { conversation: toConversation(existing, me), created: false };
  }
  if (!identity.isService) {
    // Only a creation costs: a token of the creator's bucket, kept by their user object.
    const allowance = await inboxStub(env, me).takeToken("conversations", readConfig(env).rates.conversationsPerMin);
    if (!allowance.allowed) throw new AppError("RATE_LIMIT_EXCEEDED", "too many new conversations; slow down", { retryAfterMs: allowance.retryAfterMs });
  }
  const now = nowIso();
  const id = newId("cnv");
  const roles: Record<string, ParticipantRole> = body.roles ?? {};
  const participants = members.map((userId) => ({
    userId,
    role: roles[userId] ?? "member",
    locked: identity.isService && userId in roles,
    profile: profiles.get(userId) ?? { name: userId, avatar_url: null },
  }));
  // The object is the authority, so it exists first; D1's rows (for listing and the direct
  // key) follow. A create that loses the direct-key race leaves an object no one can reach.
  const refusals = body.type === "direct" ? await directRefusals(env, db, members[0]!, members[1]!) : {};
  unwrap(await conversationStub(env, id).create({ id, type: body.type, createdBy: me, participants, refusals }));
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
    if (winner) return { conversation: toConversation(winner, me), created: false };
    throw err;
  }
  const created = toConversation((await loadConversation(db, id))!, me);
  const others = members.filter((userId) => userId !== me);
  ctx.waitUntil(pushToInboxes(env, others, { type: "conversation.created", conversation: created }));
  emitFromWorker(env, ctx, "conversation.created", { conversation: created });
  return { conversation: created, created: true };
}

