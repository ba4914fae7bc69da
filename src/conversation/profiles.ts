import { database } from "../db/client";
import { conversationIdsOf } from "../db/conversations";
import { profileOf, type UserRow } from "../db/users";
import type { Env } from "../env";
import { conversationStub } from "./access";

/** Conversation objects told at once of a changed profile. */
const CONVERSATIONS_TOLD_AT_ONCE = 50;

/**
 * A user's name or avatar changed: each of their conversations keeps the new profile, which
 * their messages carry from then on (a send reads no D1). Off the request's path; what was sent
 * before keeps the profile it was sent with.
 */
export function spreadProfile(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, user: UserRow): void {
  const profile = profileOf(user);
  const told = async () => {
    const ids = await conversationIdsOf(database(env.DB), user.id);
    for (let i = 0; i < ids.length; i += CONVERSATIONS_TOLD_AT_ONCE) {
      const results = await Promise.allSettled(ids.slice(i, i + CONVERSATIONS_TOLD_AT_ONCE).map((id) => conversationStub(env, id).setProfile(user.id, profile)));
      for (const r of results) if (r.status === "rejected") console.error("profile update failed", r.reason);
    }
  };
  ctx.waitUntil(told().catch((err: unknown) => console.error("profile update failed", err)));
}
