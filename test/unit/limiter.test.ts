import { describe, expect, it } from "vitest";
import { debit, take, takeUpTo, type Bucket } from "../../src/conversation/limiter";

/** Takes `n` times at the same instant, threading the bucket; returns how many were allowed and the last bucket. */
function burst(start: Bucket | null, now: number, perMinute: number, n: number) {
  let bucket = start;
  let allowed = 0;
  let refused: { retryAfterMs: number } | null = null;
  for (let i = 0; i < n; i++) {
    const result = take(bucket, now, perMinute);
    if (result.allowed) {
      allowed++;
      bucket = result.bucket;
    } else {
      refused ??= { retryAfterMs: result.retryAfterMs };
    }
  }
  return { allowed, bucket, refused };
}

describe("take (token bucket)", () => {
  it("a missing bucket is full: the first take leaves perMinute - 1 tokens stamped now", () => {
    const result = take(null, 1_000, 10);
    expect(result).toEqual({ allowed: true, bucket: { tokens: 9, updatedAt: 1_000 } });
  });

  it("a full bucket allows exactly N in a burst, then refuses", () => {
    const { allowed, bucket, refused } = burst(null, 5_000, 10, 15);
    expect(allowed).toBe(10);
    expect(bucket).toEqual({ tokens: 0, updatedAt: 5_000 });
    expect(refused).not.toBeNull();
  });

  it("a refusal's retryAfterMs is exactly the time to refill one token", () => {
    // 10/min: one token every 6 s.
    const empty: Bucket = { tokens: 0, updatedAt: 0 };
    expect(take(empty, 0, 10)).toEqual({ allowed: false, retryAfterMs: 6_000 });
    // 30/min: one token every 2 s; 120/min: every 500 ms.
    expect(take(empty, 0, 30)).toEqual({ allowed: false, retryAfterMs: 2_000 });
    expect(take(empty, 0, 120)).toEqual({ allowed: false, retryAfterMs: 500 });
    // Half a token already refilled: only the other half is left to wait for.
    expect(take(empty, 3_000, 10)).toEqual({ allowed: false, retryAfterMs: 3_000 });
    // A fractional remainder rounds up, never down (waiting less would be refused again).
    expect(take({ tokens: 0.5, updatedAt: 0 }, 0, 7)).toEqual({ allowed: false, retryAfterMs: Math.ceil(0.5 / (7 / 60_000)) });
  });

  it("waiting exactly retryAfterMs makes the next take succeed, and one ms less does not", () => {
    const empty: Bucket = { tokens: 0, updatedAt: 10_000 };
    const refused = take(empty, 10_000, 10);
    expect(refused.allowed).toBe(false);
    const wait = refused.allowed ? 0 : refused.retryAfterMs;
    expect(wait).toBe(6_000);
    expect(take(empty, 10_000 + wait - 1, 10).allowed).toBe(false);
    const ok = take(empty, 10_000 + wait, 10);
    expect(ok.allowed).toBe(true);
    if (ok.allowed) {
      expect(ok.bucket.updatedAt).toBe(16_000);
      expect(ok.bucket.tokens).toBeCloseTo(0, 9);
    }
  });

  it("waiting the advertised retryAfterMs always suffices, whatever the fraction left", () => {
    // A client that honours retry_after_ms must not be refused again. Floating-point
    // rounding must not leave the bucket at 0.9999… after exactly that wait.
    const failures: string[] = [];
    for (const perMinute of [5, 9, 10, 13, 18, 30, 36, 60, 72, 120]) {
      for (let k = 0; k < 100; k++) {
        const bucket: Bucket = { tokens: k / 100, updatedAt: 1_000 };
        const refused = take(bucket, 1_000, perMinute);
        if (refused.allowed) continue;
        if (!take(bucket, 1_000 + refused.retryAfterMs, perMinute).allowed) {
          failures.push(`${perMinute}/min from ${k / 100} tokens: still refused after ${refused.retryAfterMs} ms`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("refills continuously at perMinute per minute", () => {
    const empty: Bucket = { tokens: 0, updatedAt: 0 };
    // 60/min = one per second: after 3.5 s, three takes pass and the fourth waits 500 ms.
    const { allowed, refused } = burst(empty, 3_500, 60, 4);
    expect(allowed).toBe(3);
    expect(refused?.retryAfterMs).toBe(500);
  });

  it("never holds more than perMinute tokens, however long it idles", () => {
    const old: Bucket = { tokens: 0, updatedAt: 0 };
    const later = take(old, 60 * 60_000, 10);
    expect(later).toEqual({ allowed: true, bucket: { tokens: 9, updatedAt: 60 * 60_000 } });
    // A bucket stored above capacity is capped too.
    expect(take({ tokens: 50, updatedAt: 0 }, 0, 10)).toEqual({ allowed: true, bucket: { tokens: 9, updatedAt: 0 } });
    // A long-idle bucket allows one full burst, not more.
    expect(burst(old, 10 * 60_000, 10, 20).allowed).toBe(10);
  });

  it("a clock that goes backwards refills nothing", () => {
    const bucket: Bucket = { tokens: 0.25, updatedAt: 100_000 };
    const result = take(bucket, 50_000, 60);
    expect(result).toEqual({ allowed: false, retryAfterMs: 750 });
  });
});

describe("debit (spends reported after the fact)", () => {
  it("takes what was spent, and says nothing while a whole token is left", () => {
    expect(debit(null, 3, 1_000, 10)).toEqual({ bucket: { tokens: 7, updatedAt: 1_000 }, throttledUntil: null });
  });

  it("goes into debt, throttled until the debt is waited off and a whole token is back", () => {
    // 60/min: one token a second. Full (60), 70 spent: -10, so 11 s until a token.
    expect(debit(null, 70, 0, 60)).toEqual({ bucket: { tokens: -10, updatedAt: 0 }, throttledUntil: 11_000 });
    // Exactly empty: one token away.
    expect(debit(null, 60, 0, 60).throttledUntil).toBe(1_000);
  });

  it("refills like take before it subtracts, and a take after the throttle succeeds", () => {
    const { bucket, throttledUntil } = debit({ tokens: 0, updatedAt: 0 }, 5, 3_000, 60);
    expect(bucket.tokens).toBeCloseTo(-2, 9);
    expect(throttledUntil).toBe(6_000);
    expect(take(bucket, throttledUntil!, 60).allowed).toBe(true);
    expect(take(bucket, throttledUntil! - 1, 60).allowed).toBe(false);
  });
});

describe("takeUpTo (a lease of several tokens)", () => {
  it("grants what is wanted while the bucket holds it, then the whole tokens left, then refuses", () => {
    const first = takeUpTo(null, 0, 10, 4, 0);
    expect(first).toEqual({ allowed: true, granted: 4, bucket: { tokens: 6, updatedAt: 0 } });
    const second = takeUpTo({ tokens: 2.5, updatedAt: 0 }, 0, 10, 4, 0);
    expect(second).toEqual({ allowed: true, granted: 2, bucket: { tokens: 0.5, updatedAt: 0 } });
    expect(takeUpTo({ tokens: 0.5, updatedAt: 0 }, 0, 10, 4, 0)).toEqual({ allowed: false, retryAfterMs: 3_000 });
  });

  it("tokens given back count before the take, never above capacity", () => {
    expect(takeUpTo({ tokens: 0, updatedAt: 0 }, 0, 10, 1, 3)).toEqual({ allowed: true, granted: 1, bucket: { tokens: 2, updatedAt: 0 } });
    expect(takeUpTo({ tokens: 9, updatedAt: 0 }, 0, 10, 1, 5)).toEqual({ allowed: true, granted: 1, bucket: { tokens: 9, updatedAt: 0 } });
  });

  it("is take when one token is wanted", () => {
    for (const bucket of [null, { tokens: 0.2, updatedAt: 0 }, { tokens: 3, updatedAt: 500 }]) {
      const one = takeUpTo(bucket, 1_000, 30, 1, 0);
      const plain = take(bucket, 1_000, 30);
      expect(one.allowed ? { allowed: true, bucket: one.bucket } : one).toEqual(plain);
    }
  });
});
