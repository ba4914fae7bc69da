import type { DeliveryStatus, Message, Receipt } from "../schemas/messages";

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
  constructor(private readonly sql: SqlStorage) {}

  openSession(userId: string, lastSeq: number): number {
    return this.sql.exec<{ id: number }>("INSERT INTO sessions (user_id, from_seq) VALUES (?, ?) RETURNING id", userId, lastSeq).one().id;
  }

  /**
   * A socket's session ends at `lastSeq`. A session is only ever read as the seqs it covers,
   * (from_seq, to_seq], so one that covers nothing is dropped, and one that overlaps or touches
   * closed sessions of the same user absorbs them: a user's closed sessions stay disjoint ranges,
   * one per stretch of messages they were online for, however often they reconnect.
   */
  closeSession(id: number, lastSeq: number): void {
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

  /** After a restart, sessions whose sockets are gone stop counting as delivery. */
  closeAllExcept(openIds: Set<number>, lastSeq: number): void {
    for (const { id } of this.sql.exec<{ id: number }>("SELECT id FROM sessions WHERE to_seq IS NULL").toArray()) {
      if (!openIds.has(id)) this.closeSession(id, lastSeq);
    }
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
    return participantIds
      .filter((id) => id !== message.sender_id)
      .map((userId) => {
        const readAt = earliest(this.markAt(userId, "read", message.seq), this.ownLaterMessageAt(userId, message.seq));
        const live = this.sql
          .exec("SELECT 1 FROM sessions WHERE user_id = ? AND from_seq < ? AND (to_seq IS NULL OR to_seq >= ?) LIMIT 1", userId, message.seq, message.seq)
          .toArray().length > 0;
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
    for (const row of this.sql.exec<{ user_id: string; from_seq: number; to_seq: number | null }>("SELECT user_id, from_seq, to_seq FROM sessions")) {
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

  private ownLaterMessageAt(userId: string, seq: number): string | null {
    return this.sql
      .exec<{ at: string | null }>("SELECT min(created_at) AS at FROM messages WHERE sender_id = ? AND seq > ?", userId, seq)
      .one().at;
  }
}

function earliest(...times: (string | null)[]): string | null {
  const present = times.filter((t): t is string => t !== null);
  return present.length ? present.reduce((a, b) => (a < b ? a : b)) : null;
}
