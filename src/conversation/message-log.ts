import { messageIdSeq, newMessageId, nowIso } from "../lib/ids";
import { jsonDepth, MAX_JSON_DEPTH } from "../lib/json-depth";
import type { Attachment } from "../schemas/attachments";
import type { HistoryPage, HistoryQuery, Message, Profile, Sender } from "../schemas/messages";
import type { ReactionMap, Reactions } from "./reactions";
import { OLDER_MESSAGE_ID } from "./storage";

type MessageRow = {
  seq: number;
  id: string;
  sender_id: string | null;
  /** The sender's profile when sent (JSON); null in rows from before profiles were kept. */
  sender: string | null;
  type: Message["type"];
  content: string | null;
  data: string | null;
  reply_to: string | null;
  attachment: string | null;
  client_id: string | null;
  created_at: string;
  edited_at: string | null;
  deleted_at: string | null;
};

export interface NewMessage {
  senderId: string | null;
  /** The sender's name and avatar now, carried by the message from then on. */
  sender: Profile | null;
  type: Message["type"];
  content: string | null;
  data: Record<string, unknown> | null;
  replyTo: string | null;
  clientId: string | null;
  attachment?: Attachment | null;
}

/**
 * SQLite stores text as UTF-8, where a lone UTF-16 surrogate becomes U+FFFD: normalising
 * first keeps what is acked and broadcast identical to what a later sync replays, and keeps
 * client_id lookups exact.
 */
const wellFormed = <T extends string | null>(text: T): T => (text === null ? text : (text.toWellFormed() as T));

/**
 * A message's data as stored, or null when it nests deeper than clients may send (a row kept
 * from before that limit): walking such a value overflows the stack of RPC and serialisation,
 * and no page of history may fail because of one message.
 */
function storedData(text: string): Record<string, unknown> | null {
  const data = JSON.parse(text) as Record<string, unknown>;
  return jsonDepth(data) > MAX_JSON_DEPTH ? null : data;
}

function senderFrom(senderId: string, profile: Profile | null): Sender {
  return { id: senderId, name: profile?.name ?? senderId, avatar_url: profile?.avatar_url ?? null };
}

/** The ordered, append-only message log. `seq` is assigned here: last + 1, never reused. */
export class MessageLog {
  private last: number;
  /** The newest message as `latest()` reads it; undefined when not known (read from storage). The summary asks for it every round. */
  private newest: Message | null | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly reactions: Reactions,
    private readonly conversationId: () => string,
    /** For rows stored before messages kept their sender's profile. */
    private readonly profileOf: (userId: string) => Profile | null,
  ) {
    this.last = this.storedLastSeq();
  }

  private storedLastSeq(): number {
    return this.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM messages").one().seq ?? 0;
  }

  get lastSeq(): number {
    return this.last;
  }

  /** Call inside a transaction with whatever else must be written with the message. */
  append(input: NewMessage, now = Date.now()): Message {
    const seq = this.last + 1;
    const row: MessageRow = {
      seq,
      id: newMessageId(seq),
      sender_id: input.senderId,
      sender: input.sender ? JSON.stringify(input.sender) : null,
      type: input.type,
      content: wellFormed(input.content),
      data: input.data ? JSON.stringify(input.data) : null,
      reply_to: input.replyTo,
      attachment: input.attachment ? JSON.stringify(input.attachment) : null,
      client_id: wellFormed(input.clientId),
      created_at: nowIso(now),
      edited_at: null,
      deleted_at: null,
    };
    this.sql.exec(
      `INSERT INTO messages (seq, id, sender_id, sender, type, content, data, reply_to, attachment, client_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.seq,
      row.id,
      row.sender_id,
      row.sender,
      row.type,
      row.content,
      row.data,
      row.reply_to,
      row.attachment,
      row.client_id,
      row.created_at,
    );
    this.last = row.seq;
    // The sender's profile as given, not parsed back from the text just written (the same value).
    const message = this.toMessage(row, {}, input.senderId === null ? null : senderFrom(input.senderId, input.sender));
    this.newest = message;
    return message;
  }

  edit(seq: number, content: string, at: string): void {
    this.sql.exec("UPDATE messages SET content = ?, edited_at = ? WHERE seq = ?", wellFormed(content), at, seq);
    this.changed(seq);
  }

  /** Soft delete: the row stays (seq stays gapless) but content, data and attachment are withheld. */
  softDelete(seq: number, at: string): void {
    this.sql.exec("UPDATE messages SET deleted_at = ? WHERE seq = ? AND deleted_at IS NULL", at, seq);
    this.changed(seq);
  }

  setData(seq: number, data: Record<string, unknown>): void {
    this.sql.exec("UPDATE messages SET data = ? WHERE seq = ?", JSON.stringify(data), seq);
    this.changed(seq);
  }

  /** The message `seq` changed in place (also its reactions): `latest()` reads it again if it is the newest. */
  changed(seq: number): void {
    if (seq === this.last) this.newest = undefined;
  }

  /** A transaction rolled back: the last seq and newest message are read again. */
  forget(): void {
    this.last = this.storedLastSeq();
    this.newest = undefined;
  }

  bySeq(seq: number): Message | null {
    return this.first("SELECT * FROM messages WHERE seq = ?", seq);
  }

  /** A sender's message by its client_id; a null sender looks among system messages. */
  byClientId(senderId: string | null, clientId: string): Message | null {
    return this.first("SELECT * FROM messages WHERE sender_id IS ? AND client_id = ?", senderId, wellFormed(clientId));
  }

  /** An id names its seq (the primary key); one of the older form is found through the index kept for those alone. */
  byId(id: string): Message | null {
    const seq = messageIdSeq(id);
    if (seq !== null) return this.first("SELECT * FROM messages WHERE seq = ? AND id = ?", seq, id);
    return this.first(`SELECT * FROM messages WHERE id = ? AND ${OLDER_MESSAGE_ID}`, id);
  }

  latest(): Message | null {
    if (this.newest === undefined) this.newest = this.first("SELECT * FROM messages ORDER BY seq DESC LIMIT 1");
    return this.newest;
  }

  /** Ascending messages with seq > afterSeq, at most `limit` of them. */
  after(afterSeq: number, limit: number): Message[] {
    return this.rows("SELECT * FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit);
  }

  /**
   * A history page, always ascending. `after_seq` pages forward from a cursor; otherwise the
   * newest `limit` messages below `before_seq` (or below the end). `has_more` says whether
   * more exist in the paging direction.
   */
  page(query: HistoryQuery): HistoryPage {
    const { limit } = query;
    const upper = query.before_seq ?? Number.MAX_SAFE_INTEGER;
    if (query.after_seq !== undefined) {
      const rows = this.rows(
        "SELECT * FROM messages WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?",
        query.after_seq,
        upper,
        limit + 1,
      );
      return { messages: rows.slice(0, limit), has_more: rows.length > limit };
    }
    const rows = this.rows("SELECT * FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?", upper, limit + 1);
    return { messages: rows.slice(0, limit).reverse(), has_more: rows.length > limit };
  }

  /** The messages `seqs` (scattered, such as search results), newest first. */
  atSeqs(seqs: readonly number[]): Message[] {
    if (seqs.length === 0) return [];
    const rows = this.sql.exec<MessageRow>("SELECT * FROM messages WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq DESC", JSON.stringify(seqs)).toArray();
    const reactions = this.reactions.ofSeqs(seqs);
    return rows.map((row) => this.toMessage(row, reactions.get(row.seq) ?? {}));
  }

  private first(query: string, ...bindings: unknown[]): Message | null {
    return this.rows(query, ...bindings)[0] ?? null;
  }

  /** Rows with their reactions, fetched in one query over the rows' seq range. */
  private rows(query: string, ...bindings: unknown[]): Message[] {
    const rows = this.sql.exec<MessageRow>(query, ...bindings).toArray();
    if (rows.length === 0) return [];
    const seqs = rows.map((r) => r.seq);
    const reactions = this.reactions.inRange(Math.min(...seqs), Math.max(...seqs));
    return rows.map((row) => this.toMessage(row, reactions.get(row.seq) ?? {}));
  }

  private senderOf(row: MessageRow): Sender | null {
    if (row.sender_id === null) return null;
    return senderFrom(row.sender_id, row.sender ? (JSON.parse(row.sender) as Profile) : this.profileOf(row.sender_id));
  }

  private toMessage(row: MessageRow, reactions: ReactionMap, sender = this.senderOf(row)): Message {
    const deleted = row.deleted_at !== null;
    return {
      id: row.id,
      conversation_id: this.conversationId(),
      seq: row.seq,
      sender_id: row.sender_id,
      sender,
      type: row.type,
      content: deleted ? null : row.content,
      data: deleted || !row.data ? null : storedData(row.data),
      reply_to: row.reply_to,
      attachment: deleted || !row.attachment ? null : (JSON.parse(row.attachment) as Attachment),
      reactions: deleted ? {} : reactions,
      client_id: row.client_id,
      edited_at: row.edited_at,
      deleted_at: row.deleted_at,
      created_at: row.created_at,
    };
  }
}
