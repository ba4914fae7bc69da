import { z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { fromZodIssues } from "../../src/lib/errors";
import { ContextSchema, CreateConversationBodySchema, ListConversationsQuerySchema } from "../../src/schemas/conversations";
import { HistoryQuerySchema, SendMessageBodySchema } from "../../src/schemas/messages";
import { CreateOfferBodySchema, RespondOfferBodySchema } from "../../src/schemas/offers";
import { LoginBodySchema, PatchMeBodySchema } from "../../src/schemas/users";

/** The details a schema's refusal of `input` becomes, as the API answers them. */
function details(schema: z.ZodType, input: unknown) {
  const result = schema.safeParse(input);
  if (result.success) throw new Error(`expected a refusal of ${JSON.stringify(input)}`);
  return fromZodIssues(result.error.issues).details;
}

describe("validation messages are plain words", () => {
  it("types: a number, a whole number, text, an object, a list, true or false", () => {
    expect(details(HistoryQuerySchema, { limit: "abc" })).toEqual([{ field: "limit", message: "must be a number" }]);
    expect(details(HistoryQuerySchema, { after_seq: "1.5" })).toEqual([{ field: "after_seq", message: "must be a whole number" }]);
    expect(details(SendMessageBodySchema, { content: 42 })).toEqual([{ field: "content", message: "must be text" }]);
    expect(details(SendMessageBodySchema, { content: "x", data: [1] })).toEqual([{ field: "data", message: "must be an object" }]);
    expect(details(CreateConversationBodySchema, { type: "group", participant_ids: "u1" })).toEqual([{ field: "participant_ids", message: "must be a list" }]);
    expect(details(z.object({ on: z.boolean() }), { on: "yes" })).toEqual([{ field: "on", message: "must be true or false" }]);
  });

  it("a missing field is required", () => {
    expect(details(ContextSchema, { type: "product" })).toEqual([{ field: "id", message: "is required" }]);
    expect(details(CreateOfferBodySchema, {})).toEqual([{ field: "amount", message: "is required" }]);
  });

  it("choices are listed", () => {
    expect(details(CreateConversationBodySchema, { type: "channel" })).toEqual([{ field: "type", message: "must be one of: direct, group" }]);
    expect(details(ListConversationsQuerySchema, { status: "archived" })).toEqual([{ field: "status", message: "must be one of: active, closed" }]);
  });

  it("bounds say the limit and its unit", () => {
    expect(details(z.object({ content: z.string().max(1000) }), { content: "x".repeat(1001) })).toEqual([{ field: "content", message: "must be at most 1000 characters" }]);
    expect(details(HistoryQuerySchema, { limit: "101" })).toEqual([{ field: "limit", message: "must be at most 100" }]);
    expect(details(HistoryQuerySchema, { limit: "0" })).toEqual([{ field: "limit", message: "must be at least 1" }]);
    expect(details(CreateOfferBodySchema, { amount: 0 })).toEqual([{ field: "amount", message: "must be greater than 0" }]);
    expect(details(CreateConversationBodySchema, { type: "group", participant_ids: Array.from({ length: 101 }, (_, i) => `u${i}`) })).toEqual([
      { field: "participant_ids", message: "must be at most 100 items" },
    ]);
    expect(details(PatchMeBodySchema, { name: "   " })).toEqual([{ field: "name", message: "must not be empty" }]);
  });

  it("formats: email and http(s) URL", () => {
    expect(details(LoginBodySchema, { email: "not-an-email" })).toEqual([{ field: "email", message: "must be an email address" }]);
    expect(details(PatchMeBodySchema, { avatar_url: "ftp://img.test/a.png" })).toEqual([{ field: "avatar_url", message: "must be an http or https URL" }]);
  });

  it("unknown fields are named one by one, also inside nested objects", () => {
    const named = details(CreateConversationBodySchema, { type: "group", context_type: "product", context: { type: "p", id: "1", colour: "red" } });
    expect(named).toHaveLength(2);
    expect(named).toEqual(
      expect.arrayContaining([
        { field: "context_type", message: "is not a known field" },
        { field: "context.colour", message: "is not a known field" },
      ]),
    );
  });

  it("a union says each form it takes", () => {
    expect(details(z.object({ ref: z.union([z.string(), z.number()]) }), { ref: true })).toEqual([{ field: "ref", message: "must be text or a number" }]);
  });

  it("messages a schema gives itself are kept", () => {
    expect(details(ContextSchema, { type: "p", id: "1", currency: "usd" })).toEqual([{ field: "currency", message: "must be an ISO-4217 code such as USD" }]);
    expect(details(RespondOfferBodySchema, { action: "counter" })).toEqual([{ field: "counter_amount", message: "a counter needs counter_amount" }]);
  });

  it("no validator wording leaks for any of a spread of bad bodies", () => {
    const cases: [z.ZodType, unknown][] = [
      [SendMessageBodySchema, { content: null, type: 7, client_id: "", reply_to: [], data: "x", attachment_id: {} }],
      [CreateConversationBodySchema, { type: null, participant_emails: ["a@"], title: "", context: [], roles: { u1: "king" }, metadata: 3 }],
      [CreateOfferBodySchema, { amount: "ten", currency: 5, product_id: "", message: {}, client_id: 1 }],
      [HistoryQuerySchema, { before_seq: "-1", after_seq: "x", limit: "NaN" }],
    ];
    for (const [schema, input] of cases) {
      for (const d of details(schema, input) ?? []) expect(d.message).not.toMatch(/invalid|expected|received|NaN|too (big|small)/i);
    }
  });
});
