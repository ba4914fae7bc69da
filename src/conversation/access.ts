import type { Env, Identity } from "../env";
import type { Db } from "../db/client";
import { areFriends, blocksBetween, directConversationIds } from "../db/social";
import { readConfig } from "../lib/config";
import { AppError, type ErrorInfo } from "../lib/errors";
import type { Actor, ConversationDO, Result } from "./conversation-do";
import type { Refusal } from "./membership";

/**
 * What a route needs to act on a conversation: its object and the caller as an actor. The
 * Worker does not decide access: the object does, from its own membership, on every call.
 */
export function conversationOf(env: Env, identity: Identity, id: string) {
  return { stub: conversationStub(env, id), actor: actorOf(identity) };
}

export function conversationStub(env: Env, id: string): DurableObjectStub<ConversationDO> {
  return env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(id));
}

export function actorOf(identity: Identity): Actor {
  return { id: identity.id, isAdmin: identity.isAdmin, isService: identity.isService, exp: identity.exp };
}

/** Turns a Durable Object's Result into a value, or throws its error as an AppError. */
export function unwrap<R extends Result<unknown>>(result: R): Extract<R, { ok: true }>["value"] {
  if (result.ok) return result.value as Extract<R, { ok: true }>["value"];
  throw AppError.from((result as { error: ErrorInfo }).error);
}

/** In a direct conversation: who is blocked by the other, and, under DM_POLICY=friends, both when not friends. */
export async function directRefusals(env: Env, db: Db, a: string, b: string): Promise<Record<string, Refusal>> {
  const refusals: Record<string, Refusal> = {};
  for (const block of await blocksBetween(db, a, b)) refusals[block.blockedId] = "BLOCKED";
  if (readConfig(env).dmPolicy === "friends" && !(await areFriends(db, a, b))) {
    refusals[a] ??= "NOT_FRIENDS";
    refusals[b] ??= "NOT_FRIENDS";
  }
  return refusals;
}

/** After a block or friendship change, the pair's direct conversations take the new refusals before the change is answered. */
export async function refreshDirectConversations(env: Env, db: Db, a: string, b: string): Promise<void> {
  const ids = await directConversationIds(db, a, b);
  if (ids.length === 0) return;
  const refusals = await directRefusals(env, db, a, b);
  await Promise.all(ids.map((id) => conversationStub(env, id).setRefusals(refusals)));
}
