import { and, eq } from "drizzle-orm";
import { inList } from "../db/in-list";
import type { BatchItem } from "drizzle-orm/batch";
import { database, type Db } from "../db/client";
import { encodeMirror, summaryStatements, type SummaryUpdate } from "../mirror/summary";
import { attachments, conversations, participants } from "../db/schema";
import { nextStamp, nowIso } from "../lib/ids";
import type { AttachmentRegistry } from "./attachment-registry";
import type { CostMeter } from "./cost-meter";
import type { Members } from "./members";
import type { Membership, UnmirroredParticipant } from "./membership";
import type { MessageLog } from "./message-log";
import type { StateStore } from "./storage";

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/**
 * A busy conversation sends its summary through the queue at most this often: one update per
 * interval instead of one per message (each is a call, a write and a delivery of the queue's),
 * at the price of up to this much on how soon a list shows a message. What waits is sent by the
 * next send after the interval, or by the alarm at its end.
 */
const QUEUE_INTERVAL_MS = 100;
/**
 * Busy: more than this many kicks within this interval or the one before. A quiet conversation
 * sends at once, as an alarm to send later would cost more than the send it saves.
 */
const BUSY_KICKS = 2;

/** Participant changes sent to D1 per round; more continue in the next round. */
const PARTICIPANTS_PER_ROUND = 50;
/**
 * A queue message holds at most 128 KB, and text is queued at up to 2 bytes a character (a
 * string with any character beyond Latin-1 is stored as UTF-16); a longer summary (a group with
 * very many senders) is written directly.
 */
const MAX_QUEUED_CHARS = 50 * 1024;

type Transport = "queue" | "direct";

/**
 * Keeps D1's conversation summary (last message, last activity, per-sender seqs), explicit
 * read cursors, participant rows and status in step with the Durable Object, off the send path.
 *
 * The summary and read cursors go through the mirror queue (many conversations per D1 request,
 * see src/mirror), or directly when an answer waits for them (`settle`); membership, status and
 * withdrawn attachments always directly: they are rare.
 *
 * Correctness: what D1 has been told is itself stored here (`mirrored_seq`, and
 * `mirrored_read_seq` per member), in the same storage as the log. A flush sends the whole
 * current summary, not a delta, stamped so D1 keeps only the newest, so it is idempotent, a
 * later flush heals an earlier failed one, and concurrent sends coalesce into one write. When a
 * flush fails an alarm retries it with backoff; a Durable Object that wakes with unmirrored
 * state flushes again. Participant rows and status are written as they are now, not as they
 * were when they changed, and one flush runs at a time, so D1 can never be left with an older
 * membership than the object's.
 */
export class SummaryMirror {
  private running: Promise<void> | null = null;
  private lastStamp = 0;
  /** Read cursors sent through the queue since the last direct round (D1 may not have them yet). */
  private readonly queuedReads = new Map<string, number>();
  private queuedSinceDirect = false;
  private failures = 0;
  /** When the last round through the queue started (ms). */
  private queuedAt = 0;
  /** Kicks since `windowStart` (ms) and in the interval before, to tell a busy conversation from a quiet one. */
  private kicks = 0;
  private kicksBefore = 0;
  private windowStart = 0;
  private mirroredSeq: number;
  /** Set when an edit or delete changed the message the summary shows. */
  private dirty: boolean;
  /** Bumped by every markDirty, so a flush only clears what it actually wrote. */
  private dirtyGeneration = 0;
  retryAt: number | null = null;

  constructor(
    private readonly d1: D1Database,
    private readonly queue: Queue<string>,
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
      this.members.hasUnmirroredReads ||
      this.membership.hasUnmirrored() ||
      this.attachmentRegistry.hasUnmirroredWithdrawals()
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

  /**
   * After messages and reads: starts a round through the mirror queue unless one is running (the
   * running one's successor picks up whatever is new), or — in a busy conversation, within
   * QUEUE_INTERVAL_MS of the last round — leaves it to the alarm at the interval's end or to a
   * later send. D1 sees it within the queue's batch window.
   */
  kick(): Promise<void> {
    const now = Date.now();
    if (now - this.windowStart >= QUEUE_INTERVAL_MS) {
      this.kicksBefore = now - this.windowStart < 2 * QUEUE_INTERVAL_MS ? this.kicks : 0;
      this.windowStart = now;
      this.kicks = 0;
    }
    this.kicks++;
    const busy = Math.max(this.kicks, this.kicksBefore) > BUSY_KICKS;
    const due = this.queuedAt + QUEUE_INTERVAL_MS;
    if (busy && due > now && this.failures === 0) {
      if (this.retryAt === null || this.retryAt > due) {
        this.retryAt = due;
        this.requestAlarm();
      }
      return Promise.resolve();
    }
    return this.round("queue");
  }

  /** Until D1 itself has everything written so far (for an answer a list may be read right after). */
  async settle(): Promise<void> {
    await this.round("direct");
    if (this.pending) await this.round("direct");
  }

  private round(via: Transport): Promise<void> {
    // A direct round waits for a queued one in flight, then runs itself.
    if (this.running && via === "direct") return this.running.then(() => this.round(via));
    this.running ??= this.drain(via).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * One round. What arrives meanwhile goes in the next round, started from a new event (the
   * next send, or an alarm set for now): a promise chain that looped for as long as traffic
   * lasted got the object's execution context cancelled under sustained load.
   */
  private async drain(via: Transport): Promise<void> {
    if (!this.pending && !(via === "direct" && this.queuedSinceDirect)) return;
    try {
      if (!(await this.flushOnce(via))) return;
      this.failures = 0;
      this.retryAt = this.pending ? this.queuedAt + QUEUE_INTERVAL_MS : null;
    } catch (err) {
      this.failures++;
      this.retryAt = Date.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
      console.error("conversation mirror write failed; will retry", err);
    }
    if (this.retryAt !== null) this.requestAlarm();
  }

  /** Returns false when there is nothing it can write yet (no conversation id known). */
  private async flushOnce(via: Transport): Promise<boolean> {
    const id = this.conversationId();
    if (!id) return false;
    const db = database(this.d1);
    const lastSeq = this.log.lastSeq;
    // Each part is asked of storage only when it says something waits: a round runs after every message.
    const reads = this.members.hasUnmirroredReads ? this.members.unmirroredReads() : [];
    // A direct round is for an answer that needs D1 to hold everything now: what is still on its
    // way through the queue (the summary, reads sent there) is written directly as well.
    const direct = via === "direct" || undefined;
    const readsToWrite = direct ? mergeReads(reads, this.queuedReads) : reads;
    const withdrawn = this.attachmentRegistry.hasUnmirroredWithdrawals() ? this.attachmentRegistry.unmirroredWithdrawals() : [];
    const generation = this.dirtyGeneration;
    const membershipChanges = this.membership.hasUnmirrored() ? this.membership.unmirrored(PARTICIPANTS_PER_ROUND) : [];
    const statusVersion = this.membership.statusToMirror();
    const summaryDue = direct || this.dirty || this.mirroredSeq < lastSeq;
    const update: SummaryUpdate = {
      conversation_id: id,
      stamp: this.nextStamp(),
      last_seq: lastSeq,
      last_message: summaryDue ? this.log.latest() : null,
      sender_seqs: summaryDue ? this.members.senderSeqs() : {},
      reads: readsToWrite.map((r) => ({ user_id: r.userId, read_seq: r.readSeq })),
    };
    const statements = this.directStatements(db, id, membershipChanges, statusVersion, withdrawn);
    const queued = via === "queue" && statements.length === 0 ? encodeMirror({ kind: "summary", update }) : null;
    if (queued !== null && queued.length <= MAX_QUEUED_CHARS) {
      this.queuedAt = Date.now();
      await this.queue.send(queued);
      this.meter.queueSends++;
      for (const read of reads) this.queuedReads.set(read.userId, Math.max(this.queuedReads.get(read.userId) ?? 0, read.readSeq));
      this.queuedSinceDirect = true;
    } else {
      statements.push(...summaryStatements(db, [update]));
      if (statements.length > 0) {
        const results = await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
        this.meter.d1Flushes++;
        this.meter.d1Statements += statements.length;
        for (const result of results) this.meter.d1RowsWritten += (result as Partial<D1Result>).meta?.rows_written ?? 0;
      }
      if (direct) {
        this.queuedReads.clear();
        this.queuedSinceDirect = false;
      }
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

  /** Membership, status and withdrawn attachments: rare, and written to D1 directly. */
  private directStatements(
    db: Db,
    id: string,
    membershipChanges: UnmirroredParticipant[],
    statusVersion: number | null,
    withdrawn: string[],
  ): BatchItem<"sqlite">[] {
    const statements: BatchItem<"sqlite">[] = [];
    for (const change of membershipChanges) {
      statements.push(
        change.active
          ? db
              .insert(participants)
              .values({ conversationId: id, userId: change.userId, role: change.role, joinedAt: change.joinedAt })
              .onConflictDoUpdate({ target: [participants.conversationId, participants.userId], set: { role: change.role } })
          : db.delete(participants).where(and(eq(participants.conversationId, id), eq(participants.userId, change.userId))),
      );
    }
    if (membershipChanges.length > 0) {
      statements.push(db.update(conversations).set({ participantCount: this.membership.count }).where(eq(conversations.id, id)));
    }
    if (statusVersion !== null) {
      statements.push(db.update(conversations).set({ status: this.membership.current!.status, updatedAt: nowIso() }).where(eq(conversations.id, id)));
    }
    if (withdrawn.length > 0) {
      statements.push(db.update(attachments).set({ deletedAt: nowIso() }).where(inList(attachments.id, withdrawn)));
    }
    return statements;
  }

  /** Microseconds since the epoch, strictly growing within an instance and, by the clock, across evictions. */
  private nextStamp(): number {
    this.lastStamp = nextStamp(this.lastStamp);
    return this.lastStamp;
  }
}

function mergeReads(unmirrored: { userId: string; readSeq: number }[], queued: Map<string, number>): { userId: string; readSeq: number }[] {
  const merged = new Map(queued);
  for (const read of unmirrored) merged.set(read.userId, Math.max(merged.get(read.userId) ?? 0, read.readSeq));
  return [...merged].map(([userId, readSeq]) => ({ userId, readSeq }));
}
