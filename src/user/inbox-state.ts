/**
 * The user Durable Object's storage: unread counts per conversation (seeded from D1 when the
 * first inbox socket opens, then kept by events from conversations) and how many conversation
 * sockets the user has open in each conversation (reported by the conversation objects).
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS unread (conversation_id TEXT PRIMARY KEY, count INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS conversation_sockets (conversation_id TEXT PRIMARY KEY, count INTEGER NOT NULL);
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

  setConversationSockets(conversationId: string, count: number): void {
    if (count > 0) this.sql.exec("INSERT OR REPLACE INTO conversation_sockets (conversation_id, count) VALUES (?, ?)", conversationId, count);
    else this.sql.exec("DELETE FROM conversation_sockets WHERE conversation_id = ?", conversationId);
  }

  conversationSocketCount(): number {
    return this.sql.exec<{ total: number | null }>("SELECT sum(count) AS total FROM conversation_sockets").one().total ?? 0;
  }
}
