import type { Env } from "../env";
import { jittered } from "../lib/jitter";
import { inboxStub } from "../user/inbox";

/**
 * A user's message limit across all of their conversations, without a round trip on the send
 * path. Each conversation spends from its own per-user bucket (limiter.ts) and reports what was
 * spent to the user's object, batched and never awaited. That object keeps the user's bucket for
 * all of their conversations; once the user is over it, it answers the report — and tells the
 * other conversations where the user sent within the last minute — that the user is throttled
 * until a time T, which sends here check in memory.
 *
 * What is sent while a report is on its way is not counted yet: the overshoot is bounded by the
 * report's latency (a few milliseconds within a colo), and it is paid back, since the user's
 * bucket goes into debt and the throttle lasts until the debt is waited off.
 */
/**
 * About how long a spend waits to be reported when its user is far from the limit (jittered).
 * Longer windows do not loosen the limit — the overshoot is bounded by the count that forces a
 * report — they only make the user's object learn small counts later; each report is a call and
 * a write in the user's object.
 */
const REPORT_WINDOW_MS = 30_000;

export class UserThrottle {
  /** Spends not reported yet, per user. */
  private readonly unreported = new Map<string, number>();
  /** Users throttled until (ms), as their objects said. */
  private readonly until = new Map<string, number>();
  private running: Promise<void> | null = null;

  /** Set when a round ended with more to report: the alarm sends it (like InboxNotifier). */
  followUpAt: number | null = null;

  constructor(
    private readonly env: Env,
    private readonly conversationId: () => string,
    private readonly perMinute: () => number,
    private readonly onFollowUp: () => void,
  ) {}

  /** How long the user must still wait (ms), or 0. */
  throttledFor(userId: string, now: number): number {
    const until = this.until.get(userId);
    if (until === undefined) return 0;
    if (until > now) return until - now;
    this.until.delete(userId);
    return 0;
  }

  /** The user's object says the user is over their limit until `until` (ms). */
  throttle(userId: string, until: number): void {
    if (until > (this.until.get(userId) ?? 0)) this.until.set(userId, until);
  }

  /**
   * A message token was spent here: tell the user's object, soon. A user who may be near their
   * limit (a twentieth of it spent here unreported) is reported at once, bounding the
   * overshoot; anyone else within REPORT_WINDOW_MS, in one call for all their sends meanwhile,
   * so an ordinary conversation does not pay a call per message.
   */
  spent(userId: string): void {
    const unreported = (this.unreported.get(userId) ?? 0) + 1;
    this.unreported.set(userId, unreported);
    if (unreported >= Math.max(1, Math.floor(this.perMinute() / 20))) return this.flush();
    if (this.followUpAt === null) {
      this.followUpAt = Date.now() + jittered(REPORT_WINDOW_MS);
      this.onFollowUp();
    }
  }

  /** Starts a round unless one is in flight (what is spent meanwhile goes in the next). */
  flush(): void {
    this.followUpAt = null;
    if (this.unreported.size === 0) return;
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
  }

  private async round(): Promise<void> {
    const batch = [...this.unreported];
    this.unreported.clear();
    const conversationId = this.conversationId();
    const perMinute = this.perMinute();
    const answers = await Promise.allSettled(batch.map(([userId, count]) => inboxStub(this.env, userId).messagesSpent(userId, conversationId, count, perMinute)));
    answers.forEach((answer, i) => {
      if (answer.status === "rejected") console.error("message spend report failed", answer.reason);
      else if (answer.value !== null) this.throttle(batch[i]![0], answer.value);
    });
    if (this.unreported.size > 0) {
      this.followUpAt = Date.now();
      this.onFollowUp();
    }
  }
}
