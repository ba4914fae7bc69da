import { and, eq, gte, inArray, lt, ne, not, notInArray, sql } from "drizzle-orm";
import { inList } from "./in-list";
import type { Identity } from "../env";
import type { Profile } from "../schemas/messages";
import { newId, nowIso } from "../lib/ids";
import type { Db } from "./client";
import { userNameWords, users } from "./schema";
import { blockersOf } from "./social";

export type UserRow = typeof users.$inferSelect;

/** A new row; name_lower is derived here so no insert can forget it. */
function newUserRow(id: string, email: string | null, name: string, avatarUrl: string | null): typeof users.$inferInsert {
  const now = nowIso();
  return { id, email, name, nameLower: name.toLowerCase(), avatarUrl, createdAt: now, updatedAt: now };
}

/** What a conversation keeps of a participant, and their messages carry. */
export const profileOf = (row: Pick<UserRow, "name" | "avatarUrl">): Profile => ({ name: row.name, avatar_url: row.avatarUrl });

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.id, id)).get();
}

export async function findUsersByIds(db: Db, ids: string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return db.select().from(users).where(inList(users.id, ids)).all();
}

export async function findUsersByEmails(db: Db, emails: string[]): Promise<UserRow[]> {
  if (emails.length === 0) return [];
  return db.select().from(users).where(inList(users.email, emails)).all();
}

/** Development login: the user with this email, created on first sight; name and avatar refreshed when given. */
export async function upsertUserByEmail(
  db: Db,
  input: { email: string; name?: string | undefined; avatarUrl?: string | undefined },
): Promise<UserRow> {
  const now = nowIso();
  const name = input.name ?? input.email.split("@")[0] ?? input.email;
  const row = await db
    .insert(users)
    .values(newUserRow(newId("usr"), input.email, name, input.avatarUrl ?? null))
    .onConflictDoUpdate({
      target: users.email,
      set: {
        name: input.name !== undefined ? input.name : sql`${users.name}`,
        nameLower: input.name !== undefined ? input.name.toLowerCase() : sql`${users.nameLower}`,
        avatarUrl: input.avatarUrl !== undefined ? input.avatarUrl : sql`${users.avatarUrl}`,
        updatedAt: input.name !== undefined || input.avatarUrl !== undefined ? now : sql`${users.updatedAt}`,
      },
    })
    .returning()
    .get();
  await keepNameWordsInStep(db, row.id, row.name);
  // Its tokens need no provisioning round trip on their first request.
  provisioned.add(row.id);
  return row;
}

/** Users known to have a row, per isolate (a cache: a miss costs one idempotent insert). */
const provisioned = new Set<string>();

/**
 * Users of an external identity provider exist here from their first request on. The insert is
 * idempotent; the per-isolate set only saves the round trip for users already seen.
 */
export async function provisionUser(db: Db, identity: Identity): Promise<void> {
  if (provisioned.has(identity.id)) return;
  const name = identity.name ?? identity.email?.split("@")[0] ?? identity.id;
  const insert = (email: string | null) => db.insert(users).values(newUserRow(identity.id, email, name, null)).onConflictDoNothing().returning({ id: users.id }).get();
  let inserted = await insert(identity.email);
  // The email may already belong to another account; the user still needs a row of their own.
  if (!inserted && !(await findUserById(db, identity.id))) inserted = await insert(null);
  // A row that already existed has its words already.
  if (inserted) await keepNameWordsInStep(db, identity.id, name);
  provisioned.add(identity.id);
}

/**
 * The app's backend keeps a profile under its own id: created when new, replaced when known.
 * An email that already belongs to someone else is refused (emails identify people at login).
 */
export async function upsertUserById(
  db: Db,
  id: string,
  profile: { email?: string | undefined; name: string; avatarUrl?: string | null | undefined },
): Promise<{ row: UserRow; created: boolean } | { emailTaken: true }> {
  if (profile.email !== undefined) {
    const owner = (await findUsersByEmails(db, [profile.email]))[0];
    if (owner && owner.id !== id) return { emailTaken: true };
  }
  const inserted = await db
    .insert(users)
    .values(newUserRow(id, profile.email ?? null, profile.name, profile.avatarUrl ?? null))
    .onConflictDoNothing({ target: users.id })
    .returning()
    .get();
  provisioned.add(id);
  if (inserted) {
    await keepNameWordsInStep(db, id, inserted.name);
    return { row: inserted, created: true };
  }
  const row = await updateUser(db, id, { name: profile.name, avatarUrl: profile.avatarUrl, email: profile.email });
  return { row: row!, created: false };
}

export async function updateUser(
  db: Db,
  id: string,
  patch: { name?: string | undefined; avatarUrl?: string | null | undefined; email?: string | undefined },
): Promise<UserRow | undefined> {
  const set: Partial<typeof users.$inferInsert> = { updatedAt: nowIso() };
  if (patch.email !== undefined) set.email = patch.email;
  if (patch.name !== undefined) {
    set.name = patch.name;
    set.nameLower = patch.name.toLowerCase();
  }
  if (patch.avatarUrl !== undefined) set.avatarUrl = patch.avatarUrl;
  const row = await db.update(users).set(set).where(eq(users.id, id)).returning().get();
  if (row && patch.name !== undefined) await keepNameWordsInStep(db, id, row.name);
  return row;
}

/** Pure: the distinct lower-cased words of a name, as search matches them (anything not a letter or digit separates). */
export function nameWords(name: string): string[] {
  return [...new Set(name.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean))];
}

/**
 * Makes user_name_words hold exactly the words of the user's current name. Every function here
 * that creates a user or changes a name calls it; anything else that writes users.name must too.
 * Words go in as one JSON parameter (D1 allows 100 bound parameters; a name may have 50 words).
 */
export async function keepNameWordsInStep(db: Db, userId: string, name: string): Promise<void> {
  const words = JSON.stringify(nameWords(name));
  const listed = sql`(SELECT value FROM json_each(${words}))`;
  await db.batch([
    db.delete(userNameWords).where(and(eq(userNameWords.userId, userId), not(inArray(userNameWords.word, listed)))),
    db
      .insert(userNameWords)
      .select(db.select({ word: sql<string>`value`.as("word"), userId: sql<string>`${userId}`.as("user_id") }).from(sql`json_each(${words})`).where(sql`true`))
      // SQLite needs the WHERE above to read ON CONFLICT after INSERT … SELECT as an upsert, not a join.
      .onConflictDoNothing(),
  ]);
}

/**
 * Users whose email, whole name or any word of their name starts with `query` (case-insensitive),
 * minus `excludeId` and whoever blocked them. Each of the three is a range scan over an index.
 */
export function searchUsersQuery(db: Db, query: string, excludeId: string, limit: number) {
  const q = query.trim().toLowerCase();
  const upper = `${q}\u{10FFFF}`;
  const byEmail = db.select({ id: users.id }).from(users).where(and(gte(users.email, q), lt(users.email, upper)));
  const byName = db.select({ id: users.id }).from(users).where(and(gte(users.nameLower, q), lt(users.nameLower, upper)));
  const byWord = db.select({ id: userNameWords.userId }).from(userNameWords).where(and(gte(userNameWords.word, q), lt(userNameWords.word, upper)));
  return db
    .select()
    .from(users)
    .where(
      and(
        inArray(users.id, byEmail.union(byName).union(byWord)),
        ne(users.id, excludeId),
        // People who blocked the searcher are hidden from them.
        notInArray(users.id, blockersOf(db, excludeId)),
      ),
    )
    .orderBy(users.name, users.id)
    .limit(limit);
}

export async function searchUsers(db: Db, query: string, excludeId: string, limit: number): Promise<UserRow[]> {
  return searchUsersQuery(db, query, excludeId, limit).all();
}
