import { createMiddleware } from "hono/factory";
import type { AppEnv, Env } from "../env";
import { readConfig } from "../lib/config";
import { AppError } from "../lib/errors";
import { leaseSize, TokenLeases } from "./leases";

export type IpLimitKind = "logins" | "tickets" | "connects";

function perMinute(env: Env, kind: IpLimitKind): number {
  const { ipRates } = readConfig(env);
  return kind === "logins" ? ipRates.loginsPerMin : kind === "tickets" ? ipRates.ticketsPerMin : ipRates.connectsPerMin;
}

/** The client address as Cloudflare reports it; local runs without the header share one bucket. */
export function clientAddress(request: Request): string {
  return request.headers.get("cf-connecting-ip") ?? request.headers.get("x-real-ip") ?? "local";
}

/** Addresses whose leases this isolate keeps at once. */
const MAX_LEASED_ADDRESSES = 1_000;
const leases = new TokenLeases(MAX_LEASED_ADDRESSES);

/** Refuses with 429 and Retry-After when the caller's address is over its per-minute limit. */
export function limitPerIp(kind: IpLimitKind) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const address = clientAddress(c.req.raw);
    const rate = perMinute(c.env, kind);
    const verdict = await leases.take(`${kind} ${address}`, leaseSize(rate), (want, returned) =>
      c.env.IP_LIMITER.get(c.env.IP_LIMITER.idFromName(address)).take(kind, rate, want, returned),
    );
    if (!verdict.allowed) {
      throw new AppError("RATE_LIMIT_EXCEEDED", `too many ${kind} from this address`, { retryAfterMs: verdict.retryAfterMs });
    }
    await next();
  });
}
