import { cors } from "hono/cors";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { readConfig, type Config } from "./config";

/** Pure: the Access-Control-Allow-Origin answer for a request from `origin`, or null for none. */
export function allowedOrigin(allowed: Config["corsOrigins"], origin: string): string | null {
  if (allowed === "*") return "*";
  return origin !== "" && allowed.includes(origin) ? origin : null;
}

const answerCors = cors({
  origin: (origin, c) => allowedOrigin(readConfig(c.env as AppEnv["Bindings"]).corsOrigins, origin),
  allowMethods: ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"],
  allowHeaders: ["Authorization", "Content-Type"],
  // A browser client reads how long to back off from a 429.
  exposeHeaders: ["Retry-After"],
  maxAge: 600,
});

/**
 * CORS_ORIGINS on every /api/* route, preflights answered before authentication. WebSocket
 * upgrades are left alone: browsers neither preflight them nor read CORS headers on them, and
 * an upgrade's 101 response cannot be copied to add headers.
 */
export const apiCors: MiddlewareHandler<AppEnv> = (c, next) =>
  c.req.header("upgrade")?.toLowerCase() === "websocket" ? next() : answerCors(c, next);
