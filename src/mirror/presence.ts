import type { Db } from "../db/client";
import { presenceListeners } from "../db/social";
import type { Env } from "../env";
import { inboxStub } from "../user/inbox";
import type { InboxFrame } from "../user/user-do";

/**
 * A user went online (their first socket, inbox or conversation, opened) or offline (the last
 * closed, after the grace period), as their object decided it. Queued rather than written by
 * the object: a burst of connects (a deploy, a network coming back) then costs D1 one batch
 * per hundred users instead of a request each, and the connect path waits on no D1 at all.
 */
export interface PresenceChange {
  user_id: string;
  online: boolean;
  /** ISO time of the change: `last_seen` when it is going offline. */
  at: string;
  /** Grows with each change of the user (nextStamp in the user's object): D1 keeps the highest. */
  stamp: number;
}

/** Pure: the newest change of each user (a batch may hold a user's online and offline both). */
export function latestChanges(changes: PresenceChange[]): PresenceChange[] {
  const newest = new Map<string, PresenceChange>();
  for (const change of changes) {
    const seen = newest.get(change.user_id);
    if (!seen || change.stamp > seen.stamp) newest.set(change.user_id, change);
  }
  return [...newest.values()];
}

/**
 * Tells the online contacts of each user whose change D1 has just taken (written by the
 * mirror's consumer, or by the user's object as their first inbox opens), one call per
 * listener with all their frames. Best effort, like any push to an inbox: the change is in D1
 * already, so a redelivery announces nothing.
 */
export async function announcePresence(env: Env, db: Db, taken: PresenceChange[]): Promise<void> {
  if (taken.length === 0) return;
  try {
    const frameOf = new Map<string, InboxFrame>(
      taken.map((c) => [c.user_id, { type: "presence", user_id: c.user_id, online: c.online, last_seen: c.online ? null : c.at }]),
    );
    const framesFor = new Map<string, InboxFrame[]>();
    for (const { subject, listener } of await presenceListeners(db, [...frameOf.keys()])) {
      const frames = framesFor.get(listener) ?? [];
      frames.push(frameOf.get(subject)!);
      framesFor.set(listener, frames);
    }
    const told = await Promise.allSettled([...framesFor].map(([listener, frames]) => inboxStub(env, listener).push(frames)));
    for (const r of told) if (r.status === "rejected") console.error("presence announcement failed", r.reason);
  } catch (err) {
    console.error("presence announcement failed", err);
  }
}
