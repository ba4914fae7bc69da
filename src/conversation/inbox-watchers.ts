/**
 * Participants whose inbox socket is open, as their user objects report it: the only ones a
 * new message is worth an inbox notification to (the others learn their unread counts from D1
 * when they next open an inbox). Stored, so it survives eviction; kept in memory per instance.
 * Each watcher has a receipts session: a notification that reaches an inbox counts as delivered.
 */
export class InboxWatchers {
  /** userId → receipts session (0: none, for watchers recorded before sessions were kept). */
  private readonly watching: Map<string, number>;

  constructor(private readonly sql: SqlStorage) {
    this.watching = new Map(sql.exec<{ user_id: string; session: number }>("SELECT user_id, session FROM inbox_watchers").toArray().map((r) => [r.user_id, r.session]));
  }

  has(userId: string): boolean {
    return this.watching.has(userId);
  }

  /** Inside a transaction: `session` is the receipts session opened for the inbox. */
  add(userId: string, session: number): void {
    this.sql.exec("INSERT OR REPLACE INTO inbox_watchers (user_id, session) VALUES (?, ?)", userId, session);
    this.watching.set(userId, session);
  }

  /** Inside a transaction; returns the watcher's receipts session, or null when they were not watching. */
  remove(userId: string): number | null {
    const session = this.watching.get(userId);
    if (session === undefined) return null;
    this.sql.exec("DELETE FROM inbox_watchers WHERE user_id = ?", userId);
    this.watching.delete(userId);
    return session;
  }

  ids(): IterableIterator<string> {
    return this.watching.keys();
  }

  openSessions(): number[] {
    return [...this.watching.values()].filter((s) => s !== 0);
  }
}
