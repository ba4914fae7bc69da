import { describe, expect, it } from "vitest";
import { nextStamp } from "../../src/lib/ids";
import { latestChanges } from "../../src/mirror/presence";
import { jsonChunks } from "../../src/mirror/summary";

describe("jsonChunks", () => {
  it("packs items into JSON arrays of about the limit each, keeping their order; an oversized item goes alone", () => {
    const items = [{ a: "x".repeat(10) }, { b: 2 }, { c: "y".repeat(30) }, { d: 4 }];
    const chunks = jsonChunks(items, 40);
    expect(chunks.map((c) => JSON.parse(c))).toEqual([[items[0], items[1]], [items[2]], [items[3]]]);
    expect(chunks.flatMap((c) => JSON.parse(c) as unknown[])).toEqual(items);
  });

  it("gives no statement for no items, and one array when all fit", () => {
    expect(jsonChunks([])).toEqual([]);
    expect(jsonChunks([1, 2, 3])).toEqual(["[1,2,3]"]);
  });
});

describe("nextStamp", () => {
  it("is the clock in microseconds, or one past the previous stamp when the clock has not moved past it", () => {
    expect(nextStamp(0, 1_000)).toBe(1_000_000);
    expect(nextStamp(1_000_000, 1_000)).toBe(1_000_001);
    expect(nextStamp(5_000_000, 1_000)).toBe(5_000_001); // a clock behind the previous stamp never goes back
    expect(nextStamp(1_000_001, 2_000)).toBe(2_000_000);
  });
});

describe("latestChanges", () => {
  it("keeps each user's change with the highest stamp, whatever the order", () => {
    const change = (user_id: string, online: boolean, stamp: number) => ({ user_id, online, at: "2030-01-01T00:00:00.000Z", stamp });
    const changes = [change("a", true, 2), change("b", true, 1), change("a", false, 3), change("b", false, 0)];
    expect(latestChanges(changes).sort((x, y) => x.user_id.localeCompare(y.user_id))).toEqual([change("a", false, 3), change("b", true, 1)]);
  });
});
