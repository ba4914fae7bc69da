import { and, desc, eq, lt, or, sql, type SQL } from "drizzle-orm";
import { PARTICIPANTS_LISTED, type Conversation, type ConversationContext } from "../schemas/conversations";
import type { Message } from "../schemas/messages";
import type { Db } from "./client";
import type { PresenceChange } from "../mirror/presence";
import { inList } from "./in-list";
import { blockRow, presenceStatement } from "./social";
import { conversations, participants, users } from "./schema";

export type ConversationRow = typeof conversations.$inferSelect;
export type ParticipantRole = (typeof participants.$inferSelect)["role"];

export interface ParticipantView {
  userId: string;
  role: ParticipantRole;
  lastReadSeq: number;
  name: string;
  avatarUrl: string | null;
  online: boolean;
}

export interface ConversationWithParticipants {
  row: ConversationRow;
  /** The first PARTICIPANTS_LISTED by join order (`row.participantCount` is the total). */
  participants: ParticipantView[];
  /** The viewer's explicit read cursor, when the query knew it (the viewer may be past the listed participants). */
  viewerReadSeq?: number;
}


type ListedParticipantRow = {
  conversation_id: string;
  user_id: string;
  role: ParticipantRole;
  last_read_seq: number;
  name: string;
  avatar_url: string | null;
  online: number;
};

/** The first PARTICIPANTS_LISTED participants of each conversation. */
async function participantsOf(db: Db, conversationIds: string[]): Promise<Map<string, ParticipantView[]>> {
  const byConversation = new Map<string, ParticipantView[]>();
  if (conversationIds.length === 0) return byConversation;
  const rows = await db.all<ListedParticipantRow>(sql`
    SELECT conversation_id, user_id, role, last_read_seq, name, avatar_url, online FROM (
      SELECT participants.conversation_id, participants.user_id, participants.role, participants.last_read_seq,
             users.name, users.avatar_url, users.online,
             row_number() OVER (PARTITION BY participants.conversation_id ORDER BY participants.joined_at, participants.user_id) AS rank
      FROM ${participants} JOIN ${users} ON users.id = participants.user_id
      WHERE ${inList(participants.conversationId, conversationIds)}
    ) WHERE rank <= ${PARTICIPANTS_LISTED} ORDER BY conversation_id, rank`);
  for (const row of rows) {
    const listed = byConversation.get(row.conversation_id) ?? [];
    listed.push({ userId: row.user_id, role: row.role, lastReadSeq: row.last_read_seq, name: row.name, avatarUrl: row.avatar_url, online: row.online === 1 });
    byConversation.set(row.conversation_id, listed);
  }
  return byConversation;
}

const withParticipants = (row: ConversationRow, listed: ParticipantView[] | undefined): ConversationWithParticipants => ({ row, participants: listed ?? [] });

/**
 * A conversation's row and the names, avatars and presence of some of its people, in one D1
 * request (D1 runs one statement at a time for the whole deployment: fewer round trips wait less).
 */
export async function conversationRowWithPeople(db: Db, id: string, userIds: string[]): Promise<ConversationFacts> {
  const [[row], people] = await db.batch([conversationRowQuery(db, id), peopleQuery(db, userIds)]);
  return { row, people };
}

/** What a conversation's answer shows from D1 alone: its row, and names and presence of the people it lists. */
export interface ConversationFacts {
  row: ConversationRow | undefined;
  people: { id: string; name: string; avatarUrl: string | null; online: boolean }[];
}

const conversationRowQuery = (db: Db, id: string) => db.select().from(conversations).where(eq(conversations.id, id));
const personColumns = { id: users.id, name: users.name, avatarUrl: users.avatarUrl, online: users.online };
const peopleQuery = (db: Db, userIds: string[]) => db.select(personColumns).from(users).where(inList(users.id, userIds));

export const peopleByIds = (db: Db, userIds: string[]): Promise<ConversationFacts["people"]> => peopleQuery(db, userIds).all();

/**
 * Before someone is added, in one D1 request: the person and whether they blocked the caller
 * (the object refuses with these), and what the answer will show — the conversation's row and
 * the people it lists (D1's first PARTICIPANTS_LISTED in join order, the object's order, and
 * the person). Whoever the object lists that is not among them is read afterwards.
 */
export async function additionFacts(db: Db, conversationId: string, userId: string, callerId: string) {
  const [[person], blocking, [row], listed] = await db.batch([
    db.select().from(users).where(eq(users.id, userId)),
    blockRow(db, userId, callerId),
    conversationRowQuery(db, conversationId),
    db
      .select(personColumns)
      .from(participants)
      .innerJoin(users, eq(users.id, participants.userId))
      .where(eq(participants.conversationId, conversationId))
      .orderBy(participants.joinedAt, participants.userId)
      .limit(PARTICIPANTS_LISTED),
  ]);
  const people = person ? [...listed, { id: person.id, name: person.name, avatarUrl: person.avatarUrl, online: person.online }] : listed;
  return { person, blocked: blocking.length > 0, facts: { row, people } satisfies ConversationFacts };
}

export async function loadConversation(db: Db, id: string): Promise<ConversationWithParticipants | null> {
  const row = await db.select().from(conversations).where(eq(conversations.id, id)).get();
  if (!row) return null;
  return withParticipants(row, (await participantsOf(db, [id])).get(id));
}

export async function findDirect(db: Db, directKey: string): Promise<ConversationWithParticipants | null> {
  const row = await db.select().from(conversations).where(eq(conversations.directKey, directKey)).get();
  return row ? loadConversation(db, row.id) : null;
}

const PARTICIPANT_ROWS_PER_INSERT = 15;

/** Inserts the conversation and its participants in one transaction (a D1 batch). */
export async function insertConversation(
  db: Db,
  row: typeof conversations.$inferInsert,
  members: { userId: string; role: ParticipantRole }[],
): Promise<void> {
  const rows = members.map((m) => ({ conversationId: row.id, userId: m.userId, role: m.role, joinedAt: row.createdAt }));
  // D1 binds at most 100 parameters per statement: participant rows go in chunks.
  const chunks = Array.from({ length: Math.ceil(rows.length / PARTICIPANT_ROWS_PER_INSERT) }, (_, i) =>
    db.insert(participants).values(rows.slice(i * PARTICIPANT_ROWS_PER_INSERT, (i + 1) * PARTICIPANT_ROWS_PER_INSERT)),
  );
  await db.batch([db.insert(conversations).values(row), ...chunks]);
}

export async function updateConversation(
  db: Db,
  id: string,
  patch: Partial<Pick<ConversationRow, "title" | "status" | "metadata" | "updatedAt">>,
): Promise<void> {
  await db.update(conversations).set(patch).where(eq(conversations.id, id)).run();
}

/** Encodes the keyset position of the last row of a page. */
export function encodeCursor(row: Pick<ConversationRow, "lastActivityAt" | "id">): string {
  return btoa(JSON.stringify([row.lastActivityAt, row.id])).replace(/=+$/, "");
}

export function decodeCursor(cursor: string): { lastActivityAt: string; id: string } | null {
  try {
    const value: unknown = JSON.parse(atob(cursor));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string") {
      return { lastActivityAt: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  return null;
}

export interface ListFilter {
  limit: number;
  after?: { lastActivityAt: string; id: string } | null;
  status?: "active" | "closed" | undefined;
  contextType?: string | undefined;
  contextId?: string | undefined;
}

/** The user's conversations, newest activity first, keyset-paged by (last_activity_at, id). */
export async function listConversations(db: Db, userId: string, filter: ListFilter): Promise<{ items: ConversationWithParticipants[]; more: boolean }> {
  const conditions: SQL[] = [eq(participants.userId, userId)];
  if (filter.status) conditions.push(eq(conversations.status, filter.status));
  if (filter.contextType) conditions.push(eq(conversations.contextType, filter.contextType));
  if (filter.contextId) conditions.push(eq(conversations.contextId, filter.contextId));
  if (filter.after) {
    const { lastActivityAt, id } = filter.after;
    conditions.push(
      or(
        lt(conversations.lastActivityAt, lastActivityAt),
        and(eq(conversations.lastActivityAt, lastActivityAt), lt(conversations.id, id)),
      )!,
    );
  }
  const rows = await db
    .select({ conversation: conversations, viewerReadSeq: participants.lastReadSeq })
    .from(participants)
    .innerJoin(conversations, eq(conversations.id, participants.conversationId))
    .where(and(...conditions))
    .orderBy(desc(conversations.lastActivityAt), desc(conversations.id))
    .limit(filter.limit + 1)
    .all();
  const page = rows.slice(0, filter.limit);
  const byId = await participantsOf(db, page.map((r) => r.conversation.id));
  return {
    items: page.map(({ conversation, viewerReadSeq }) => ({ ...withParticipants(conversation, byId.get(conversation.id)), viewerReadSeq })),
    more: rows.length > filter.limit,
  };
}

/** Ids of every conversation the user takes part in (D1's mirror of the objects' membership). */
export async function conversationIdsOf(db: Db, userId: string): Promise<string[]> {
  return (await conversationIdsQuery(db, userId).all()).map((r) => r.id);
}

const conversationIdsQuery = (db: Db, userId: string) => db.select({ id: participants.conversationId }).from(participants).where(eq(participants.userId, userId));

/** Ids of the user's `limit` most recently active conversations (D1's mirror of membership, as the list shows it). */
export async function recentConversationIds(db: Db, userId: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: participants.conversationId })
    .from(participants)
    .innerJoin(conversations, eq(conversations.id, participants.conversationId))
    .where(eq(participants.userId, userId))
    .orderBy(desc(conversations.lastActivityAt), desc(conversations.id))
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

/** Unread counts of every conversation of the user, computed from the summary in one query. */
export async function unreadCounts(db: Db, userId: string): Promise<{ id: string; unread_count: number }[]> {
  return countsOf(await unreadCountsQuery(db, userId).all());
}

const unreadCountsQuery = (db: Db, userId: string) =>
  db
    .select({
      id: conversations.id,
      unread: sql<number>`max(0, ${conversations.lastSeq} - max(${participants.lastReadSeq}, coalesce(json_extract(${conversations.senderSeqs}, '$."' || ${participants.userId} || '"'), 0)))`,
    })
    .from(participants)
    .innerJoin(conversations, eq(conversations.id, participants.conversationId))
    .where(eq(participants.userId, userId))
    .orderBy(desc(conversations.lastActivityAt), desc(conversations.id));

const countsOf = (rows: { id: string; unread: number }[]) => rows.map((r) => ({ id: r.id, unread_count: Number(r.unread) }));

const inboxFlag = (db: Db, userId: string, open: boolean) => db.update(users).set({ inboxOpen: open }).where(eq(users.id, userId));

/**
 * The user's first inbox socket opened, in one request: flagged in D1 (see users.inboxOpen),
 * their presence written unless D1 has it already (an answer listing them online must not wait
 * for the mirror's queue), and their unread counts read. `presenceTaken` says whether D1 took the
 * change just now, and so whether it is still to be announced.
 */
export async function openInbox(db: Db, userId: string, presence: PresenceChange | null) {
  const presenceWrite = presence ? [presenceStatement(db, [presence])] : [];
  const [, rows, taken] = await db.batch([inboxFlag(db, userId, true), unreadCountsQuery(db, userId), ...presenceWrite]);
  return { counts: countsOf(rows), presenceTaken: (taken?.length ?? 0) > 0 };
}

/** The user's last inbox socket closed (past the grace period): unflagged, and the ids of their conversations read, in one request. */
export async function closeInbox(db: Db, userId: string): Promise<string[]> {
  const [, rows] = await db.batch([inboxFlag(db, userId, false), conversationIdsQuery(db, userId)]);
  return rows.map((r) => r.id);
}

/** Everything after the viewer's effective read cursor (explicit read, or their own latest message). */
export function unreadFor(entry: ConversationWithParticipants, viewerId: string): number {
  const readSeq = entry.viewerReadSeq ?? entry.participants.find((p) => p.userId === viewerId)?.lastReadSeq;
  if (readSeq === undefined) return 0;
  const cursor = Math.max(readSeq, entry.row.senderSeqs[viewerId] ?? 0);
  return Math.max(0, entry.row.lastSeq - cursor);
}

export function toConversation(entry: ConversationWithParticipants, viewerId: string): Conversation {
  const { row } = entry;
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    status: row.status,
    context: (row.context as ConversationContext | null) ?? null,
    metadata: row.metadata ?? {},
    participants: entry.participants.map((p) => ({
      id: p.userId,
      name: p.name,
      avatar_url: p.avatarUrl,
      role: p.role,
      online: p.online,
    })),
    participant_count: row.participantCount,
    last_message: (row.lastMessage as Message | null) ?? null,
    last_message_at: row.lastMessageAt,
    last_seq: row.lastSeq,
    unread_count: unreadFor(entry, viewerId),
    created_by: row.createdBy,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}
