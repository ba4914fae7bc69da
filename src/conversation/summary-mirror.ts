import { and, eq, lte, sql } from "drizzle-orm";
import { inList } from "../db/in-list";
import type { BatchItem } from "drizzle-orm/batch";
import { database } from "../db/client";
import { attachments, conversations, participants } from "../db/schema";
import { nowIso } from "../lib/ids";
import type { AttachmentRegistry } from "./attachment-registry";
import type { CostMeter } from "./cost-meter";
import type { Members } from "./members";
import type { Membership } from "./membership";
import type { MessageLog } from "./message-log";
import type { StateStore } from "./storage";

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/** Participant changes sent to D1 per round; more continue in the next round. */
const PARTICIPANTS_PER_ROUND = 50;

/**
 * Keeps D1's conversation summary (last message, last activity, per-sender seqs), explicit
 * read cursors, participant rows and status in step with the Durable Object, off the send path.
 *
 * Correctness: what D1 has been told is itself stored here (`mirrored_seq`, and
 * `mirrored_read_seq` per member), in the same storage as the log. A flush sends the whole
 * current summary, not a delta, guarded by `last_seq <= ?`, so it is idempotent, a later
 * flush heals an earlier failed one, and concurrent sends coalesce into one write. When a
 * flush fails an alarm retries it with backoff; a Durable Object that wakes with unmirrored
 * state flushes again. Participant rows and status are written as they are now, not as they
 * were when they changed, and one flush runs at a time, so D1 can never be left with an older
 * membership than the object's.
 */
export class SummaryMirror {
  private running: Promise<void> | null = null;
  private failures = 0;
  private mirroredSeq: number;
  /** Set when an edit or delete changed the message the summary shows. */
  private dirty: boolean;
  /** Bumped by every markDirty, so a flush only clears what it actually wrote. */
  private dirtyGeneration = 0;
  retryAt: number | null = null;

  constructor(
    private readonly d1: D1Database,
    private readonly state: StateStore,
    private readonly log: MessageLog,
    private readonly members: Members,
    private readonly membership: Membership,
    private readonly attachmentRegistry: AttachmentRegistry,
    private readonly conversationId: () => string | null,
    private readonly requestAlarm: () => void,
    private readonly meter: CostMeter,
  ) {
    this.mirroredSeq = Number(state.get("mirrored_seq") ?? 0);
    this.dirty = state.get("summary_dirty") === "1";
  }

  get pending(): boolean {
    return (
      this.dirty ||
      this.mirroredSeq < this.log.lastSeq ||
      this.members.unmirroredReads().length > 0 ||
      this.membership.hasUnmirrored() ||
      this.attachmentRegistry.unmirroredWithdrawals().length > 0
    );
  }

  /** Part of the write-behind save: what D1 has been told of the log. */
  saveMirrored(): void {
    if (Number(this.state.get("mirrored_seq") ?? 0) !== this.mirroredSeq) this.state.set("mirrored_seq", String(this.mirroredSeq));
  }

  /** The latest message changed in place (edit, delete, offer status): D1's copy must follow. */
  markDirty(): void {
    this.dirtyGeneration++;
    if (this.dirty) return;
    this.dirty = true;
    this.state.set("summary_dirty", "1");
  }

  /** Starts a flush unless one is running; the running one picks up whatever is new when it finishes. */
  kick(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Until D1 has everything written so far (a round already in flight may predate it). */
  async settle(): Promise<void> {
    await this.kick();
    if (this.pending) await this.kick();
  }

  /**
   * One round. What arrives meanwhile goes in the next round, started from a new event (the
   * next send, or an alarm set for now): a promise chain that looped for as long as traffic
   * lasted got the object's execution context cancelled under sustained load.
   */
  private async drain(): Promise<void> {
    if (!this.pending) return;
    try {
      if (!(await this.flushOnce())) return;
      this.failures = 0;
      this.retryAt = this.pending ? Date.now() : null;
    } catch (err) {
      this.failures++;
      this.retryAt = Date.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
      console.error("conversation summary write to D1 failed; will retry", err);
    }
    if (this.retryAt !== null) this.requestAlarm();
  }

  /** Returns false when there is nothing it can write yet (no conversation id known). */
  private async flushOnce(): Promise<boolean> {
    const id = this.conversationId();
    if (!id) return false;
    const db = database(this.d1);
    const last = this.log.latest();
    const lastSeq = this.log.lastSeq;
    const reads = this.members.unmirroredReads();
    const withdrawn = this.attachmentRegistry.unmirroredWithdrawals();
    const generation = this.dirtyGeneration;
    const membershipChanges = this.membership.unmirrored(PARTICIPANTS_PER_ROUND);
    const statusVersion = this.membership.statusToMirror();
    const statements: BatchItem<"sqlite">[] = [];
    for (const change of membershipChanges) {
      const where = and(eq(participants.conversationId, id), eq(participants.userId, change.userId));
      statements.push(
        change.active
          ? db
              .insert(participants)
              .values({ conversationId: id, userId: change.userId, role: change.role, joinedAt: change.joinedAt })
              .onConflictDoUpdate({ target: [participants.conversationId, participants.userId], set: { role: change.role } })
          : db.delete(participants).where(where),
      );
    }
    if (membershipChanges.length > 0) {
      statements.push(db.update(conversations).set({ participantCount: this.membership.count }).where(eq(conversations.id, id)));
    }
    if (statusVersion !== null) {
      statements.push(db.update(conversations).set({ status: this.membership.current!.status, updatedAt: nowIso() }).where(eq(conversations.id, id)));
    }
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
    if (withdrawn.length > 0) {
      statements.push(db.update(attachments).set({ deletedAt: nowIso() }).where(inList(attachments.id, withdrawn)));
    }
    if (statements.length > 0) {
      const results = await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
      this.meter.d1Flushes++;
      this.meter.d1Statements += statements.length;
      for (const result of results) this.meter.d1RowsWritten += (result as Partial<D1Result>).meta?.rows_written ?? 0;
    }
    // Saved behind (see saveMirrored): a stale value after an eviction only repeats one idempotent write.
    this.mirroredSeq = lastSeq;
    for (const read of reads) this.members.markMirrored(read.userId, read.readSeq);
    this.attachmentRegistry.markMirrored(withdrawn);
    this.membership.markMirrored(membershipChanges, statusVersion);
    // An edit that landed while this flush was in flight keeps the flag for the next round.
    if (this.dirty && generation === this.dirtyGeneration) {
      this.dirty = false;
      this.state.set("summary_dirty", "0");
    }
    return true;
  }
}
