/**
 * Participants whose inbox socket is open, as their user objects report it: the only ones a
 * new message is worth an inbox notification to (the others learn their unread counts from D1
 * when they next open an inbox). Stored, so it survives eviction; kept in memory per instance.
 */
export class InboxWatchers {
  private readonly watching: Set<string>;

  constructor(private readonly sql: SqlStorage) {
    this.watching = new Set(sql.exec<{ user_id: string }>("SELECT user_id FROM inbox_watchers").toArray().map((r) => r.user_id));
  }

  set(userId: string, open: boolean): void {
    if (open === this.watching.has(userId)) return;
    if (open) {
      this.sql.exec("INSERT OR IGNORE INTO inbox_watchers (user_id) VALUES (?)", userId);
      this.watching.add(userId);
    } else {
      this.sql.exec("DELETE FROM inbox_watchers WHERE user_id = ?", userId);
      this.watching.delete(userId);
    }
  }

  ids(): ReadonlySet<string> {
    return this.watching;
  }
}
