import type { Env, Identity } from "../env";
import type { Db } from "../db/client";
import { loadConversation, type ConversationWithParticipants } from "../db/conversations";
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
export async function requireConversation(db: Db, id: string, identity: Identity): Promise<ConversationAccess> {
  const conversation = await loadConversation(db, id);
  if (!conversation) {
    if (identity.isAdmin) throw new AppError("CONVERSATION_NOT_FOUND", "conversation not found");
    throw new AppError("CHAT_ACCESS_DENIED", "you are not a participant of this conversation");
  }
  const isParticipant = conversation.participants.some((p) => p.userId === identity.id);
  if (!isParticipant && !identity.isAdmin) {
    throw new AppError("CHAT_ACCESS_DENIED", "you are not a participant of this conversation");
  }
  return { conversation, isParticipant, snapshot: snapshotOf(conversation) };
}

/** Like requireConversation, but only participants pass (writing needs membership even for admins). */
export async function requireParticipant(db: Db, id: string, identity: Identity): Promise<ConversationAccess> {
  const access = await requireConversation(db, id, identity);
  if (!access.isParticipant) throw new AppError("CHAT_ACCESS_DENIED", "only participants may do this");
  return access;
}

export function snapshotOf(conversation: ConversationWithParticipants): ConversationSnapshot {
  return {
    id: conversation.row.id,
    status: conversation.row.status,
    participantIds: conversation.participants.map((p) => p.userId),
  };
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
