import { and, eq, gt, lt } from "drizzle-orm";
import type { Env, Identity } from "../env";
import { database } from "../db/client";
import { wsTickets } from "../db/schema";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { tokenExpired } from "../lib/protocol";
import { privilegesOf } from "./tokens";

export const TICKET_TTL_SECONDS = 30;

/** A one-use ticket standing for the caller's identity, for browsers that cannot set headers on a WebSocket. */
export async function issueTicket(env: Env, identity: Identity, now = Date.now()): Promise<string> {
  const db = database(env.DB);
  const id = newId("tkt");
  await db.batch([
    // Expired tickets are swept as new ones are issued, so the table stays small.
    db.delete(wsTickets).where(lt(wsTickets.expiresAt, now)),
    db.insert(wsTickets).values({
      id,
      userId: identity.id,
      roles: identity.roles,
      email: identity.email,
      tokenExp: identity.exp,
      expiresAt: now + TICKET_TTL_SECONDS * 1000,
    }),
  ]);
  return id;
}

/**
 * Consumes a ticket atomically (DELETE … RETURNING): a second use finds nothing. A ticket is
 * worth no more than the token it was issued under: once that token has expired, so has it.
 */
export async function redeemTicket(env: Env, ticket: string, now = Date.now()): Promise<Identity> {
  const row = await database(env.DB)
    .delete(wsTickets)
    .where(and(eq(wsTickets.id, ticket), gt(wsTickets.expiresAt, now)))
    .returning()
    .get();
  if (!row) throw new AppError("INVALID_TOKEN", "ticket is unknown, used or expired");
  if (tokenExpired(row.tokenExp, now)) throw new AppError("INVALID_TOKEN", "the token this ticket was issued under has expired");
  return { id: row.userId, email: row.email, name: null, roles: row.roles, ...privilegesOf(env, row.roles, row.email), exp: row.tokenExp };
}
