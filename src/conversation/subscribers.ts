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
 * as delivered without a write per message. Frames go to a user in one call at a time (what
 * arrives meanwhile goes in the next), so each user gets them in order.
 */
export class Subscribers {
  /** Who subscribed, with their receipts sessions (0 for an admin watching). */
  readonly users: UserSessions;
  private readonly stubs = new Map<string, UserStub>();
  /** Frames waiting for a user's next call. */
  private readonly waiting = new Map<string, string[]>();
  /** Users with a call under way. */
  private readonly inFlight = new Set<string>();
  private flushScheduled = false;

  constructor(
    sql: SqlStorage,
    private readonly env: Env,
    private readonly conversationId: () => string,
  ) {
    this.users = new UserSessions(sql, "subscribers");
  }

  /**
   * A serialised frame for every subscriber (but `exceptUserId`). Each user has at most one call
   * in flight: frames arriving meanwhile wait and go together in the next one, so a busy
   * conversation costs a call per user per round trip, not per frame, and order is kept.
   */
  relay(frame: string, exceptUserId?: string): void {
    if (this.users.size === 0) return;
    const text = withConversationId(frame, this.conversationId());
    for (const userId of this.users.ids()) {
      if (userId === exceptUserId) continue;
      const frames = this.waiting.get(userId);
      if (frames) frames.push(text);
      else this.waiting.set(userId, [text]);
      if (!this.inFlight.has(userId) && !this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => this.flush());
      }
    }
  }

  /** Tells a user's object that their subscription ended (they were removed). */
  ended(userId: string, reason: UnsubscribeReason): void {
    this.stubOf(userId)
      .subscriptionEnded(this.conversationId(), reason)
      .catch((err: unknown) => console.error("subscription end notice failed", err));
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const userId of [...this.waiting.keys()]) if (!this.inFlight.has(userId)) this.deliverTo(userId);
  }

  private deliverTo(userId: string): void {
    const frames = this.waiting.get(userId);
    if (!frames) return;
    this.waiting.delete(userId);
    this.inFlight.add(userId);
    this.stubOf(userId)
      .deliver(this.conversationId(), frames)
      .catch((err: unknown) => console.error("subscription delivery failed", err))
      .finally(() => {
        this.inFlight.delete(userId);
        if (this.users.has(userId)) this.deliverTo(userId);
        else this.waiting.delete(userId);
      });
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
