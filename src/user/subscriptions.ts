/**
 * Which of the user's inbox sockets subscribed to which conversations (one socket per client).
 * Stored, so subscriptions survive hibernation; a socket is named by the id in its attachment.
 * The conversation object knows only that the user subscribed: it keeps sending until the last
 * subscribed socket of the user goes.
 */
export class InboxSubscriptions {
  /** conversationId → subscribed socket ids, read once per conversation per instance (a delivery asks on every call). */
  private readonly cache = new Map<string, Set<string>>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS subscriptions (socket_id TEXT NOT NULL, conversation_id TEXT NOT NULL, PRIMARY KEY (socket_id, conversation_id));
      CREATE INDEX IF NOT EXISTS subscriptions_by_conversation ON subscriptions(conversation_id, socket_id);
    `);
  }

  add(socketId: string, conversationId: string): void {
    this.sql.exec("INSERT OR IGNORE INTO subscriptions (socket_id, conversation_id) VALUES (?, ?)", socketId, conversationId);
    this.cache.get(conversationId)?.add(socketId);
  }

  /** Returns true when the socket was subscribed. */
  remove(socketId: string, conversationId: string): boolean {
    this.cache.get(conversationId)?.delete(socketId);
    return this.sql.exec("DELETE FROM subscriptions WHERE socket_id = ? AND conversation_id = ? RETURNING 1", socketId, conversationId).toArray().length > 0;
  }

  /** Ends every subscription to a conversation (the user was removed); returns the sockets that had one. */
  removeConversation(conversationId: string): Set<string> {
    this.cache.delete(conversationId);
    return new Set(this.sql.exec<{ socket_id: string }>("DELETE FROM subscriptions WHERE conversation_id = ? RETURNING socket_id", conversationId).toArray().map((r) => r.socket_id));
  }

  /** Drops a gone socket's subscriptions; returns the conversations it had. */
  removeSocket(socketId: string): string[] {
    const ended = this.sql.exec<{ conversation_id: string }>("DELETE FROM subscriptions WHERE socket_id = ? RETURNING conversation_id", socketId).toArray().map((r) => r.conversation_id);
    for (const conversationId of ended) this.cache.get(conversationId)?.delete(socketId);
    return ended;
  }

  /** The sockets subscribed to a conversation (the set itself: do not change it). */
  socketsOf(conversationId: string): ReadonlySet<string> {
    let sockets = this.cache.get(conversationId);
    if (!sockets) {
      sockets = new Set(this.sql.exec<{ socket_id: string }>("SELECT socket_id FROM subscriptions WHERE conversation_id = ?", conversationId).toArray().map((r) => r.socket_id));
      this.cache.set(conversationId, sockets);
    }
    return sockets;
  }

  isSubscribed(conversationId: string): boolean {
    return this.socketsOf(conversationId).size > 0;
  }
}
