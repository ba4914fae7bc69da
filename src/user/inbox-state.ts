/**
 * The user Durable Object's storage: unread counts per conversation (seeded from D1 when the
 * first inbox socket opens, then kept by events from conversations) and how many conversation
 * sockets the user has open in each conversation (reported by the conversation objects), and
 * a going-offline that waits for its grace period.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS unread (conversation_id TEXT PRIMARY KEY, count INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS conversation_socket_counts (conversation_id TEXT PRIMARY KEY, count INTEGER NOT NULL, stamp INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS pending_offline (user_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
`;

export class InboxState {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  seedUnread(counts: { id: string; unread_count: number }[]): void {
    this.sql.exec("DELETE FROM unread");
    for (const c of counts) if (c.unread_count > 0) this.sql.exec("INSERT INTO unread (conversation_id, count) VALUES (?, ?)", c.id, c.unread_count);
  }

  /** Returns true when the stored count changed. */
  setUnread(conversationId: string, count: number): boolean {
    const before = this.unreadOf(conversationId);
    if (before === count) return false;
    if (count > 0) this.sql.exec("INSERT OR REPLACE INTO unread (conversation_id, count) VALUES (?, ?)", conversationId, count);
    else this.sql.exec("DELETE FROM unread WHERE conversation_id = ?", conversationId);
    return true;
  }

  unreadOf(conversationId: string): number {
    return this.sql.exec<{ count: number }>("SELECT count FROM unread WHERE conversation_id = ?", conversationId).toArray()[0]?.count ?? 0;
  }

  totalUnread(): number {
    return this.sql.exec<{ total: number | null }>("SELECT sum(count) AS total FROM unread").one().total ?? 0;
  }

  unreadList(): { id: string; unread_count: number }[] {
    return this.sql
      .exec<{ conversation_id: string; count: number }>("SELECT conversation_id, count FROM unread ORDER BY conversation_id")
      .toArray()
      .map((r) => ({ id: r.conversation_id, unread_count: r.count }));
  }

  /** A conversation's count of this user's sockets there, unless a newer report (a larger stamp) already arrived. */
  setConversationSockets(conversationId: string, count: number, stamp: number): void {
    this.sql.exec(
      `INSERT INTO conversation_socket_counts (conversation_id, count, stamp) VALUES (?, ?, ?)
       ON CONFLICT(conversation_id) DO UPDATE SET count = excluded.count, stamp = excluded.stamp WHERE excluded.stamp > stamp`,
      conversationId,
      count,
      stamp,
    );
  }

  conversationSocketCount(): number {
    return this.sql.exec<{ total: number | null }>("SELECT sum(count) AS total FROM conversation_socket_counts").one().total ?? 0;
  }

  scheduleOffline(userId: string, at: number): void {
    this.sql.exec("INSERT OR REPLACE INTO pending_offline (user_id, at) VALUES (?, ?)", userId, at);
  }

  /** Returns whether an offline was pending (and is now withdrawn). */
  cancelOffline(): boolean {
    return this.sql.exec("DELETE FROM pending_offline").rowsWritten > 0;
  }

  offlineDueAt(): number | null {
    return this.sql.exec<{ at: number }>("SELECT at FROM pending_offline").toArray()[0]?.at ?? null;
  }

  /** The user whose pending offline is due by `now`, taken; or null. */
  takeDueOffline(now: number): string | null {
    const row = this.sql.exec<{ user_id: string }>("SELECT user_id FROM pending_offline WHERE at <= ?", now).toArray()[0];
    if (row) this.sql.exec("DELETE FROM pending_offline");
    return row?.user_id ?? null;
  }
}
