import { and, eq, inArray, lt, lte, ne, or, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { PresenceChange } from "../mirror/presence";
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
export const blockRow = (db: Db, blocker: string, blocked: string) =>
  db
    .select({ one: sql<number>`1` })
    .from(blocks)
    .where(and(eq(blocks.blockerId, blocker), eq(blocks.blockedId, blocked)));

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
 * Who may see the presence of each of `subjects`: their friends and anyone sharing a
 * conversation of at most PRESENCE_GROUP_LIMIT participants with them (announcing everyone to
 * a 10,000-member group on every connect would cost the square of its size). As pairs of
 * subject and contact; with `among`, only contacts among the given ids.
 */
function contactPairs(db: Db, subjects: string[], among?: string[]) {
  const mine = alias(participants, "mine");
  const theirs = alias(participants, "theirs");
  const coParticipants = db
    // Named in the SQL: as bare columns both would be "user_id" to the query around them.
    .select({ subject: sql<string>`${mine.userId}`.as("subject"), contact: sql<string>`${theirs.userId}`.as("contact") })
    .from(mine)
    .innerJoin(conversations, and(eq(conversations.id, mine.conversationId), lte(conversations.participantCount, PRESENCE_GROUP_LIMIT)))
    .innerJoin(theirs, and(eq(theirs.conversationId, mine.conversationId), ne(theirs.userId, mine.userId)))
    .where(and(inList(mine.userId, subjects), among ? inList(theirs.userId, among) : undefined));
  const friends = db
    .select({ subject: sql<string>`${friendships.userId}`.as("subject"), contact: sql<string>`${friendships.friendId}`.as("contact") })
    .from(friendships)
    .where(and(inList(friendships.userId, subjects), among ? inList(friendships.friendId, among) : undefined));
  return coParticipants.union(friends);
}

export async function presenceAudience(db: Db, userId: string, among?: string[]): Promise<string[]> {
  if (among && among.length === 0) return [];
  const rows = await contactPairs(db, [userId], among).all();
  return rows.map((r) => r.contact);
}

/** The contacts of `subjects` (see contactPairs) who are online now, with their presence. */
function onlineContactsQuery(db: Db, subjects: string[]) {
  const pairs = contactPairs(db, subjects).as("pairs");
  return db
    .select({ subject: pairs.subject, id: users.id, online: users.online, lastSeenAt: users.lastSeenAt })
    .from(pairs)
    .innerJoin(users, and(eq(users.id, pairs.contact), eq(users.online, true)));
}

/** Who hears of a presence change of each of `subjects` (the mirror's consumer announces many at once): their contacts online now. */
export async function presenceListeners(db: Db, subjects: string[]): Promise<{ subject: string; listener: string }[]> {
  if (subjects.length === 0) return [];
  const rows = await onlineContactsQuery(db, subjects).all();
  return rows.map((r) => ({ subject: r.subject, listener: r.id }));
}

export async function presenceOf(db: Db, ids: string[]) {
  if (ids.length === 0) return [];
  return db.select({ id: users.id, online: users.online, lastSeenAt: users.lastSeenAt }).from(users).where(inList(users.id, ids)).all();
}

/**
 * One set-based statement writing every user's newest change unless D1 already has a newer
 * one; it returns the users it changed, the only ones to announce (a redelivered batch
 * announces nothing twice).
 */
export function presenceStatement(db: Db, changes: PresenceChange[]) {
  const rows = JSON.stringify(changes.map((c) => [c.user_id, c.online ? 1 : 0, c.at, c.stamp]));
  return db
    .update(users)
    .set({
      online: sql`p.online`,
      lastSeenAt: sql`CASE WHEN p.online THEN ${users.lastSeenAt} ELSE p.at END`,
      presenceStamp: sql`p.stamp`,
    })
    .from(sql`(SELECT value ->> 0 AS id, value ->> 1 AS online, value ->> 2 AS at, value ->> 3 AS stamp FROM json_each(${rows})) AS p`)
    .where(and(eq(users.id, sql`p.id`), lt(users.presenceStamp, sql`p.stamp`)))
    .returning({ id: users.id });
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

/** The contacts of `userId` who are online now, at most `limit` of them. */
export async function onlineContacts(db: Db, userId: string, limit?: number) {
  const online = onlineContactsQuery(db, [userId]).orderBy(users.id);
  return limit === undefined ? online.all() : online.limit(limit).all();
}
