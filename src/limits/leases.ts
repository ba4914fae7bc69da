/** What an address's limiter object answers: tokens granted, or how long until one is there. */
export type Verdict = { allowed: true; granted: number } | { allowed: false; retryAfterMs: number };

/** How long an isolate may spend the tokens it took ahead of need. */
export const LEASE_MS = 1_000;

/** A second's worth of `perMinute` (at least 1): at the default limits a lease is one token, so every request asks. */
export function leaseSize(perMinute: number): number {
  return Math.max(1, Math.floor((perMinute * LEASE_MS) / 60_000));
}

interface Lease {
  tokens: number;
  until: number;
}

/**
 * Tokens a Worker isolate took from an address's limiter object ahead of need, spent here for
 * at most LEASE_MS. An address allowed many requests (a NAT, an app's backend, the benchmark
 * with limits lifted) then costs its object one call per lease instead of one per request.
 * The object never hands out more than its bucket holds, so the limit is never exceeded; what
 * a lease did not spend goes back with the isolate's next ask, or is lost (the limit is then
 * undershot by at most one lease). While one ask for an address is in flight, the isolate's
 * other requests for it wait for that answer instead of each taking a lease.
 */
export class TokenLeases {
  private readonly leases = new Map<string, Lease>();
  private readonly asking = new Map<string, Promise<unknown>>();

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Spends one token of `key`: from this isolate's lease, else through `ask(want, returned)`. */
  async take(key: string, want: number, ask: (want: number, returned: number) => Promise<Verdict>): Promise<Verdict> {
    for (;;) {
      const lease = this.leases.get(key);
      if (lease && lease.until > this.now() && lease.tokens >= 1) {
        lease.tokens--;
        return { allowed: true, granted: 1 };
      }
      const inFlight = want > 1 ? this.asking.get(key) : undefined;
      if (!inFlight) break;
      await inFlight.catch(() => undefined);
    }
    const ended = this.leases.get(key);
    this.leases.delete(key);
    const asked = ask(want, ended ? Math.floor(ended.tokens) : 0);
    if (want > 1) {
      const settled = asked.finally(() => {
        if (this.asking.get(key) === settled) this.asking.delete(key);
      });
      this.asking.set(key, settled);
    }
    const verdict = await asked;
    if (verdict.allowed && verdict.granted > 1) this.keep(key, { tokens: verdict.granted - 1, until: this.now() + LEASE_MS });
    return verdict.allowed ? { allowed: true, granted: 1 } : verdict;
  }

  /** Bounded: past `maxKeys`, ended leases go first, then the oldest (their tokens are lost, never overspent). */
  private keep(key: string, lease: Lease): void {
    if (this.leases.size >= this.maxKeys) {
      const now = this.now();
      for (const [k, l] of this.leases) if (l.until <= now) this.leases.delete(k);
      for (const k of this.leases.keys()) {
        if (this.leases.size < this.maxKeys) break;
        this.leases.delete(k);
      }
    }
    this.leases.set(key, lease);
  }
}
