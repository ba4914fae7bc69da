import { describe, expect, it } from "vitest";
import { takeUpTo, type Bucket } from "../../src/conversation/limiter";
import { LEASE_MS, leaseSize, TokenLeases, type Verdict } from "../../src/limits/leases";

/** An address's limiter object as the leases see it: one bucket, every ask counted. */
function limiterObject(perMinute: number, clock: { now: number }) {
  let bucket: Bucket | null = null;
  const asks: { want: number; returned: number }[] = [];
  const ask = async (want: number, returned: number): Promise<Verdict> => {
    asks.push({ want, returned });
    await Promise.resolve(); // an RPC answers later
    const result = takeUpTo(bucket, clock.now, perMinute, want, returned);
    if (!result.allowed) return result;
    bucket = result.bucket;
    return { allowed: true, granted: result.granted };
  };
  return { ask, asks };
}

async function allowedOf(leases: TokenLeases, key: string, want: number, ask: (want: number, returned: number) => Promise<Verdict>, n: number): Promise<number> {
  const verdicts = await Promise.all(Array.from({ length: n }, () => leases.take(key, want, ask)));
  return verdicts.filter((v) => v.allowed).length;
}

describe("leaseSize", () => {
  it("is a second's worth of the rate, at least one token: at the default limits every request asks", () => {
    expect(leaseSize(20)).toBe(1);
    expect(leaseSize(60)).toBe(1);
    expect(leaseSize(120)).toBe(2);
    expect(leaseSize(100_000)).toBe(1_666);
  });
});

describe("TokenLeases", () => {
  it("one token a lease: every take asks the object, and the limit holds exactly", async () => {
    const clock = { now: 0 };
    const object = limiterObject(3, clock);
    const leases = new TokenLeases(10, () => clock.now);
    expect(await allowedOf(leases, "k", leaseSize(3), object.ask, 5)).toBe(3);
    expect(object.asks).toHaveLength(5);
  });

  it("a lease serves the isolate's next requests without asking; concurrent first requests share one ask", async () => {
    const clock = { now: 0 };
    const object = limiterObject(600, clock); // 10 a second
    const leases = new TokenLeases(10, () => clock.now);
    expect(await allowedOf(leases, "k", leaseSize(600), object.ask, 10)).toBe(10);
    expect(object.asks).toEqual([{ want: 10, returned: 0 }]);
    // Spent: the next asks again.
    expect((await leases.take("k", 10, object.ask)).allowed).toBe(true);
    expect(object.asks).toHaveLength(2);
  });

  it("never allows more than the object grants: a burst over the limit is refused past it", async () => {
    const clock = { now: 0 };
    const object = limiterObject(120, clock); // leases of 2
    const leases = new TokenLeases(10, () => clock.now);
    expect(await allowedOf(leases, "k", leaseSize(120), object.ask, 150)).toBe(120);
  });

  it("an ended lease's unspent tokens go back with the next ask; a live one is not asked for", async () => {
    const clock = { now: 0 };
    const object = limiterObject(600, clock);
    const leases = new TokenLeases(10, () => clock.now);
    await leases.take("k", 10, object.ask); // 10 granted, 9 left here
    await leases.take("k", 10, object.ask);
    clock.now += LEASE_MS - 1;
    await leases.take("k", 10, object.ask); // still the lease: 7 left
    expect(object.asks).toHaveLength(1);
    clock.now += 1;
    await leases.take("k", 10, object.ask);
    expect(object.asks).toEqual([
      { want: 10, returned: 0 },
      { want: 10, returned: 7 },
    ]);
  });

  it("a refusal is passed on with its retry time, and keys are separate", async () => {
    const clock = { now: 0 };
    const busy = limiterObject(2, clock);
    const leases = new TokenLeases(10, () => clock.now);
    await leases.take("a", 1, busy.ask);
    await leases.take("a", 1, busy.ask);
    expect(await leases.take("a", 1, busy.ask)).toEqual({ allowed: false, retryAfterMs: 30_000 });
    const other = limiterObject(2, clock);
    expect((await leases.take("b", 1, other.ask)).allowed).toBe(true);
  });

  it("keeps at most maxKeys leases: the oldest goes (its tokens are lost, not overspent)", async () => {
    const clock = { now: 0 };
    const leases = new TokenLeases(2, () => clock.now);
    const objects = ["a", "b", "c"].map((key) => ({ key, object: limiterObject(600, clock) }));
    for (const { key, object } of objects) await leases.take(key, 10, object.ask);
    // Newest first, so no take evicts a lease the next one would use.
    for (const { key, object } of [...objects].reverse()) await leases.take(key, 10, object.ask);
    expect(objects.map(({ object }) => object.asks.length)).toEqual([2, 1, 1]);
    expect(objects[0]!.object.asks[1]).toEqual({ want: 10, returned: 0 });
  });
});
