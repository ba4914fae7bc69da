import { describe, expect, it } from "vitest";
import { jsonDepth, MAX_JSON_DEPTH } from "../../src/lib/json-depth";
import { CreateConversationBodySchema, PatchConversationBodySchema } from "../../src/schemas/conversations";
import { parseClientFrame } from "../../src/schemas/frames";
import { SendMessageBodySchema } from "../../src/schemas/messages";

/** An object `levels` deep counting itself: { a: [[…]] } with arrays below the top, the cheapest nesting to send. */
function nested(levels: number): Record<string, unknown> {
  let inner: unknown = [];
  for (let level = 2; level < levels; level++) inner = [inner];
  return levels === 1 ? {} : { a: inner };
}

describe("jsonDepth", () => {
  it("counts the value itself as level 1 and scalars as nothing", () => {
    expect(jsonDepth(null)).toBe(0);
    expect(jsonDepth("text")).toBe(0);
    expect(jsonDepth(42)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth([])).toBe(1);
    expect(jsonDepth({ a: 1, b: "x", c: null })).toBe(1);
    expect(jsonDepth({ a: {} })).toBe(2);
    expect(jsonDepth({ a: [1, [2, { b: 3 }]] })).toBe(4);
  });

  it("takes the deepest member, wherever it is", () => {
    expect(jsonDepth({ shallow: {}, deep: { x: { y: { z: [] } } }, last: 1 })).toBe(5);
    expect(jsonDepth([[], [[[]]], []])).toBe(4);
  });

  it("is exact up to the limit and answers limit + 1 beyond it", () => {
    for (const levels of [1, 2, 31, 32, 33, 34]) {
      expect(jsonDepth(nested(levels))).toBe(Math.min(levels, MAX_JSON_DEPTH + 1));
    }
    expect(jsonDepth(nested(10), 3)).toBe(4);
    expect(jsonDepth(nested(3), 3)).toBe(3);
  });

  it("walks a value far deeper than the stack allows without overflowing", () => {
    const hostile = JSON.parse(`{"a":${"[".repeat(200_000)}${"]".repeat(200_000)}}`) as unknown;
    expect(jsonDepth(hostile)).toBe(MAX_JSON_DEPTH + 1);
  });
});

describe("data and metadata nest at most 32 levels", () => {
  const depthMessage = expect.stringContaining(`at most ${MAX_JSON_DEPTH} levels`);

  it("message data: 32 levels pass, 33 are refused naming data", () => {
    expect(SendMessageBodySchema.safeParse({ content: "hi", data: nested(32) }).success).toBe(true);
    const refused = SendMessageBodySchema.safeParse({ content: "hi", data: nested(33) });
    expect(refused.success).toBe(false);
    expect(refused.error!.issues).toEqual([expect.objectContaining({ path: ["data"], message: depthMessage })]);
  });

  it("a deep value small enough in bytes is refused for its depth, never serialised", () => {
    const refused = SendMessageBodySchema.safeParse({ content: "hi", data: nested(4_000) });
    expect(JSON.stringify(nested(4_000)).length).toBeLessThan(8 * 1024);
    expect(refused.error!.issues).toEqual([expect.objectContaining({ path: ["data"], message: depthMessage })]);
    const hostile = JSON.parse(`{"a":${"[".repeat(200_000)}${"]".repeat(200_000)}}`) as unknown;
    expect(SendMessageBodySchema.safeParse({ content: "hi", data: hostile }).error!.issues[0]!.message).toEqual(depthMessage);
  });

  it("the socket's message.send frame: 32 levels pass, 33 are an error naming data", () => {
    expect(parseClientFrame(JSON.stringify({ type: "message.send", client_id: "c", content: "hi", data: nested(32) })).ok).toBe(true);
    const refused = parseClientFrame(JSON.stringify({ type: "message.send", ref: "r", client_id: "c", content: "hi", data: nested(33) }));
    expect(refused).toEqual({
      ok: false,
      ref: "r",
      code: "VALIDATION_ERROR",
      message: expect.stringMatching(/^data: must nest at most 32 levels/),
      details: [{ field: "data", message: expect.stringMatching(/^must nest at most 32 levels/) }],
    });
  });

  it("conversation metadata on create and patch: 32 levels pass, 33 are refused naming metadata", () => {
    for (const schema of [CreateConversationBodySchema, PatchConversationBodySchema]) {
      const base = schema === CreateConversationBodySchema ? { type: "group" } : {};
      expect(schema.safeParse({ ...base, metadata: nested(32) }).success).toBe(true);
      const refused = schema.safeParse({ ...base, metadata: nested(33) });
      expect(refused.error!.issues).toEqual([expect.objectContaining({ path: ["metadata"], message: depthMessage })]);
    }
  });

  it("the byte limit still holds for shallow values", () => {
    const refused = SendMessageBodySchema.safeParse({ content: "hi", data: { big: "x".repeat(9 * 1024) } });
    expect(refused.error!.issues).toEqual([expect.objectContaining({ path: ["data"], message: "must serialise to at most 8192 bytes" })]);
  });
});
