import { createMiddleware } from "hono/factory";
import type { AppEnv, Identity } from "../env";
import { database } from "../db/client";
import { provisionUser } from "../db/users";
import { AppError } from "../lib/errors";
import { redeemTicket } from "./tickets";
import { verifyToken } from "./tokens";

function bearer(header: string | undefined): string | null {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

/** REST: `Authorization: Bearer <jwt>`. */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  if (!token) throw new AppError("AUTHENTICATION_REQUIRED", "send Authorization: Bearer <token>");
  c.set("identity", await authenticated(c.env, await verifyToken(c.env, token)));
  await next();
});

/** Sockets: the Authorization header, `?token=<jwt>`, or a one-use `?ticket=`. */
export const requireSocketAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c.req.header("authorization")) ?? c.req.query("token");
  const ticket = c.req.query("ticket");
  let identity: Identity;
  if (token) identity = await verifyToken(c.env, token);
  else if (ticket) identity = await redeemTicket(c.env, ticket);
  else throw new AppError("AUTHENTICATION_REQUIRED", "send a bearer token, ?token= or ?ticket=");
  c.set("identity", await authenticated(c.env, identity));
  await next();
});

async function authenticated(env: AppEnv["Bindings"], identity: Identity): Promise<Identity> {
  await provisionUser(database(env.DB), identity);
  return identity;
}
