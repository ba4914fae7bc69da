/**
 * Users of a conversation who are reached through their user object rather than a socket here
 * (an open inbox, a subscribed inbox socket), each with the receipts session that counts what
 * reaches them as delivered. Stored, so it survives eviction; kept in memory per instance.
 */
export class UserSessions {
  /** userId → receipts session (0: none — an admin watching, or a row from before sessions were kept). */
  private readonly sessions: Map<string, number>;

  constructor(
    private readonly sql: SqlStorage,
    private readonly table: "inbox_watchers" | "subscribers",
  ) {
    this.sessions = new Map(sql.exec<{ user_id: string; session: number }>(`SELECT user_id, session FROM ${table}`).toArray().map((r) => [r.user_id, r.session]));
  }

  has(userId: string): boolean {
    return this.sessions.has(userId);
  }

  ids(): IterableIterator<string> {
    return this.sessions.keys();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Receipts sessions that stay open while these last (a restart keeps them). */
  openSessions(): number[] {
    return [...this.sessions.values()].filter((s) => s !== 0);
  }

  /** Inside a transaction: `session` is the receipts session opened for it. */
  add(userId: string, session: number): void {
    this.sql.exec(`INSERT OR REPLACE INTO ${this.table} (user_id, session) VALUES (?, ?)`, userId, session);
    this.sessions.set(userId, session);
  }

  /** Inside a transaction; returns the user's receipts session, or null when they were not here. */
  remove(userId: string): number | null {
    const session = this.sessions.get(userId);
    if (session === undefined) return null;
    this.sql.exec(`DELETE FROM ${this.table} WHERE user_id = ?`, userId);
    this.sessions.delete(userId);
    return session;
  }
}
