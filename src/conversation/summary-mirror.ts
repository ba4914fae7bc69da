import { and, eq, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { database } from "../db/client";
import { conversations, participants } from "../db/schema";
import type { Members } from "./members";
import type { MessageLog } from "./message-log";
import type { StateStore } from "./storage";

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/**
 * Keeps D1's conversation summary (last message, last activity, per-sender seqs) and explicit
 * read cursors in step with the Durable Object, off the send path.
 *
 * Correctness: what D1 has been told is itself stored here (`mirrored_seq`, and
 * `mirrored_read_seq` per member), in the same storage as the log. A flush sends the whole
 * current summary, not a delta, guarded by `last_seq <= ?`, so it is idempotent, a later
 * flush heals an earlier failed one, and concurrent sends coalesce into one write. When a
 * flush fails an alarm retries it with backoff; a Durable Object that wakes with unmirrored
 * state flushes again.
 */
export class SummaryMirror {
  private running: Promise<void> | null = null;
  private failures = 0;
  private mirroredSeq: number;
  retryAt: number | null = null;

  constructor(
    private readonly d1: D1Database,
    private readonly state: StateStore,
    private readonly log: MessageLog,
    private readonly members: Members,
    private readonly conversationId: () => string | null,
    private readonly onRetryScheduled: () => void,
  ) {
    this.mirroredSeq = Number(state.get("mirrored_seq") ?? 0);
  }

  get pending(): boolean {
    return this.mirroredSeq < this.log.lastSeq || this.members.unmirroredReads().length > 0;
  }

  /** Starts a flush unless one is running; the running one picks up whatever is new when it finishes. */
  kick(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      try {
        if (!(await this.flushOnce())) return;
        this.failures = 0;
        this.retryAt = null;
      } catch (err) {
        this.failures++;
        this.retryAt = Date.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
        console.error("conversation summary write to D1 failed; will retry", err);
        this.onRetryScheduled();
        return;
      }
    }
  }

  /** Returns false when there is nothing it can write yet (no conversation id known). */
  private async flushOnce(): Promise<boolean> {
    const id = this.conversationId();
    if (!id) return false;
    const db = database(this.d1);
    const last = this.log.latest();
    const lastSeq = this.log.lastSeq;
    const reads = this.members.unmirroredReads();
    const statements: BatchItem<"sqlite">[] = [];
    if (last) {
      statements.push(
        db
          .update(conversations)
          .set({
            lastSeq,
            lastMessage: last,
            lastMessageAt: last.created_at,
            lastActivityAt: last.created_at,
            senderSeqs: this.members.senderSeqs(),
          })
          .where(and(eq(conversations.id, id), lte(conversations.lastSeq, lastSeq))),
      );
    }
    for (const read of reads) {
      statements.push(
        db
          .update(participants)
          .set({ lastReadSeq: sql`max(${participants.lastReadSeq}, ${read.readSeq})` })
          .where(and(eq(participants.conversationId, id), eq(participants.userId, read.userId))),
      );
    }
    if (statements.length > 0) await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    this.state.set("mirrored_seq", String(lastSeq));
    this.mirroredSeq = lastSeq;
    for (const read of reads) this.members.markMirrored(read.userId, read.readSeq);
    return true;
  }
}
