import { describe, expect, it } from "vitest";
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
