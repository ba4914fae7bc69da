import type { DeliveryStatus, Message, Receipt } from "../schemas/messages";

/** How long a socket's session may stay in memory only: a burst of connects is written in one commit. */
export const SESSION_WRITE_DELAY_MS = 1_000;

/**
 * Delivered and read horizons per participant, with the times they passed each message.
 *
 * Delivery is derived rather than written per message: a socket session records the seq it
 * opened at and the seq it closed at, so every message appended while it was open reached it
 * (at the message's own time). Sync and history fetches add explicit delivered marks. Reads
 * are marks written when an explicit read cursor moves, plus the implicit read of everything
 * before a user's own message. Unread counts use the same read cursor, so they cannot drift.
 */
export class Receipts {
  /**
   * Socket sessions not written yet (writeOpened), by id. A connect writes nothing: the session
   * is kept here and written within SESSION_WRITE_DELAY_MS, together with every other opened
   * meanwhile. Reads count these as open sessions. If the object restarts before the write, a
   * socket still open resumes its session at the seq it finds (restore); only the delivery of
   * messages appended in the last moments before a crash can be missed.
   */
  private readonly opened = new Map<number, { userId: string; fromSeq: number }>();
  /** When the sessions in `opened` are due to be written; null when there are none. */
  writeAt: number | null = null;
  /** The next session id: ids are never reused (a late close of a gone socket must not close a newer session). */
  private nextId: number | null = null;

  constructor(private readonly sql: SqlStorage) {}

  /** A session written at once (a subscription, an open inbox: rare, and kept in tables that name it). */
  openSession(userId: string, lastSeq: number): number {
    const id = this.allocate();
    this.write(id, userId, lastSeq);
    return id;
  }

  /** A socket's session: kept in memory until writeOpened (see `opened`). */
  openSocketSession(userId: string, lastSeq: number): number {
    const id = this.allocate();
    this.keepUnwritten(id, userId, lastSeq);
    return id;
  }

  /** Writes the sessions opened since the last write, in one commit. */
  writeOpened(): void {
    for (const [id, { userId, fromSeq }] of this.opened) this.write(id, userId, fromSeq);
    this.opened.clear();
    this.writeAt = null;
  }

  /**
   * After a restart: sessions whose sockets, subscriptions or inboxes are gone stop counting as
   * delivery, and the session of an open socket that was never written starts again at `lastSeq`.
   */
  restore(sockets: { session: number; userId: string }[], otherOpen: Iterable<number>, lastSeq: number): void {
    const written = new Set(this.sql.exec<{ id: number }>("SELECT id FROM sessions WHERE to_seq IS NULL").toArray().map((r) => r.id));
    const keep = new Set(otherOpen);
    for (const { session, userId } of sockets) {
      keep.add(session);
      this.nextId = Math.max(this.peekNextId(), session + 1);
      if (!written.has(session) && !this.opened.has(session)) this.keepUnwritten(session, userId, lastSeq);
    }
    for (const id of written) if (!keep.has(id)) this.closeSession(id, lastSeq);
  }

  private keepUnwritten(id: number, userId: string, fromSeq: number): void {
    this.opened.set(id, { userId, fromSeq });
    this.writeAt ??= Date.now() + SESSION_WRITE_DELAY_MS;
  }

  private write(id: number, userId: string, fromSeq: number): void {
    this.sql.exec("INSERT INTO sessions (id, user_id, from_seq) VALUES (?, ?, ?)", id, userId, fromSeq);
  }

  private allocate(): number {
    this.nextId = this.peekNextId() + 1;
    return this.nextId - 1;
  }

  /** The id the next session takes: one past the highest ever written, unless one in memory went further. */
  private peekNextId(): number {
    return (this.nextId ??= (this.sql.exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'sessions'").toArray()[0]?.seq ?? 0) + 1);
  }

  /**
   * A socket's session ends at `lastSeq`. A session is only ever read as the seqs it covers,
   * (from_seq, to_seq], so one that covers nothing is dropped, and one that overlaps or touches
   * closed sessions of the same user absorbs them: a user's closed sessions stay disjoint ranges,
   * one per stretch of messages they were online for, however often they reconnect.
   */
  closeSession(id: number, lastSeq: number): void {
    const opened = this.opened.get(id);
    if (opened) {
      this.opened.delete(id);
      if (lastSeq <= opened.fromSeq) return; // covered nothing: never written at all
      this.write(id, opened.userId, opened.fromSeq);
    }
    const row = this.sql.exec<{ user_id: string; from_seq: number }>("SELECT user_id, from_seq FROM sessions WHERE id = ? AND to_seq IS NULL", id).toArray()[0];
    if (!row) return;
    if (lastSeq <= row.from_seq) {
      this.sql.exec("DELETE FROM sessions WHERE id = ?", id);
      return;
    }
    let [from, to] = [row.from_seq, lastSeq];
    const touching = this.sql
      .exec<{ id: number; from_seq: number; to_seq: number }>(
        "SELECT id, from_seq, to_seq FROM sessions WHERE user_id = ? AND to_seq IS NOT NULL AND from_seq <= ? AND to_seq >= ?",
        row.user_id,
        to,
        from,
      )
      .toArray();
    for (const other of touching) {
      [from, to] = [Math.min(from, other.from_seq), Math.max(to, other.to_seq)];
      this.sql.exec("DELETE FROM sessions WHERE id = ?", other.id);
    }
    this.sql.exec("UPDATE sessions SET from_seq = ?, to_seq = ? WHERE id = ?", from, to, id);
  }

  deliveredHorizon(userId: string): number {
    return this.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM receipt_marks WHERE user_id = ? AND kind = 'delivered'", userId).one().seq ?? 0;
  }

  /** Records that the user fetched everything up to `seq`; returns true when the horizon moved. */
  markDelivered(userId: string, seq: number, at: string): boolean {
    if (seq <= this.deliveredHorizon(userId)) return false;
    this.sql.exec("INSERT OR IGNORE INTO receipt_marks (user_id, kind, seq, at) VALUES (?, 'delivered', ?, ?)", userId, seq, at);
    return true;
  }

  markRead(userId: string, seq: number, at: string): void {
    this.sql.exec("INSERT OR IGNORE INTO receipt_marks (user_id, kind, seq, at) VALUES (?, 'read', ?, ?)", userId, seq, at);
  }

  /** Receipts of one message for everyone but its sender. */
  forMessage(message: Message, participantIds: string[]): Receipt[] {
    const liveUnwritten = new Set([...this.opened.values()].filter((s) => s.fromSeq < message.seq).map((s) => s.userId));
    const sentLater = this.firstSentAfter(message.seq);
    return participantIds
      .filter((id) => id !== message.sender_id)
      .map((userId) => {
        const readAt = earliest(this.markAt(userId, "read", message.seq), sentLater.get(userId) ?? null);
        const live =
          liveUnwritten.has(userId) ||
          this.sql.exec("SELECT 1 FROM sessions WHERE user_id = ? AND from_seq < ? AND (to_seq IS NULL OR to_seq >= ?) LIMIT 1", userId, message.seq, message.seq).toArray().length > 0;
        const deliveredAt = earliest(live ? message.created_at : null, this.markAt(userId, "delivered", message.seq), readAt);
        const status = readAt ? "read" : deliveredAt ? "delivered" : "sent";
        return { user_id: userId, status, delivered_at: deliveredAt, read_at: readAt };
      });
  }

  /**
   * The status of messages at `seqs` sent by someone whose fellow participants are `others` (with
   * their effective read cursors): read, or delivered, by every one of them. Reads the delivered
   * marks and sessions once for the whole page.
   */
  statusOf(seqs: number[], others: { userId: string; cursor: number }[]): Map<number, DeliveryStatus> {
    const marks = new Map(
      this.sql.exec<{ user_id: string; seq: number }>("SELECT user_id, max(seq) AS seq FROM receipt_marks WHERE kind = 'delivered' GROUP BY user_id").toArray().map((r) => [r.user_id, r.seq]),
    );
    const sessions = new Map<string, { from: number; to: number }[]>();
    const rows = [
      ...this.sql.exec<{ user_id: string; from_seq: number; to_seq: number | null }>("SELECT user_id, from_seq, to_seq FROM sessions"),
      ...[...this.opened.values()].map((s) => ({ user_id: s.userId, from_seq: s.fromSeq, to_seq: null })),
    ];
    for (const row of rows) {
      const ranges = sessions.get(row.user_id) ?? [];
      ranges.push({ from: row.from_seq, to: row.to_seq ?? Infinity });
      sessions.set(row.user_id, ranges);
    }
    const reached = (o: { userId: string; cursor: number }, seq: number) =>
      o.cursor >= seq || (marks.get(o.userId) ?? 0) >= seq || (sessions.get(o.userId) ?? []).some((s) => s.from < seq && s.to >= seq);
    const statuses = new Map<number, DeliveryStatus>();
    for (const seq of seqs) {
      if (others.length === 0) statuses.set(seq, "sent");
      else if (others.every((o) => o.cursor >= seq)) statuses.set(seq, "read");
      else statuses.set(seq, others.every((o) => reached(o, seq)) ? "delivered" : "sent");
    }
    return statuses;
  }

  private markAt(userId: string, kind: "read" | "delivered", seq: number): string | null {
    return this.sql
      .exec<{ at: string | null }>("SELECT min(at) AS at FROM receipt_marks WHERE user_id = ? AND kind = ? AND seq >= ?", userId, kind, seq)
      .one().at;
  }

  /**
   * When each sender first sent after `seq` (sending reads everything before it). One pass over
   * the later messages, in seq order: messages have no index by sender, which every send would
   * write, for this rare question.
   */
  private firstSentAfter(seq: number): Map<string, string> {
    const rows = this.sql.exec<{ sender_id: string; at: string }>(
      "SELECT sender_id, min(created_at) AS at FROM messages WHERE seq > ? AND sender_id IS NOT NULL GROUP BY sender_id",
      seq,
    );
    return new Map([...rows].map((r) => [r.sender_id, r.at]));
  }
}

function earliest(...times: (string | null)[]): string | null {
  const present = times.filter((t): t is string => t !== null);
  return present.length ? present.reduce((a, b) => (a < b ? a : b)) : null;
}
