import type { Env } from "../env";
import type { Message } from "../schemas/messages";
import { inboxStub } from "../user/inbox";
import type { ConversationActivity, InboxCount } from "../user/user-do";
import type { CostMeter } from "./cost-meter";

/**
 * Tells participants' user objects about new unread counts and messages, off the send path.
 * Updates for one user coalesce while a round of calls is in flight: the next round carries
 * the latest count and every message queued meanwhile, so a busy conversation makes one call
 * per user per round trip rather than one per message.
 */
export class InboxNotifier {
  private readonly pending = new Map<string, ConversationActivity>();
  /** The last count each user's object was given by this instance: an unchanged count with no message is not sent again. */
  private readonly told = new Map<string, number>();
  private running: Promise<void> | null = null;

  /** Set when a round ended with more queued: the alarm sends it (see drain). */
  followUpAt: number | null = null;

  constructor(
    private readonly env: Env,
    private readonly onFollowUp: () => void,
    private readonly meter: CostMeter,
  ) {}

  queue(userId: string, conversationId: string, { unreadCount, stamp }: InboxCount, message?: Message): void {
    if (!message && !this.pending.has(userId) && this.told.get(userId) === unreadCount) return;
    this.told.set(userId, unreadCount);
    const entry = this.pending.get(userId) ?? { conversationId, unreadCount, stamp, messages: [] };
    entry.unreadCount = unreadCount;
    entry.stamp = stamp;
    if (message) entry.messages.push(message);
    this.pending.set(userId, entry);
    this.flush();
  }

  /** Starts a round unless one is in flight (which leaves what is queued meanwhile to a follow-up). */
  flush(): void {
    this.followUpAt = null;
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
  }

  /**
   * One round of calls. Updates queued while it is in flight wait for the next event (a send or
   * the alarm): one promise chain looping for as long as traffic lasted got the object's
   * execution context cancelled under sustained load.
   */
  private async round(): Promise<void> {
    const batch = [...this.pending];
    this.pending.clear();
    this.meter.inboxCalls += batch.length;
    const results = await Promise.allSettled(batch.map(([userId, activity]) => inboxStub(this.env, userId).conversationActivity(activity)));
    for (const r of results) if (r.status === "rejected") console.error("inbox notification failed", r.reason);
    if (this.pending.size > 0) {
      this.followUpAt = Date.now();
      this.onFollowUp();
    }
  }
}
