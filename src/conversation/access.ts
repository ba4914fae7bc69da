import type { Env, Identity } from "../env";
import { database, type Db } from "../db/client";
import { loadConversation, type ConversationWithParticipants } from "../db/conversations";
import { areFriends, blocksBetween, directConversationIds } from "../db/social";
import { readConfig } from "../lib/config";
import { AppError, type ErrorInfo } from "../lib/errors";
import type { Actor, ConversationDO, Result } from "./conversation-do";
import type { ConversationSnapshot } from "./snapshot";

export interface ConversationAccess {
  conversation: ConversationWithParticipants;
  isParticipant: boolean;
  snapshot: ConversationSnapshot;
}

/**
 * Loads a conversation the caller may see: participants always, admins for moderation. Anyone
 * else gets CHAT_ACCESS_DENIED, for an unknown id too, so existence is not revealed; only
 * admins learn CONVERSATION_NOT_FOUND.
 */
export async function requireConversation(env: Env, db: Db, id: string, identity: Identity): Promise<ConversationAccess> {
  const conversation = await loadConversation(db, id);
  if (!conversation) {
    if (identity.isAdmin) throw new AppError("CONVERSATION_NOT_FOUND", "conversation not found");
    throw new AppError("CHAT_ACCESS_DENIED", "you are not a participant of this conversation");
  }
  const isParticipant = conversation.participants.some((p) => p.userId === identity.id);
  if (!isParticipant && !identity.isAdmin) {
    throw new AppError("CHAT_ACCESS_DENIED", "you are not a participant of this conversation");
  }
  return { conversation, isParticipant, snapshot: await snapshotOf(env, db, conversation) };
}

/** Like requireConversation, but only participants pass (writing needs membership even for admins). */
export async function requireParticipant(env: Env, db: Db, id: string, identity: Identity): Promise<ConversationAccess> {
  const access = await requireConversation(env, db, id, identity);
  if (!access.isParticipant) throw new AppError("CHAT_ACCESS_DENIED", "only participants may do this");
  return access;
}

export async function snapshotOf(env: Env, db: Db, conversation: ConversationWithParticipants): Promise<ConversationSnapshot> {
  const participantIds = conversation.participants.map((p) => p.userId);
  return {
    id: conversation.row.id,
    status: conversation.row.status,
    participantIds,
    refusals: conversation.row.type === "direct" && participantIds.length === 2 ? await directRefusals(env, db, participantIds[0]!, participantIds[1]!) : {},
  };
}

/** In a direct conversation: who is blocked by the other, and, under DM_POLICY=friends, both when not friends. */
export async function directRefusals(env: Env, db: Db, a: string, b: string): Promise<ConversationSnapshot["refusals"]> {
  const refusals: ConversationSnapshot["refusals"] = {};
  for (const block of await blocksBetween(db, a, b)) refusals[block.blockedId] = "BLOCKED";
  if (readConfig(env).dmPolicy === "friends" && !(await areFriends(db, a, b))) {
    refusals[a] ??= "NOT_FRIENDS";
    refusals[b] ??= "NOT_FRIENDS";
  }
  return refusals;
}

/** After a block or friendship change, the pair's direct conversations take the new refusals. */
export async function refreshDirectConversations(env: Env, db: Db, a: string, b: string): Promise<void> {
  for (const id of await directConversationIds(db, a, b)) {
    const conversation = await loadConversation(db, id);
    if (conversation) await conversationStub(env, id).refresh(await snapshotOf(env, db, conversation), null);
  }
}

/**
 * What a route needs to act on a conversation: the access check (participants, or also admins
 * for `viewer`), the snapshot for the Durable Object, its stub and the caller as an actor.
 */
export async function openConversation(env: Env, identity: Identity, id: string, need: "participant" | "viewer") {
  const db = database(env.DB);
  const access = need === "participant" ? await requireParticipant(env, db, id, identity) : await requireConversation(env, db, id, identity);
  return { ...access, db, stub: conversationStub(env, access.snapshot.id), actor: actorOf(identity) };
}

export function conversationStub(env: Env, id: string): DurableObjectStub<ConversationDO> {
  return env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(id));
}

export function actorOf(identity: Identity): Actor {
  return { id: identity.id, isAdmin: identity.isAdmin, exp: identity.exp };
}

/** Turns a Durable Object's Result into a value, or throws its error as an AppError. */
export function unwrap<R extends Result<unknown>>(result: R): Extract<R, { ok: true }>["value"] {
  if (result.ok) return result.value as Extract<R, { ok: true }>["value"];
  throw AppError.from((result as { error: ErrorInfo }).error);
}
