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

/** Read or written by every socket's presence report: made when the object starts, and mirrored in memory. */
const PRESENCE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS conversation_socket_counts (conversation_id TEXT PRIMARY KEY, count INTEGER NOT NULL, stamp INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, user_id TEXT NOT NULL, at INTEGER NOT NULL);
`;

/**
 * Made on first use: a user who only opens conversation sockets never needs them, and each
 * table made costs the runtime more than the report that wakes the object.
 */
const LAZY_TABLES = {
  unread: "CREATE TABLE IF NOT EXISTS unread (conversation_id TEXT PRIMARY KEY, count INTEGER NOT NULL)",
  buckets: "CREATE TABLE IF NOT EXISTS buckets (kind TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL)",
};

export class InboxState {
  /** conversation_socket_counts, read once per instance: every report reads the total twice. */
  private readonly socketCounts: Map<string, { count: number; stamp: number }>;
  /** timers, read once per instance: every first socket withdraws the offline timer, which is rarely there. */
  private readonly timers: Map<Timer, { userId: string; at: number }>;
  private readonly made = new Set<keyof typeof LAZY_TABLES>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(PRESENCE_SCHEMA);
    this.socketCounts = new Map(
      sql
        .exec<{ conversation_id: string; count: number; stamp: number }>("SELECT conversation_id, count, stamp FROM conversation_socket_counts")
        .toArray()
        .map((r) => [r.conversation_id, { count: r.count, stamp: r.stamp }]),
    );
    this.timers = new Map(
      sql
        .exec<{ name: Timer; user_id: string; at: number }>("SELECT name, user_id, at FROM timers")
        .toArray()
        .map((r) => [r.name, { userId: r.user_id, at: r.at }]),
    );
  }

  /** The storage, with `table` made if this instance has not yet. */
  private with(table: keyof typeof LAZY_TABLES): SqlStorage {
    if (!this.made.has(table)) {
      this.sql.exec(LAZY_TABLES[table]);
      this.made.add(table);
    }
    return this.sql;
  }

  /** Replaces every count but those of `keep` (set since by something newer). */
  seedUnread(counts: { id: string; unread_count: number }[], keep: ReadonlySet<string>): void {
    for (const { conversation_id } of this.with("unread").exec<{ conversation_id: string }>("SELECT conversation_id FROM unread").toArray()) {
      if (!keep.has(conversation_id)) this.with("unread").exec("DELETE FROM unread WHERE conversation_id = ?", conversation_id);
    }
    for (const c of counts) {
      if (c.unread_count > 0 && !keep.has(c.id)) this.with("unread").exec("INSERT OR REPLACE INTO unread (conversation_id, count) VALUES (?, ?)", c.id, c.unread_count);
    }
  }

  /** Returns true when the stored count changed. */
  setUnread(conversationId: string, count: number): boolean {
    const before = this.unreadOf(conversationId);
    if (before === count) return false;
    if (count > 0) this.with("unread").exec("INSERT OR REPLACE INTO unread (conversation_id, count) VALUES (?, ?)", conversationId, count);
    else this.with("unread").exec("DELETE FROM unread WHERE conversation_id = ?", conversationId);
    return true;
  }

  unreadOf(conversationId: string): number {
    return this.with("unread").exec<{ count: number }>("SELECT count FROM unread WHERE conversation_id = ?", conversationId).toArray()[0]?.count ?? 0;
  }

  totalUnread(): number {
    return this.with("unread").exec<{ total: number | null }>("SELECT sum(count) AS total FROM unread").one().total ?? 0;
  }

  unreadList(): { id: string; unread_count: number }[] {
    return this.with("unread")
      .exec<{ conversation_id: string; count: number }>("SELECT conversation_id, count FROM unread ORDER BY conversation_id")
      .toArray()
      .map((r) => ({ id: r.conversation_id, unread_count: r.count }));
  }

  /** A conversation's count of this user's sockets there, unless a newer report (a larger stamp) already arrived. */
  setConversationSockets(conversationId: string, count: number, stamp: number): void {
    const known = this.socketCounts.get(conversationId);
    if (known && known.stamp >= stamp) return;
    this.sql.exec("INSERT OR REPLACE INTO conversation_socket_counts (conversation_id, count, stamp) VALUES (?, ?, ?)", conversationId, count, stamp);
    this.socketCounts.set(conversationId, { count, stamp });
  }

  conversationSocketCount(): number {
    let total = 0;
    for (const { count } of this.socketCounts.values()) total += count;
    return total;
  }

  schedule(timer: Timer, userId: string, at: number): void {
    this.sql.exec("INSERT OR REPLACE INTO timers (name, user_id, at) VALUES (?, ?, ?)", timer, userId, at);
    this.timers.set(timer, { userId, at });
  }

  isPending(timer: Timer): boolean {
    return this.timers.has(timer);
  }

  /** Returns whether the timer was pending (and is now withdrawn). */
  cancel(timer: Timer): boolean {
    if (!this.timers.has(timer)) return false;
    this.sql.exec("DELETE FROM timers WHERE name = ?", timer);
    this.timers.delete(timer);
    return true;
  }

  /** The user of the timer if it is due by `now`, taking it; otherwise null. */
  takeDue(timer: Timer, now: number): string | null {
    const due = this.timers.get(timer);
    if (!due || due.at > now) return null;
    this.cancel(timer);
    return due.userId;
  }

  bucket(kind: UserBucket): Bucket | null {
    const row = this.with("buckets").exec<{ tokens: number; updated_at: number }>("SELECT tokens, updated_at FROM buckets WHERE kind = ?", kind).toArray()[0];
    return row ? { tokens: row.tokens, updatedAt: row.updated_at } : null;
  }

  setBucket(kind: UserBucket, bucket: Bucket): void {
    this.with("buckets").exec("INSERT OR REPLACE INTO buckets (kind, tokens, updated_at) VALUES (?, ?, ?)", kind, bucket.tokens, bucket.updatedAt);
  }

  nextDueAt(): number | null {
    let next: number | null = null;
    for (const { at } of this.timers.values()) next = next === null ? at : Math.min(next, at);
    return next;
  }
}
