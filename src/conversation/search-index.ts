import type { StateStore } from "./storage";

/** The state key of the highest seq whose message has been considered for the index. */
const INDEXED_THROUGH = "search_indexed_through_seq";

/** A message as far as the index cares: what it said, and whether it is gone. */
type Indexable = { seq: number; content: string | null; deleted_at: string | null };

/**
 * The full-text index of a conversation's messages (the contentless FTS5 table `messages_fts`,
 * rowid = seq). A send writes nothing here: messages are indexed in batches, by the write-behind
 * save once enough are waiting and by every search before it looks, so results are always
 * complete. Edits and deletes of messages already indexed change the index at once.
 *
 * A contentless table forgets a document only when told exactly what was indexed for it
 * (FTS5's 'delete' command with the old text), so the rule is kept in one place: a message is
 * in the index iff its seq is at or below the mark, it is not deleted and its content is not
 * empty — and its text there is its current content.
 */
export class SearchIndex {
  private through: number;

  constructor(
    private readonly sql: SqlStorage,
    private readonly state: StateStore,
  ) {
    this.through = Number(state.get(INDEXED_THROUGH) ?? 0);
  }

  /** How many messages up to `lastSeq` wait to be indexed. */
  pending(lastSeq: number): number {
    return Math.max(0, lastSeq - this.through);
  }

  /** Inside a transaction: indexes every message after the mark, up to `lastSeq`. */
  catchUp(lastSeq: number): void {
    if (lastSeq <= this.through) return;
    this.sql.exec(
      `INSERT INTO messages_fts (rowid, content)
       SELECT seq, content FROM messages WHERE seq > ? AND seq <= ? AND deleted_at IS NULL AND content <> '' ORDER BY seq`,
      this.through,
      lastSeq,
    );
    this.through = lastSeq;
    this.state.set(INDEXED_THROUGH, String(lastSeq));
  }

  /** Inside the edit's transaction, after the new text is stored: `before` is the message as it was. */
  edited(before: Indexable): void {
    if (before.seq > this.through) return; // not indexed yet: the catch-up will take the new text
    this.forget(before);
    this.sql.exec("INSERT INTO messages_fts (rowid, content) SELECT seq, content FROM messages WHERE seq = ? AND content <> ''", before.seq);
  }

  /** Inside the transaction that soft-deletes `message` (as it was before): deleted messages are never found. */
  forget(message: Indexable): void {
    if (!this.holds(message)) return;
    this.sql.exec("INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', ?, ?)", message.seq, message.content);
  }

  /** Seqs of indexed messages matching `match` (an FTS5 expression), below `beforeSeq`, newest first. */
  matching(match: string, beforeSeq: number, limit: number): number[] {
    return this.sql
      .exec<{ seq: number }>("SELECT rowid AS seq FROM messages_fts WHERE messages_fts MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?", match, beforeSeq, limit)
      .toArray()
      .map((row) => row.seq);
  }

  private holds(message: Indexable): message is Indexable & { content: string } {
    return message.seq <= this.through && message.deleted_at === null && message.content !== null && message.content !== "";
  }
}
