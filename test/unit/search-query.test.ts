import { describe, expect, it } from "vitest";
import { ftsMatch, searchWords } from "../../src/lib/search-query";

describe("searchWords", () => {
  it("splits on anything that is not a letter or digit, keeping every script", () => {
    expect(searchWords("  Hello, world! ")).toEqual(["Hello", "world"]);
    expect(searchWords("café au lait")).toEqual(["café", "au", "lait"]);
    expect(searchWords("ping-pong 2026")).toEqual(["ping", "pong", "2026"]);
    expect(searchWords("東京 Москва")).toEqual(["東京", "Москва"]);
  });

  it("treats FTS5 syntax as separators", () => {
    expect(searchWords('"a" OR b* NOT (c:d) NEAR(e f) ^g -h + {i}')).toEqual(["a", "OR", "b", "NOT", "c", "d", "NEAR", "e", "f", "g", "h", "i"]);
  });

  it("finds nothing in punctuation only or an empty text", () => {
    expect(searchWords("")).toEqual([]);
    expect(searchWords(' *"-:()^ ')).toEqual([]);
  });

  it("composes decomposed accents (NFC)", () => {
    expect(searchWords("cafe\u0301")).toEqual(["café"]);
  });
});

describe("ftsMatch", () => {
  it("quotes every word and makes the last a prefix", () => {
    expect(ftsMatch(["red", "bicyc"])).toBe('"red" "bicyc"*');
    expect(ftsMatch(["OR"])).toBe('"OR"*');
  });

  it("needs at least one word", () => {
    expect(() => ftsMatch([])).toThrow();
  });
});
