import { and, eq, lt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { conversations, participants } from "../db/schema";
import type { Message } from "../schemas/messages";

/**
 * What D1's conversation list needs to learn from a conversation after messages and reads: its
 * summary as a whole (never a delta) and the explicit read cursors that moved. Written directly
 * by the conversation's object when an answer must wait for it, otherwise through the mirror
 * queue, whose consumer writes many conversations in one D1 batch.
 */
export interface SummaryUpdate {
  conversation_id: string;
  /** Orders the updates of one conversation: D1 keeps the highest, so a late or repeated one changes nothing. */
  stamp: number;
  last_seq: number;
  /** Null while the conversation has no message: then only the reads are written. */
  last_message: Message | null;
  sender_seqs: Record<string, number>;
  reads: { user_id: string; read_seq: number }[];
}

export type MirrorMessage = { kind: "summary"; update: SummaryUpdate };

/** Pure: the newest summary of each conversation, with the highest read cursor of each of its readers. */
export function collapse(updates: SummaryUpdate[]): SummaryUpdate[] {
  const byConversation = new Map<string, { newest: SummaryUpdate; reads: Map<string, number> }>();
  for (const update of updates) {
    const entry = byConversation.get(update.conversation_id) ?? { newest: update, reads: new Map<string, number>() };
    if (update.stamp > entry.newest.stamp) entry.newest = update;
    for (const read of update.reads) entry.reads.set(read.user_id, Math.max(entry.reads.get(read.user_id) ?? 0, read.read_seq));
    byConversation.set(update.conversation_id, entry);
  }
  return [...byConversation.values()].map(({ newest, reads }) => ({
    ...newest,
    reads: [...reads].map(([user_id, read_seq]) => ({ user_id, read_seq })),
  }));
}

/** The D1 statements of some updates: each idempotent, and safe in any order (stamps, max of cursors). */
export function summaryStatements(db: Db, updates: SummaryUpdate[]): BatchItem<"sqlite">[] {
  const statements: BatchItem<"sqlite">[] = [];
  for (const update of updates) {
    const id = update.conversation_id;
    const last = update.last_message;
    if (last) {
      statements.push(
        db
          .update(conversations)
          .set({
            lastSeq: update.last_seq,
            lastMessage: last,
            lastMessageAt: last.created_at,
            lastActivityAt: last.created_at,
            senderSeqs: update.sender_seqs,
            mirrorStamp: update.stamp,
          })
          .where(and(eq(conversations.id, id), lt(conversations.mirrorStamp, update.stamp))),
      );
    }
    for (const read of update.reads) {
      statements.push(
        db
          .update(participants)
          .set({ lastReadSeq: sql`max(${participants.lastReadSeq}, ${read.read_seq})` })
          .where(and(eq(participants.conversationId, id), eq(participants.userId, read.user_id))),
      );
    }
  }
  return statements;
}
