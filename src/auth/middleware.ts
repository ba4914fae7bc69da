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

/** After requireAuth: only the app's backend (a token with the `service` role). */
export const requireService = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.get("identity").isService) throw new AppError("FORBIDDEN", "only the app's backend (a service token) may do this");
  await next();
});

/** After requireAuth: a chat user; the app's backend has no friends, blocks, inbox or sockets of its own. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("identity").isService) throw new AppError("FORBIDDEN", "the app's backend is not a chat user");
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
  if (identity.isService) throw new AppError("FORBIDDEN", "the app's backend opens no sockets: it hears events through webhooks");
  c.set("identity", await authenticated(c.env, identity));
  await next();
});

async function authenticated(env: AppEnv["Bindings"], identity: Identity): Promise<Identity> {
  // The app's backend is not a chat user: it gets no user row.
  if (!identity.isService) await provisionUser(database(env.DB), identity);
  return identity;
}
