/**
 * Who is typing, with expiry times in storage so the alarm can end them after hibernation, and
 * in memory so the check every send makes reads nothing.
 */
export class TypingState {
  private readonly expiries: Map<string, number>;

  /** `timeoutMs` is TYPING_TIMEOUT_MS: a start not refreshed within it expires and is broadcast as stopped. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly timeoutMs: () => number,
  ) {
    this.expiries = new Map(sql.exec<{ user_id: string; expires_at: number }>("SELECT user_id, expires_at FROM typing").toArray().map((r) => [r.user_id, r.expires_at]));
  }

  /** Starts or refreshes; returns true when the user was not typing before. */
  start(userId: string, now = Date.now()): boolean {
    const wasTyping = this.isTyping(userId, now);
    const expiresAt = now + this.timeoutMs();
    this.sql.exec("INSERT OR REPLACE INTO typing (user_id, expires_at) VALUES (?, ?)", userId, expiresAt);
    this.expiries.set(userId, expiresAt);
    return !wasTyping;
  }

  /** Returns true when the user was typing. */
  stop(userId: string, now = Date.now()): boolean {
    // Called on every send: only a typist costs a write (expired rows go with the alarm).
    const wasTyping = this.isTyping(userId, now);
    if (this.expiries.delete(userId)) this.sql.exec("DELETE FROM typing WHERE user_id = ?", userId);
    return wasTyping;
  }

  typingUsers(now = Date.now()): string[] {
    const typing: string[] = [];
    for (const [userId, expiresAt] of this.expiries) if (expiresAt > now) typing.push(userId);
    return typing.sort();
  }

  /** Removes and returns the users whose typing has expired. */
  expire(now = Date.now()): string[] {
    if (![...this.expiries.values()].some((at) => at <= now)) return [];
    const expired = this.sql
      .exec<{ user_id: string }>("DELETE FROM typing WHERE expires_at <= ? RETURNING user_id", now)
      .toArray()
      .map((r) => r.user_id);
    for (const userId of expired) this.expiries.delete(userId);
    return expired;
  }

  nextExpiry(): number | null {
    return this.expiries.size === 0 ? null : Math.min(...this.expiries.values());
  }

  private isTyping(userId: string, now: number): boolean {
    return (this.expiries.get(userId) ?? 0) > now;
  }
}
