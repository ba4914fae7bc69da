import { DurableObject } from "cloudflare:workers";
import { take, type Bucket } from "../conversation/limiter";

/**
 * Per-address token buckets (logins, ticket issuance, socket connects), one object per client
 * address, so one address cannot flood the service. Buckets live in memory: losing them on
 * eviction only forgives an idle address, and keeps this hot path free of storage writes.
 */
export class IpLimiterDO extends DurableObject {
  private readonly buckets = new Map<string, Bucket>();

  async take(kind: string, perMinute: number): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const now = Date.now();
    const result = take(this.buckets.get(kind) ?? null, now, perMinute);
    if (!result.allowed) return { allowed: false, retryAfterMs: result.retryAfterMs };
    this.buckets.set(kind, result.bucket);
    return { allowed: true, retryAfterMs: 0 };
  }
}
