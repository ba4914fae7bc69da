import type { Env } from "../env";
import type { InboxFrame } from "./user-do";

/** The user's Durable Object (inbox sockets, unread totals, presence). */
export function inboxStub(env: Env, userId: string) {
  return env.USERS.get(env.USERS.idFromName(userId));
}

/** Pushes an event to each user's inbox sockets; failures are logged, never surfaced to the caller. */
export async function pushToInboxes(env: Env, userIds: string[], frame: InboxFrame): Promise<void> {
  const results = await Promise.allSettled(userIds.map((id) => inboxStub(env, id).push([frame])));
  for (const r of results) if (r.status === "rejected") console.error("inbox push failed", r.reason);
}
