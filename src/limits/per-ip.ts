import { createMiddleware } from "hono/factory";
import type { AppEnv, Env } from "../env";
import { readConfig } from "../lib/config";
import { AppError } from "../lib/errors";

export type IpLimitKind = "logins" | "tickets" | "connects";

function perMinute(env: Env, kind: IpLimitKind): number {
  const { ipRates } = readConfig(env);
  return kind === "logins" ? ipRates.loginsPerMin : kind === "tickets" ? ipRates.ticketsPerMin : ipRates.connectsPerMin;
}

/** The client address as Cloudflare reports it; local runs without the header share one bucket. */
export function clientAddress(request: Request): string {
  return request.headers.get("cf-connecting-ip") ?? request.headers.get("x-real-ip") ?? "local";
}

/** Refuses with 429 and Retry-After when the caller's address is over its per-minute limit. */
export function limitPerIp(kind: IpLimitKind) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const address = clientAddress(c.req.raw);
    const limiter = c.env.IP_LIMITER.get(c.env.IP_LIMITER.idFromName(address));
    const verdict = await limiter.take(kind, perMinute(c.env, kind));
    if (!verdict.allowed) {
      throw new AppError("RATE_LIMIT_EXCEEDED", `too many ${kind} from this address`, { retryAfterMs: verdict.retryAfterMs });
    }
    await next();
  });
}
