export type ReactionMap = Record<string, string[]>;

/** One reaction per (message, emoji, user); maps list users in the order they reacted. */
export class Reactions {
  constructor(private readonly sql: SqlStorage) {}

  /** Returns false when the user had already reacted with this emoji. */
  add(seq: number, emoji: string, userId: string, at: string): boolean {
    return this.sql.exec("INSERT OR IGNORE INTO reactions (seq, emoji, user_id, created_at) VALUES (?, ?, ?, ?)", seq, emoji, userId, at).rowsWritten > 0;
  }

  /** Returns false when there was nothing to remove. */
  remove(seq: number, emoji: string, userId: string): boolean {
    return this.sql.exec("DELETE FROM reactions WHERE seq = ? AND emoji = ? AND user_id = ?", seq, emoji, userId).rowsWritten > 0;
  }

  of(seq: number): ReactionMap {
    return this.inRange(seq, seq).get(seq) ?? {};
  }

  /** Reactions of every message with fromSeq <= seq <= toSeq, in one query. */
  inRange(fromSeq: number, toSeq: number): Map<number, ReactionMap> {
    return this.collect("SELECT seq, emoji, user_id FROM reactions WHERE seq BETWEEN ? AND ? ORDER BY seq, created_at, user_id", fromSeq, toSeq);
  }

  /** Reactions of the messages `seqs` (scattered ones, such as search results), in one query. */
  ofSeqs(seqs: readonly number[]): Map<number, ReactionMap> {
    return this.collect(
      "SELECT seq, emoji, user_id FROM reactions WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq, created_at, user_id",
      JSON.stringify(seqs),
    );
  }

  private collect(query: string, ...bindings: unknown[]): Map<number, ReactionMap> {
    const out = new Map<number, ReactionMap>();
    for (const row of this.sql.exec<{ seq: number; emoji: string; user_id: string }>(query, ...bindings)) {
      const map = out.get(row.seq) ?? {};
      (map[row.emoji] ??= []).push(row.user_id);
      out.set(row.seq, map);
    }
    return out;
  }
}
