import type { Bucket, UserBucket } from "../conversation/limiter";

/**
 * The user Durable Object's storage: unread counts per conversation (seeded when the first
 * inbox socket opens, then kept by events from conversations) and how many conversation
 * sockets the user has open in each conversation (reported by the conversation objects), what
 * waits for a grace period (see Timer), and the user's own token buckets (UserBucket).
 */

/**
 * Things that happen only once a grace period passed without the user coming back: announcing
 * them offline, and telling their conversations that no inbox is open any more.
 */
export type Timer = "offline" | "inbox-closed";
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS unread (conversation_id TEXT PRIMARY KEY, count INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS conversation_socket_counts (conversation_id TEXT PRIMARY KEY, count INTEGER NOT NULL, stamp INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, user_id TEXT NOT NULL, at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS buckets (kind TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL);
`;

export class InboxState {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** Replaces every count but those of `keep` (set since by something newer). */
  seedUnread(counts: { id: string; unread_count: number }[], keep: ReadonlySet<string>): void {
    for (const { conversation_id } of this.sql.exec<{ conversation_id: string }>("SELECT conversation_id FROM unread").toArray()) {
      if (!keep.has(conversation_id)) this.sql.exec("DELETE FROM unread WHERE conversation_id = ?", conversation_id);
    }
    for (const c of counts) {
      if (c.unread_count > 0 && !keep.has(c.id)) this.sql.exec("INSERT OR REPLACE INTO unread (conversation_id, count) VALUES (?, ?)", c.id, c.unread_count);
    }
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

  schedule(timer: Timer, userId: string, at: number): void {
    this.sql.exec("INSERT OR REPLACE INTO timers (name, user_id, at) VALUES (?, ?, ?)", timer, userId, at);
  }

  isPending(timer: Timer): boolean {
    return this.sql.exec("SELECT 1 FROM timers WHERE name = ?", timer).toArray().length > 0;
  }

  /** Returns whether the timer was pending (and is now withdrawn). */
  cancel(timer: Timer): boolean {
    return this.sql.exec("DELETE FROM timers WHERE name = ?", timer).rowsWritten > 0;
  }

  /** The user of the timer if it is due by `now`, taking it; otherwise null. */
  takeDue(timer: Timer, now: number): string | null {
    const row = this.sql.exec<{ user_id: string }>("SELECT user_id FROM timers WHERE name = ? AND at <= ?", timer, now).toArray()[0];
    if (row) this.sql.exec("DELETE FROM timers WHERE name = ?", timer);
    return row?.user_id ?? null;
  }

  bucket(kind: UserBucket): Bucket | null {
    const row = this.sql.exec<{ tokens: number; updated_at: number }>("SELECT tokens, updated_at FROM buckets WHERE kind = ?", kind).toArray()[0];
    return row ? { tokens: row.tokens, updatedAt: row.updated_at } : null;
  }

  setBucket(kind: UserBucket, bucket: Bucket): void {
    this.sql.exec("INSERT OR REPLACE INTO buckets (kind, tokens, updated_at) VALUES (?, ?, ?)", kind, bucket.tokens, bucket.updatedAt);
  }

  nextDueAt(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM timers").one().at;
  }
}
