import { DurableObject } from "cloudflare:workers";
import { takeUpTo, type Bucket } from "../conversation/limiter";
import type { Verdict } from "./leases";

/**
 * Per-address token buckets (logins, ticket issuance, socket connects), one object per client
 * address, so one address cannot flood the service. Buckets live in memory: losing them on
 * eviction only forgives an idle address, and keeps this hot path free of storage writes.
 */
export class IpLimiterDO extends DurableObject {
  private readonly buckets = new Map<string, Bucket>();

  /** Up to `want` tokens of `kind` (a Worker isolate's lease), after `returned` unspent ones of its last lease came back. */
  async take(kind: string, perMinute: number, want = 1, returned = 0): Promise<Verdict> {
    const result = takeUpTo(this.buckets.get(kind) ?? null, Date.now(), perMinute, want, returned);
    if (!result.allowed) return { allowed: false, retryAfterMs: result.retryAfterMs };
    this.buckets.set(kind, result.bucket);
    return { allowed: true, granted: result.granted };
  }
}
