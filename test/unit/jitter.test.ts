import { describe, expect, it } from "vitest";
import { jittered } from "../../src/lib/jitter";

describe("jittered", () => {
  it("spreads a window over ±25 %, so objects that started together do not run their rounds together", () => {
    expect(jittered(30_000, () => 0)).toBe(22_500);
    expect(jittered(30_000, () => 0.5)).toBe(30_000);
    expect(jittered(30_000, () => 0.999_999)).toBe(37_500);
    const spread = new Set(Array.from({ length: 50 }, () => jittered(30_000)));
    expect(spread.size).toBeGreaterThan(40);
  });
});
