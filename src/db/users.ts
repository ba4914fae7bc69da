import { and, eq, gte, lt, ne, notInArray, or, sql } from "drizzle-orm";
import { inList } from "./in-list";
import type { Identity } from "../env";
import { newId, nowIso } from "../lib/ids";
import type { Db } from "./client";
import { users } from "./schema";
import { blockersOf } from "./social";

export type UserRow = typeof users.$inferSelect;

/** A new row; name_lower is derived here so no insert can forget it. */
function newUserRow(id: string, email: string | null, name: string, avatarUrl: string | null): typeof users.$inferInsert {
  const now = nowIso();
  return { id, email, name, nameLower: name.toLowerCase(), avatarUrl, createdAt: now, updatedAt: now };
}

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
  // Its tokens need no provisioning round trip on their first request.
  if (row) provisioned.add(row.id);
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
  await db
    .insert(users)
    .values(newUserRow(identity.id, identity.email, name, null))
    .onConflictDoNothing()
    .run();
  // The email may already belong to another account; the user still needs a row of their own.
  if (!(await findUserById(db, identity.id))) {
    await db
      .insert(users)
      .values(newUserRow(identity.id, null, name, null))
      .onConflictDoNothing()
      .run();
  }
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
  if (inserted) return { row: inserted, created: true };
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
  return db.update(users).set(set).where(eq(users.id, id)).returning().get();
}

/** Prefix search on email or name; both are range scans over an index. */
export async function searchUsers(db: Db, query: string, excludeId: string, limit: number): Promise<UserRow[]> {
  const q = query.trim().toLowerCase();
  const upper = `${q}\u{10FFFF}`;
  return db
    .select()
    .from(users)
    .where(
      and(
        ne(users.id, excludeId),
        // People who blocked the searcher are hidden from them.
        notInArray(users.id, blockersOf(db, excludeId)),
        or(and(gte(users.email, q), lt(users.email, upper)), and(gte(users.nameLower, q), lt(users.nameLower, upper))),
      ),
    )
    .orderBy(users.name, users.id)
    .limit(limit)
    .all();
}
