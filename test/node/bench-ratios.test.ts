// The benchmark's ratio targets on a shared machine: the median pair decides, one noisy pair does not.
import { describe, expect, it } from "vitest";
import { parseOptions, type Options } from "../../bench/lib/options.ts";
import { medianRatio } from "../../bench/lib/report.ts";

describe("bench ratios", () => {
  it("takes the median of the pairs' ratios, whichever pair ran first", () => {
    const pairs = [
      { product: 9, probe: 3 },
      { product: 4, probe: 4 },
      { product: 5, probe: 4 },
    ];
    expect(medianRatio(pairs)).toBe(1.25);
    expect(medianRatio([...pairs].reverse())).toBe(1.25);
  });

  it("averages the middle two of an even count, and skips pairs with no ratio", () => {
    expect(medianRatio([{ product: 1, probe: 1 }, { product: 2, probe: 1 }])).toBe(1.5);
    expect(medianRatio([{ product: 2, probe: 0 }, { product: 3, probe: 2 }])).toBe(1.5);
    expect(medianRatio([])).toBeNaN();
  });

  it("runs 3 pairs unless told otherwise", () => {
    expect((parseOptions([]) as Options).pairs).toBe(3);
    expect((parseOptions(["--pairs", "1"]) as Options).pairs).toBe(1);
    expect(() => parseOptions(["--pairs", "0"])).toThrow(/outside/);
  });
});
