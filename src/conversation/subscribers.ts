import type { Env } from "../env";
import { withConversationId, type UnsubscribeReason } from "../schemas/inbox-frames";
import { inboxStub } from "../user/inbox";
import { UserSessions } from "./user-sessions";

type UserStub = ReturnType<typeof inboxStub>;

/**
 * Users whose inbox socket subscribed to this conversation (one socket per client): they get
 * every frame the conversation's own sockets get, with `conversation_id` added, through their
 * user object. Stored, so subscriptions outlive eviction and hibernation of this object; the
 * user object keeps which of its sockets subscribed.
 *
 * A participant's subscription is a receipts session like a socket's, so what it carries counts
 * as delivered without a write per message. Frames of one turn go to a user in one call, and
 * calls through one stub arrive in the order they were made, so each user gets them in order.
 */
export class Subscribers {
  /** Who subscribed, with their receipts sessions (0 for an admin watching). */
  readonly users: UserSessions;
  private readonly stubs = new Map<string, UserStub>();
  private pending: Map<string, string[]> | null = null;

  constructor(
    sql: SqlStorage,
    private readonly env: Env,
    private readonly conversationId: () => string,
  ) {
    this.users = new UserSessions(sql, "subscribers");
  }

  /** A serialised frame for every subscriber (but `exceptUserId`), sent at the end of this turn. */
  relay(frame: string, exceptUserId?: string): void {
    if (this.users.size === 0) return;
    const text = withConversationId(frame, this.conversationId());
    if (!this.pending) {
      this.pending = new Map();
      queueMicrotask(() => this.flush());
    }
    for (const userId of this.users.ids()) {
      if (userId === exceptUserId) continue;
      const frames = this.pending.get(userId);
      if (frames) frames.push(text);
      else this.pending.set(userId, [text]);
    }
  }

  /** Tells a user's object that their subscription ended (they were removed). */
  ended(userId: string, reason: UnsubscribeReason): void {
    this.stubOf(userId)
      .subscriptionEnded(this.conversationId(), reason)
      .catch((err: unknown) => console.error("subscription end notice failed", err));
  }

  private flush(): void {
    const pending = this.pending;
    this.pending = null;
    if (!pending) return;
    for (const [userId, frames] of pending) {
      this.stubOf(userId)
        .deliver(this.conversationId(), frames)
        .catch((err: unknown) => console.error("subscription delivery failed", err));
    }
  }

  private stubOf(userId: string): UserStub {
    let stub = this.stubs.get(userId);
    if (!stub) {
      stub = inboxStub(this.env, userId);
      this.stubs.set(userId, stub);
    }
    return stub;
  }
}
