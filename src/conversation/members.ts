import type { ParticipantRole } from "../schemas/conversations";

/**
 * Per-participant cursors. `read_seq` moves only forward, by explicit reads; sending moves
 * `last_sent_seq`, and the effective read cursor is the larger of the two, so every message
 * after it is someone else's and unread = last_seq − cursor. `mirrored_read_seq` is what D1
 * has been told.
 *
 * A send writes no row here: `last_sent_seq` is kept in memory and written behind. It can
 * always be recovered from the log itself, so after an eviction the messages after the last
 * save are read back (`recover`) and nothing is lost.
 */
export class Members {
  private readonly lastSent = new Map<string, number>();
  /** Every sender's latest seq, stored and unsaved together; loaded once, then kept in step (the summary sends it every round). */
  private senderSeqsCache: Map<string, number> | null = null;
  /** Whether an explicit read cursor is ahead of what D1 was told; null when not known (asked of storage). */
  private readsUnmirrored: boolean | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly onChange: () => void,
  ) {}

  /** Senders of the messages after `savedThroughSeq` (what the last save did not cover). */
  recover(savedThroughSeq: number): void {
    const rows = this.sql.exec<{ sender_id: string; seq: number }>(
      "SELECT sender_id, max(seq) AS seq FROM messages WHERE seq > ? AND sender_id IS NOT NULL GROUP BY sender_id",
      savedThroughSeq,
    );
    for (const row of rows) this.lastSent.set(row.sender_id, row.seq);
    if (this.lastSent.size > 0) this.onChange();
  }

  readCursor(userId: string): number {
    const row = this.sql
      .exec<{ cursor: number }>("SELECT max(read_seq, last_sent_seq) AS cursor FROM members WHERE user_id = ?", userId)
      .toArray()[0];
    return Math.max(row?.cursor ?? 0, this.lastSent.get(userId) ?? 0);
  }

  /**
   * The first `limit` active participants (join order) with roles and effective read cursors,
   * in one query: what a conversation's answers list.
   */
  listedCursors(limit: number): { userId: string; role: ParticipantRole; cursor: number }[] {
    return this.sql
      .exec<{ user_id: string; role: ParticipantRole; cursor: number }>(
        `SELECT p.user_id, p.role, max(coalesce(m.read_seq, 0), coalesce(m.last_sent_seq, 0)) AS cursor
         FROM participants p LEFT JOIN members m ON m.user_id = p.user_id
         WHERE p.active = 1 ORDER BY p.joined_at, p.user_id LIMIT ?`,
        limit,
      )
      .toArray()
      .map((r) => ({ userId: r.user_id, role: r.role, cursor: Math.max(r.cursor, this.lastSent.get(r.user_id) ?? 0) }));
  }

  /**
   * The lowest effective read cursor of the active participants but `userId` (null when there is
   * none): what "read by everyone" is measured against in a group too big to list. One aggregate
   * over stored cursors, so a send not saved yet (≤ the write-behind window) may be missing.
   */
  lowestCursorExcept(userId: string): number | null {
    return this.sql
      .exec<{ cursor: number | null }>(
        `SELECT min(max(coalesce(m.read_seq, 0), coalesce(m.last_sent_seq, 0))) AS cursor
         FROM participants p LEFT JOIN members m ON m.user_id = p.user_id WHERE p.active = 1 AND p.user_id != ?`,
        userId,
      )
      .one().cursor;
  }

  recordSent(userId: string, seq: number): void {
    this.lastSent.set(userId, seq);
    this.senderSeqsCache?.set(userId, seq);
    this.onChange();
  }

  get hasUnsaved(): boolean {
    return this.lastSent.size > 0;
  }

  save(): void {
    for (const [userId, seq] of this.lastSent) {
      this.sql.exec(
        `INSERT INTO members (user_id, last_sent_seq) VALUES (?, ?)
         ON CONFLICT(user_id) DO UPDATE SET last_sent_seq = max(last_sent_seq, excluded.last_sent_seq)`,
        userId,
        seq,
      );
    }
    this.lastSent.clear();
  }

  /** Moves the explicit read cursor forward (never back); returns the effective cursor. */
  markRead(userId: string, seq: number): number {
    this.sql.exec(
      `INSERT INTO members (user_id, read_seq) VALUES (?, ?)
       ON CONFLICT(user_id) DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)`,
      userId,
      seq,
    );
    this.readsUnmirrored = true;
    return this.readCursor(userId);
  }

  /** {user_id: seq of their latest message}, as D1's summary keeps it. */
  senderSeqs(): Record<string, number> {
    if (!this.senderSeqsCache) {
      const seqs = new Map<string, number>();
      for (const row of this.sql.exec<{ user_id: string; last_sent_seq: number }>("SELECT user_id, last_sent_seq FROM members WHERE last_sent_seq > 0")) {
        seqs.set(row.user_id, row.last_sent_seq);
      }
      for (const [userId, seq] of this.lastSent) seqs.set(userId, Math.max(seqs.get(userId) ?? 0, seq));
      this.senderSeqsCache = seqs;
    }
    return Object.fromEntries(this.senderSeqsCache);
  }

  /** Whether some explicit read cursor is ahead of what D1 was told (kept in memory: asked every round). */
  get hasUnmirroredReads(): boolean {
    this.readsUnmirrored ??= this.unmirroredReads().length > 0;
    return this.readsUnmirrored;
  }

  /** Explicit read cursors that D1 has not been told yet. */
  unmirroredReads(): { userId: string; readSeq: number }[] {
    return this.sql
      .exec<{ user_id: string; read_seq: number }>("SELECT user_id, read_seq FROM members WHERE read_seq > mirrored_read_seq")
      .toArray()
      .map((row) => ({ userId: row.user_id, readSeq: row.read_seq }));
  }

  markMirrored(userId: string, readSeq: number): void {
    this.sql.exec(
      "UPDATE members SET mirrored_read_seq = max(mirrored_read_seq, ?) WHERE user_id = ?",
      readSeq,
      userId,
    );
    this.readsUnmirrored = null;
  }

  /** A transaction rolled back: what is cached is learned again from storage. */
  forget(): void {
    this.senderSeqsCache = null;
    this.readsUnmirrored = null;
  }
}
