import { describe, expect, it } from "vitest";
import { queueBatches } from "../../src/webhooks/jobs";
import { isFinalAttempt, MAX_ATTEMPTS, MAX_DELAY_SECONDS, retryDelaySeconds, retryWindowSeconds } from "../../src/webhooks/retry";

describe("webhook retry policy", () => {
  it("retries first within 30 s, then backs off, capped", () => {
    expect(retryDelaySeconds(1, 10)).toBe(10);
    expect(retryDelaySeconds(2, 10)).toBe(20);
    expect(retryDelaySeconds(3, 10)).toBe(40);
    expect(retryDelaySeconds(20, 10)).toBe(MAX_DELAY_SECONDS);
  });

  it("keeps trying for at least an hour (and not for days)", () => {
    expect(retryWindowSeconds(10)).toBeGreaterThanOrEqual(3600);
    expect(retryWindowSeconds(10)).toBeLessThan(3 * 3600);
    expect(isFinalAttempt(MAX_ATTEMPTS - 1)).toBe(false);
    expect(isFinalAttempt(MAX_ATTEMPTS)).toBe(true);
  });
});

describe("queue batches", () => {
  it("cut at 100 messages, in order", () => {
    const sends = Array.from({ length: 250 }, (_, i) => ({ body: i }));
    const batches = queueBatches(sends);
    expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(batches.flat()).toEqual(sends);
  });

  it("cut before 256 KB", () => {
    const big = "x".repeat(100 * 1024);
    const batches = queueBatches([{ body: big }, { body: big }, { body: big }, { body: "small" }]);
    expect(batches.map((b) => b.length)).toEqual([2, 2]);
  });

  it("leave out a message the queue could never take, keeping the rest in order", () => {
    const batches = queueBatches<unknown>([{ body: 1 }, { body: "x".repeat(130 * 1024) }, { body: 2 }]);
    expect(batches).toEqual([[{ body: 1 }, { body: 2 }]]);
  });
});
