import { and, eq, fillPlaceholders, inArray, lte, or, sql, type Placeholder } from "drizzle-orm";
import { nowIso } from "../lib/ids";
import { PRESENCE_GROUP_LIMIT } from "../schemas/conversations";
import { database, type Db } from "./client";
import { inList } from "./in-list";
import { blocks, conversations, friendRequests, friendships, participants, users } from "./schema";

export type FriendRequestRow = typeof friendRequests.$inferSelect;

export async function areFriends(db: Db, a: string, b: string): Promise<boolean> {
  const row = await db
    .select({ one: sql<number>`1` })
    .from(friendships)
    .where(and(eq(friendships.userId, a), eq(friendships.friendId, b)))
    .get();
  return row !== undefined;
}

/** The row (if any) saying `blocker` has blocked `blocked`: run alone, or batched with other reads. */
const blockRow = (db: Db, blocker: string, blocked: string) =>
  db
    .select({ one: sql<number>`1` })
    .from(blocks)
    .where(and(eq(blocks.blockerId, blocker), eq(blocks.blockedId, blocked)));

/** A user's row and whether they blocked `other`, in one D1 request. */
export async function userAndWhetherBlocked(db: Db, userId: string, other: string) {
  const [[person], blocking] = await db.batch([db.select().from(users).where(eq(users.id, userId)), blockRow(db, userId, other)]);
  return { person, blocked: blocking.length > 0 };
}

/** Whether `blocker` has blocked `blocked`. */
export async function hasBlocked(db: Db, blocker: string, blocked: string): Promise<boolean> {
  return (await blockRow(db, blocker, blocked).get()) !== undefined;
}

/** Those of `candidates` who have blocked `blocked`. */
export async function blockersAmong(db: Db, blocked: string, candidates: string[]): Promise<string[]> {
  if (candidates.length === 0) return [];
  const rows = await db
    .select({ id: blocks.blockerId })
    .from(blocks)
    .where(and(eq(blocks.blockedId, blocked), inList(blocks.blockerId, candidates)))
    .all();
  return rows.map((r) => r.id);
}

/** Everyone who has blocked `userId` (to hide them from that user's search). */
export function blockersOf(db: Db, userId: string) {
  return db.select({ id: blocks.blockerId }).from(blocks).where(eq(blocks.blockedId, userId));
}

export async function findRequest(db: Db, id: string): Promise<FriendRequestRow | undefined> {
  return db.select().from(friendRequests).where(eq(friendRequests.id, id)).get();
}

export async function findRequestBetween(db: Db, from: string, to: string): Promise<FriendRequestRow | undefined> {
  return db
    .select()
    .from(friendRequests)
    .where(and(eq(friendRequests.fromUserId, from), eq(friendRequests.toUserId, to)))
    .get();
}

/** A new pending request, replacing an earlier declined one between the same pair and direction. */
export async function createRequest(db: Db, id: string, from: string, to: string): Promise<FriendRequestRow> {
  const now = nowIso();
  return db
    .insert(friendRequests)
    .values({ id, fromUserId: from, toUserId: to, status: "pending", createdAt: now })
    .onConflictDoUpdate({
      target: [friendRequests.fromUserId, friendRequests.toUserId],
      set: { id, status: "pending", createdAt: now, respondedAt: null },
    })
    .returning()
    .get();
}

export async function listRequests(db: Db, userId: string): Promise<{ incoming: FriendRequestRow[]; outgoing: FriendRequestRow[] }> {
  const rows = await db
    .select()
    .from(friendRequests)
    .where(and(eq(friendRequests.status, "pending"), or(eq(friendRequests.toUserId, userId), eq(friendRequests.fromUserId, userId))))
    .orderBy(friendRequests.createdAt)
    .all();
  return { incoming: rows.filter((r) => r.toUserId === userId), outgoing: rows.filter((r) => r.fromUserId === userId) };
}

/**
 * Accepting makes the friendship (both directions), marks the request accepted and settles a
 * crossing request the other way, in one transaction.
 */
export async function acceptRequest(db: Db, request: FriendRequestRow): Promise<void> {
  const now = nowIso();
  await db.batch([
    db
      .insert(friendships)
      .values([
        { userId: request.fromUserId, friendId: request.toUserId, createdAt: now },
        { userId: request.toUserId, friendId: request.fromUserId, createdAt: now },
      ])
      .onConflictDoNothing(),
    db
      .update(friendRequests)
      .set({ status: "accepted", respondedAt: now })
      .where(
        or(
          eq(friendRequests.id, request.id),
          and(eq(friendRequests.fromUserId, request.toUserId), eq(friendRequests.toUserId, request.fromUserId), eq(friendRequests.status, "pending")),
        ),
      ),
  ]);
}

export async function declineRequest(db: Db, id: string): Promise<void> {
  await db.update(friendRequests).set({ status: "declined", respondedAt: nowIso() }).where(eq(friendRequests.id, id)).run();
}

export async function removeFriendship(db: Db, a: string, b: string): Promise<boolean> {
  const removed = await db
    .delete(friendships)
    .where(or(and(eq(friendships.userId, a), eq(friendships.friendId, b)), and(eq(friendships.userId, b), eq(friendships.friendId, a))))
    .returning()
    .all();
  return removed.length > 0;
}

export async function listFriends(db: Db, userId: string, onlineOnly = false) {
  return db
    .select({ id: users.id, email: users.email, name: users.name, avatarUrl: users.avatarUrl, createdAt: users.createdAt, online: users.online, lastSeenAt: users.lastSeenAt, since: friendships.createdAt })
    .from(friendships)
    .innerJoin(users, eq(users.id, friendships.friendId))
    .where(onlineOnly ? and(eq(friendships.userId, userId), eq(users.online, true)) : eq(friendships.userId, userId))
    .orderBy(users.name, users.id)
    .all();
}

export async function block(db: Db, blocker: string, blocked: string): Promise<void> {
  await db.insert(blocks).values({ blockerId: blocker, blockedId: blocked, createdAt: nowIso() }).onConflictDoNothing().run();
}

export async function unblock(db: Db, blocker: string, blocked: string): Promise<boolean> {
  const removed = await db
    .delete(blocks)
    .where(and(eq(blocks.blockerId, blocker), eq(blocks.blockedId, blocked)))
    .returning()
    .all();
  return removed.length > 0;
}

/**
 * The people whose presence `userId` may see: friends and anyone sharing a conversation of at
 * most PRESENCE_GROUP_LIMIT participants (announcing everyone to a 10,000-member group on every
 * connect would cost the square of its size). As two subqueries of ids; with `among`, only
 * those of the given ids.
 */
function audienceOf(db: Db, userId: string | Placeholder, among?: string[]) {
  const mine = db
    .select({ id: participants.conversationId })
    .from(participants)
    .innerJoin(conversations, eq(conversations.id, participants.conversationId))
    .where(and(eq(participants.userId, userId), lte(conversations.participantCount, PRESENCE_GROUP_LIMIT)));
  const coParticipants = db
    .selectDistinct({ id: participants.userId })
    .from(participants)
    .where(and(inArray(participants.conversationId, mine), sql`${participants.userId} <> ${userId}`, among ? inList(participants.userId, among) : undefined));
  const friends = db
    .select({ id: friendships.friendId })
    .from(friendships)
    .where(and(eq(friendships.userId, userId), among ? inList(friendships.friendId, among) : undefined));
  return { coParticipants, friends };
}

export async function presenceAudience(db: Db, userId: string, among?: string[]): Promise<string[]> {
  if (among && among.length === 0) return [];
  const { coParticipants, friends } = audienceOf(db, userId, among);
  const rows = await coParticipants.union(friends).all();
  return rows.map((r) => r.id);
}

export async function presenceOf(db: Db, ids: string[]) {
  if (ids.length === 0) return [];
  return db.select({ id: users.id, online: users.online, lastSeenAt: users.lastSeenAt }).from(users).where(inList(users.id, ids)).all();
}

function presenceUpdate(db: Db, userId: string, online: boolean, at: string) {
  return db
    .update(users)
    .set(online ? { online } : { online, lastSeenAt: at })
    .where(eq(users.id, userId));
}

/** Blocks in either direction between two people. */
export async function blocksBetween(db: Db, a: string, b: string) {
  return db
    .select()
    .from(blocks)
    .where(or(and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)), and(eq(blocks.blockerId, b), eq(blocks.blockedId, a))))
    .all();
}

/** Ids of the direct conversations the two share (one per context). */
export async function directConversationIds(db: Db, a: string, b: string): Promise<string[]> {
  const theirs = db.select({ id: participants.conversationId }).from(participants).where(eq(participants.userId, b));
  const rows = await db
    .select({ id: conversations.id })
    .from(participants)
    .innerJoin(conversations, eq(conversations.id, participants.conversationId))
    .where(and(eq(participants.userId, a), eq(conversations.type, "direct"), inArray(participants.conversationId, theirs)))
    .all();
  return rows.map((r) => r.id);
}

/** The contacts of `userId` (see audienceOf) who are online now, in one statement. */
function onlineContactsQuery(db: Db, userId: string | Placeholder) {
  const { coParticipants, friends } = audienceOf(db, userId);
  return db
    .select({ id: users.id, online: users.online, lastSeenAt: users.lastSeenAt })
    .from(users)
    .where(and(eq(users.online, true), or(inArray(users.id, coParticipants), inArray(users.id, friends))))
    .orderBy(users.id);
}

/** The contacts of `userId` who are online now, at most `limit` of them. */
export async function onlineContacts(db: Db, userId: string, limit?: number) {
  const online = onlineContactsQuery(db, userId);
  return limit === undefined ? online.all() : online.limit(limit).all();
}

/**
 * The online-contacts statement with a `userId` placeholder, built by drizzle once per isolate:
 * building its subqueries cost more of the runtime than D1 running them, and each transition
 * (every user's first socket) runs it.
 */
let onlineContactsSql: { sql: string; params: unknown[] } | null = null;

/**
 * Records that `userId` went online or offline and returns who can hear it right now (only
 * people online have sockets): one round trip to D1, as it is made on every transition.
 */
export async function recordPresence(d1: D1Database, userId: string, online: boolean, at: string): Promise<string[]> {
  const db = database(d1);
  const update = presenceUpdate(db, userId, online, at).toSQL();
  const contacts = (onlineContactsSql ??= onlineContactsQuery(db, sql.placeholder("userId")).toSQL());
  const [, audience] = await d1.batch<{ id: string }>([
    d1.prepare(update.sql).bind(...update.params),
    d1.prepare(contacts.sql).bind(...fillPlaceholders(contacts.params, { userId })),
  ]);
  return (audience?.results ?? []).map((r) => r.id);
}
