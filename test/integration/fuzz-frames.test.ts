import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MessageSchema } from "../../src/schemas/messages";
import { OfferSchema } from "../../src/schemas/offers";
import { callJson, direct, history, login, sendRest, type TestUser } from "../helpers/api";
import { connect, type Frame, type TestSocket } from "../helpers/sockets";

// Property-based tests over conversation socket frames (DESIGN.md, Realtime): every input is
// answered with a valid result or an `error` frame carrying a documented code, the socket stays
// open, and the message log afterwards is exactly what the frames announced (gapless, no
// half-written message).
//
// Each fast-check run is one batch of inputs on one socket of a fresh conversation (so rate-limit
// buckets start full). Every input is followed by a ref'd ping: frames on one socket are handled
// and answered in order, so the frames between two barrier replies are exactly the answer to the
// input between them. The barrier is answered `pong`, or RATE_LIMIT_EXCEEDED once the user's
// 30-a-minute ping bucket is spent; both are ordered replies and serve equally.

const DOCUMENTED_CODES = new Set([
  "AUTHENTICATION_REQUIRED",
  "INVALID_TOKEN",
  "CHAT_ACCESS_DENIED",
  "NOT_FRIENDS",
  "BLOCKED",
  "FORBIDDEN",
  "CONVERSATION_NOT_FOUND",
  "MESSAGE_NOT_FOUND",
  "USER_NOT_FOUND",
  "NOT_FOUND",
  "VALIDATION_ERROR",
  "CONVERSATION_CLOSED",
  "OFFER_NOT_PENDING",
  "FILE_TOO_LARGE",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_FILE_TYPE",
  "RATE_LIMIT_EXCEEDED",
  "INTERNAL",
]);

const CLIENT_TYPES = [
  "message.send",
  "message.edit",
  "message.delete",
  "reaction.add",
  "reaction.remove",
  "typing.start",
  "typing.stop",
  "read",
  "offer.send",
  "offer.respond",
  "sync",
  "ping",
] as const;
type ClientType = (typeof CLIENT_TYPES)[number];
const KNOWN_TYPES = new Set<string>(CLIENT_TYPES);

/** The documented codes a refused frame of each type may carry here (an open conversation, a participant, no attachments). */
const ALLOWED_ERRORS: Record<ClientType, string[]> = {
  "message.send": ["VALIDATION_ERROR", "RATE_LIMIT_EXCEEDED"],
  "message.edit": ["VALIDATION_ERROR", "MESSAGE_NOT_FOUND", "FORBIDDEN"],
  "message.delete": ["VALIDATION_ERROR", "MESSAGE_NOT_FOUND", "FORBIDDEN"],
  "reaction.add": ["VALIDATION_ERROR", "MESSAGE_NOT_FOUND"],
  "reaction.remove": ["VALIDATION_ERROR", "MESSAGE_NOT_FOUND"],
  "typing.start": ["VALIDATION_ERROR"],
  "typing.stop": ["VALIDATION_ERROR"],
  read: ["VALIDATION_ERROR"],
  "offer.send": ["VALIDATION_ERROR", "RATE_LIMIT_EXCEEDED"],
  "offer.respond": ["VALIDATION_ERROR", "NOT_FOUND", "FORBIDDEN", "OFFER_NOT_PENDING", "RATE_LIMIT_EXCEEDED"],
  sync: ["VALIDATION_ERROR"],
  ping: ["VALIDATION_ERROR", "RATE_LIMIT_EXCEEDED"],
};

// ── What a server frame may look like (DESIGN.md, Realtime) ──

const Ref = z.union([z.string(), z.number(), z.null()]);
const Msg = MessageSchema;
const ServerFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("message.ack"), client_id: z.string().nullable(), ref: Ref, message: Msg }).strict(),
  z.object({ type: z.literal("message.new"), message: Msg, delivered_to: z.array(z.string()) }).strict(),
  z.object({ type: z.literal("message.updated"), message: Msg }).strict(),
  z.object({ type: z.literal("reaction.updated"), message_id: z.string(), reactions: z.record(z.string(), z.array(z.string())) }).strict(),
  z.object({ type: z.literal("offer.updated"), offer: OfferSchema }).strict(),
  z.object({ type: z.literal("delivered"), user_id: z.string(), up_to_seq: z.number().int().positive() }).strict(),
  z.object({ type: z.literal("read"), user_id: z.string(), up_to_seq: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal("sync.batch"), ref: Ref.optional(), messages: z.array(Msg).min(1).max(100) }).strict(),
  z.object({ type: z.literal("sync.done"), ref: Ref.optional(), last_seq: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal("pong"), ref: Ref.optional() }).strict(),
  z
    .object({
      type: z.literal("error"),
      ref: Ref.optional(),
      code: z.string().refine((c) => DOCUMENTED_CODES.has(c) && c !== "INTERNAL", { message: "undocumented or INTERNAL code" }),
      message: z.string().min(1),
      details: z.array(z.object({ field: z.string(), message: z.string().min(1) }).strict()).optional(),
      retry_after_ms: z.number().positive().optional(),
    })
    .strict(),
]);

// ── Inputs ──

type Input = { text: string } | { bytes: Uint8Array };

/** Ids only known once a run's conversation is seeded; generated frames name them by placeholder. */
const OWN = "$OWN";
const OTHER = "$OTHER";
const OFFER = "$OFFER";
const OFFER_MSG = "$OFFER_MSG";
const PLACEHOLDERS = [OWN, OTHER, OFFER, OFFER_MSG];

const utf8 = new TextEncoder();
const wireBytes = (text: string) => utf8.encode(text).byteLength;
const MAX_FRAME = 64 * 1024;

function nest(depth: number): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { n: value };
  return value;
}

const hugeNumbers = fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, -(2 ** 53) - 2, 5e-324, -0, 0.1, -1, 1.5, 1e21, 123456789.123456, 2 ** 31, -(2 ** 31) - 1);
const unicodeStrings = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("", " ", "\u0000", "\u202e\u0645\u0631\u062d\u0628\u0627", "👍", "👍🏽", "🇫🇷", "1️⃣", "\ud800", "\udfff", "\uFEFF", "e\u0301", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", " \t\n "),
);
const longStrings = fc.integer({ min: 100, max: 12_000 }).map((n) => "x".repeat(n));
const junk = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: hugeNumbers },
  { weight: 2, arbitrary: unicodeStrings },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1500 }).map(nest) },
  { weight: 1, arbitrary: longStrings },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, ...PLACEHOLDERS) },
);
const keyName = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "type ", "TYPE", "Type", "ref", "data", "content", "client_id", "message_id"),
);
const optionalRef = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 3, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.string({ minLength: 129, maxLength: 200 }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, {}, [], "") },
  ),
  { nil: undefined, freq: 3 },
);
const messageId = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(OWN, OTHER, OFFER_MSG) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom("msg_nope", "", "x".repeat(129)) },
);
const clientId = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map((n) => `c-${n}`) },
  { weight: 2, arbitrary: fc.constantFrom("dup-1", " dup-1 ", "dup-2", "dup-2") },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const content = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom("  ", "", "\n", "x".repeat(1000), "x".repeat(1001), "👍".repeat(1000), "👍".repeat(1001), ` ${"y".repeat(1000)} `) },
);
const amount = fc.oneof(
  fc.integer({ min: 1, max: 100_000 }),
  fc.integer({ min: 1, max: 10_000_000 }).map((n) => n / 100),
  fc.double({ min: -10, max: 2e9, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 0.001, 1e-9, 0.005, 1e9, 1e9 + 0.01, 0.1 + 0.2, 12.345),
);
const emoji = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("👍", "❤️", ":smile:", "👍🏽", "🇫🇷", "1️⃣", "👨‍👩‍👧", ":+1:") },
  { weight: 1, arbitrary: fc.constantFrom("", "abc", "👍👍", ":SMILE:", "::", "x".repeat(65)) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 3 }) },
);

type Obj = Record<string, unknown>;
const opt = <T,>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
/** The fields each client frame type has (DESIGN.md, Realtime): any other is refused. */
const FRAME_FIELDS = new Map<string, readonly string[]>();
function frame(type: ClientType, fields: { [key: string]: fc.Arbitrary<unknown> }): fc.Arbitrary<Obj> {
  FRAME_FIELDS.set(type, ["type", "ref", ...Object.keys(fields)]);
  return fc.record({ ref: optionalRef, ...fields }).map((rest) => {
    const out: Obj = { type };
    for (const [key, value] of Object.entries(rest)) if (value !== undefined) out[key] = value;
    return out;
  });
}

/** One well-formed frame of every client frame type of DESIGN.md. */
const validFrame: fc.Arbitrary<Obj> = fc.oneof(
  { weight: 5, arbitrary: frame("message.send", {
    client_id: clientId,
    content,
    message_type: opt(fc.constantFrom("text", "product", "image", "file", "voice")),
    data: opt(fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.record({ product_id: fc.string({ maxLength: 10 }) }))),
    reply_to: opt(messageId),
    attachment_id: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
  }) },
  { weight: 2, arbitrary: frame("message.edit", { message_id: messageId, content }) },
  { weight: 1, arbitrary: frame("message.delete", { message_id: messageId }) },
  { weight: 2, arbitrary: frame("reaction.add", { message_id: messageId, emoji }) },
  { weight: 1, arbitrary: frame("reaction.remove", { message_id: messageId, emoji }) },
  { weight: 1, arbitrary: frame("typing.start", {}) },
  { weight: 1, arbitrary: frame("typing.stop", {}) },
  { weight: 1, arbitrary: frame("read", { up_to_seq: opt(fc.nat({ max: 12 })) }) },
  { weight: 2, arbitrary: frame("offer.send", {
    amount,
    currency: opt(fc.constantFrom("USD", "EUR", "JPY", "usd", "US", "EURO", "")),
    product_id: opt(fc.string({ maxLength: 10 })),
    message: opt(content),
    client_id: opt(clientId),
  }) },
  { weight: 2, arbitrary: frame("offer.respond", {
    offer_id: fc.oneof({ weight: 4, arbitrary: fc.constant(OFFER) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
    action: fc.constantFrom("accept", "reject", "counter", "withdraw"),
    counter_amount: opt(amount),
    message: opt(content),
  }) },
  { weight: 2, arbitrary: frame("sync", { after_seq: opt(fc.nat({ max: 12 })) }) },
  { weight: 1, arbitrary: frame("ping", {}) },
);

type Mutation =
  | { kind: "drop"; at: number }
  | { kind: "retype"; at: number; value: unknown }
  | { kind: "extra"; key: string; value: unknown }
  | { kind: "type"; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("retype" as const), at: fc.nat(), value: junk }),
  fc.record({ kind: fc.constant("extra" as const), key: keyName, value: junk }),
  fc.record({
    kind: fc.constant("type" as const),
    value: fc.oneof(
      fc.constantFrom<unknown>(...CLIENT_TYPES),
      fc.constantFrom<unknown>("MESSAGE.SEND", "message.send ", " ping", "message_send", "message", "sync.batch", "pong", "error", "hello", "", null, 7, ["ping"], { type: "ping" }),
      fc.string({ maxLength: 12 }),
    ),
  }),
);

function mutate(base: Obj, mutations: Mutation[]): Obj {
  const out: Obj = { ...base };
  for (const m of mutations) {
    const keys = Object.keys(out);
    if (m.kind === "drop" && keys.length) delete out[keys[m.at % keys.length]!];
    else if (m.kind === "retype" && keys.length) out[keys[m.at % keys.length]!] = m.value;
    else if (m.kind === "extra") Object.defineProperty(out, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
    else if (m.kind === "type") out.type = m.value;
  }
  return out;
}

type TextMutation =
  | { kind: "none" }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; ch: string }
  | { kind: "delete"; at: number }
  | { kind: "bignum"; value: string }
  | { kind: "dupkey"; tail: string };

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), ch: fc.constantFrom('"', "{", "}", ",", ":", "\\", "\u0000", "x", " ", "]", "\ud800") }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("bignum" as const), value: fc.constantFrom("1e999", "-1e999", "1e-999", "99999999999999999999999", "-0", "1.0", "1E2") }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("dupkey" as const), tail: fc.constantFrom(',"type":"ping"', ',"ref":{}', ',"type":"message.delete"', ',"content":7', ',"up_to_seq":-1') }) },
);

function applyText(text: string, m: TextMutation): string {
  switch (m.kind) {
    case "none":
      return text;
    case "truncate":
      return text.slice(0, m.at % (text.length + 1));
    case "insert": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.ch + text.slice(at);
    }
    case "delete": {
      const at = m.at % Math.max(1, text.length);
      return text.slice(0, at) + text.slice(at + 1);
    }
    case "bignum":
      return text.replace(/:(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)([,}])/, `:${m.value}$2`);
    case "dupkey":
      return text.endsWith("}") ? `${text.slice(0, -1)}${text.length > 2 ? m.tail : m.tail.slice(1)}}` : text;
  }
}

/** A frame as generated: a value (with placeholders) and what happens to its text afterwards. */
type Generated = { value: unknown; text: TextMutation } | { raw: string } | { bytes: Uint8Array };

const mutatedFrame: fc.Arbitrary<Generated> = fc
  .tuple(validFrame, fc.oneof({ weight: 2, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }), textMutation)
  .map(([base, mutations, text]) => ({ value: mutate(base, mutations), text }));

/** Objects with a known type and random values for the fields frames carry. */
const FIELD_NAMES = ["ref", "client_id", "content", "message_type", "data", "reply_to", "attachment_id", "message_id", "emoji", "up_to_seq", "amount", "currency", "product_id", "message", "offer_id", "action", "counter_amount", "after_seq"];
const typedJunk: fc.Arbitrary<Generated> = fc
  .tuple(fc.constantFrom(...CLIENT_TYPES), fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_NAMES), keyName), junk, { maxKeys: 6 }))
  .map(([type, fields]) => ({ value: { ...fields, type }, text: { kind: "none" } }));

const jsonValueFrame: fc.Arbitrary<Generated> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue().map((value) => ({ value, text: { kind: "none" } as TextMutation })) },
  { weight: 2, arbitrary: fc.dictionary(keyName, junk, { maxKeys: 5 }).map((value) => ({ value, text: { kind: "none" } as TextMutation })) },
  { weight: 4, arbitrary: typedJunk },
);

const stringFrame: fc.Arbitrary<Generated> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((raw) => ({ raw })) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 60 }).map((raw) => ({ raw })) },
  { weight: 2, arbitrary: fc.json().map((raw) => ({ raw })) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "{", "}", "{}", "null", "[]", '""', "0", "-", "1e999", "{\"type\":", "{\"type\":\"ping\"", "\uFEFF{\"type\":\"ping\",\"ref\":1}", '{"type":"ping","ref":1}garbage', '{"type":"ping"} ', '{"type": "ping"}', '{"type":"PING"}').map((raw) => ({ raw })) },
  { weight: 3, arbitrary: fc.tuple(validFrame, fc.array(fc.oneof(fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }), fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), ch: fc.constantFrom('"', "{", "}", ",", ":", "\\", "\u0000", "x", "\ud800") }), fc.record({ kind: fc.constant("delete" as const), at: fc.nat() })), { minLength: 1, maxLength: 3 })).map(([value, edits]) => ({ value, text: edits[0]!, more: edits.slice(1) }) as Generated) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes })) },
);

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Placeholders sit near the top; deeper junk (nested up to 1500 deep) is passed through as is. */
function substitute(value: unknown, ids: Record<string, string>, depth = 0): unknown {
  if (typeof value === "string") return ids[value] ?? value;
  if (depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, ids, depth + 1));
  if (value && typeof value === "object") {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: substitute(v, ids, depth + 1), enumerable: true, configurable: true, writable: true });
    return out;
  }
  return value;
}

/** The concrete input for a run: placeholders replaced, text mutations applied; never the auto-answered exact ping. */
function realise(g: Generated, ids: Record<string, string>): Input | null {
  let text: string;
  if ("bytes" in g) return { bytes: g.bytes };
  if ("raw" in g) text = g.raw;
  else {
    text = JSON.stringify(substitute(g.value, ids)) ?? "null";
    text = applyText(text, g.text);
    for (const more of ((g as { more?: TextMutation[] }).more ?? [])) text = applyText(text, more);
  }
  // A text frame is UTF-8: a lone surrogate cannot be sent as such, a conforming client sends U+FFFD
  // (escaped lone surrogates inside JSON strings, "\ud800", are kept and fuzzed).
  text = text.replace(LONE_SURROGATE, "\uFFFD");
  // The exact {"type":"ping"} is answered by the runtime, outside the DO's ordered replies (sockets.test.ts covers it).
  if (text === '{"type":"ping"}') return null;
  // Frames over 64 KiB close the socket with 1009: a documented exception, covered on its own below.
  if (wireBytes(text) > MAX_FRAME) return null;
  return { text };
}

// ── Fixtures ──

let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  alice = await login("fuzz-alice");
  bob = await login("fuzz-bob");
});

let contextCounter = 0;
type Seeded = { id: string; ids: Record<string, string>; messages: Frame[] };

/**
 * A fresh conversation of fresh users (a user's message limit holds across all of their
 * conversations) with a message from each side and a pending offer from bob (alice may answer it).
 */
async function seeded(): Promise<Seeded> {
  [alice, bob] = await Promise.all([login("fuzz-alice"), login("fuzz-bob")]);
  contextCounter++;
  const id = await direct(alice, bob, { type: "fuzz-frames", id: `${Date.now()}-${contextCounter}-${Math.random().toString(36).slice(2)}` });
  const other = await sendRest(bob, id, "seed from bob");
  const own = await sendRest(alice, id, "seed from alice", { client_id: "dup-1" });
  const offer = await callJson(`/api/v1/conversations/${id}/offers`, { method: "POST", token: bob.token, json: { amount: 10 } });
  expect([other.status, own.status, offer.status]).toEqual([201, 201, 201]);
  return {
    id,
    ids: { [OWN]: own.body.id, [OTHER]: other.body.id, [OFFER]: offer.body.data.offer_id, [OFFER_MSG]: offer.body.id },
    messages: [other.body, own.body, offer.body],
  };
}


// ── The model the replies are checked against ──

class Model {
  readonly messages = new Map<number, any>();
  lastSeq = 0;
  readSeq = 0;
  sentSeq = 0;
  readonly ownClientIds = new Map<string, string>();

  constructor(seeds: any[]) {
    for (const m of seeds) this.put(m);
  }

  put(message: any): void {
    this.messages.set(message.seq, message);
    this.lastSeq = Math.max(this.lastSeq, message.seq);
    if (message.sender_id === alice.id) {
      this.sentSeq = Math.max(this.sentSeq, message.seq);
      if (message.client_id !== null) this.ownClientIds.set(message.client_id, message.id);
    }
  }

  byId(id: string): any {
    return [...this.messages.values()].find((m) => m.id === id);
  }

  get cursor(): number {
    return Math.max(this.readSeq, this.sentSeq);
  }

  ordered(): any[] {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }
}

type Stats = { inputs: number; errors: Record<string, number>; ok: Record<string, number> };
const newStats = (): Stats => ({ inputs: 0, errors: {}, ok: {} });
const bump = (bag: Record<string, number>, key: string) => void (bag[key] = (bag[key] ?? 0) + 1);

const normaliseRef = (ref: unknown): unknown => JSON.parse(JSON.stringify(ref) ?? "null");
const show = (input: Input) => ("bytes" in input ? `<binary ${input.bytes.length} bytes>` : JSON.stringify(input.text.length > 400 ? `${input.text.slice(0, 400)}…(${input.text.length})` : input.text));

/** Checks the frames that answered one input against the model, and advances the model. */
function checkReplies(input: Input, replies: Frame[], model: Model, stats: Stats): void {
  const where = `input ${show(input)} → ${JSON.stringify(replies).slice(0, 1500)}`;
  for (const reply of replies) {
    const parsed = ServerFrameSchema.safeParse(reply);
    expect(parsed.success, `invalid server frame ${JSON.stringify(parsed.error?.issues)} for ${where}`).toBe(true);
  }
  const errors = replies.filter((f) => f.type === "error");
  expect(errors.length, `more than one error for ${where}`).toBeLessThanOrEqual(1);
  const error = errors[0];
  if (error) {
    expect(replies, `an error must come alone (nothing half-done): ${where}`).toHaveLength(1);
    bump(stats.errors, error.code);
  }

  // What the server saw: text through UTF-8 (lone surrogates become U+FFFD), then JSON.parse.
  let value: unknown;
  let isJson = false;
  if ("text" in input) {
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(utf8.encode(input.text)));
      isJson = true;
    } catch {
      isJson = false;
    }
  }
  const isObject = isJson && typeof value === "object" && value !== null && !Array.isArray(value);
  if (!isObject) {
    expect(replies, `non-object frame: ${where}`).toEqual([{ type: "error", code: "VALIDATION_ERROR", message: expect.any(String), details: expect.any(Array) }]);
    return;
  }
  const frame = value as Obj;
  const hasRef = typeof frame.ref === "string" || typeof frame.ref === "number";
  const refEcho = hasRef ? normaliseRef(frame.ref) : undefined;
  if (typeof frame.type !== "string" || !KNOWN_TYPES.has(frame.type)) {
    const expected: Obj = { type: "error", code: "VALIDATION_ERROR", message: expect.any(String), details: [{ field: "type", message: expect.any(String) }] };
    if (hasRef) expected.ref = refEcho;
    expect(replies, `unknown type: ${where}`).toEqual([expected]);
    return;
  }
  const type = frame.type as ClientType;
  const unknownFields = Object.keys(frame).filter((k) => !FRAME_FIELDS.get(type)!.includes(k));
  if (unknownFields.length > 0) {
    expect(error?.code, `unknown fields must be refused: ${where}`).toBe("VALIDATION_ERROR");
    for (const field of unknownFields) expect(error!.details, `details name ${field}: ${where}`).toContainEqual({ field, message: "is not a known field" });
  }
  if (error) {
    expect(ALLOWED_ERRORS[type], `code ${error.code} for ${type}: ${where}`).toContain(error.code);
    if (hasRef) expect(error.ref, `error must echo ref: ${where}`).toEqual(refEcho);
    else expect("ref" in error, `error invents a ref: ${where}`).toBe(false);
    if (error.code === "RATE_LIMIT_EXCEEDED") expect(error.retry_after_ms, where).toBeGreaterThan(0);
    return;
  }
  bump(stats.ok, type);
  const ackRef = refEcho ?? null;
  const types = replies.map((f) => f.type);

  switch (type) {
    case "ping": {
      const expected: Obj = { type: "pong" };
      if (refEcho !== undefined) expected.ref = refEcho;
      expect(replies, where).toEqual([expected]);
      return;
    }
    case "typing.start":
    case "typing.stop":
      expect(replies, where).toEqual([]);
      return;
    case "read": {
      const upTo = typeof frame.up_to_seq === "number" ? frame.up_to_seq : model.lastSeq;
      const before = model.cursor;
      model.readSeq = Math.max(model.readSeq, Math.min(upTo, model.lastSeq));
      if (model.cursor > before) expect(replies, where).toEqual([{ type: "read", user_id: alice.id, up_to_seq: model.cursor }]);
      else expect(replies, where).toEqual([]);
      return;
    }
    case "sync": {
      const after = typeof frame.after_seq === "number" ? frame.after_seq : 0;
      const expected = model.ordered().filter((m) => m.seq > after);
      const batches = replies.filter((f) => f.type === "sync.batch");
      const doneAt = types.indexOf("sync.done");
      expect(doneAt, `sync.done missing: ${where}`).toBe(batches.length);
      expect(replies[doneAt], where).toEqual({ type: "sync.done", ...(refEcho !== undefined && { ref: refEcho }), last_seq: model.lastSeq });
      for (const b of batches) expect(b.ref, where).toEqual(refEcho);
      expect(batches.flatMap((b) => b.messages), `sync replay differs from what was announced: ${where}`).toEqual(expected);
      // Delivery receipts for what was replayed may follow, for alice only.
      for (const f of replies.slice(doneAt + 1)) expect(f, where).toMatchObject({ type: "delivered", user_id: alice.id });
      return;
    }
    case "message.send":
    case "offer.send": {
      const acks = replies.filter((f) => f.type === "message.ack");
      expect(acks, `exactly one ack: ${where}`).toHaveLength(1);
      const ack = acks[0]!;
      expect(ack.ref, where).toEqual(ackRef);
      const cid = typeof frame.client_id === "string" ? frame.client_id.trim() : null;
      expect(ack.client_id, where).toBe(cid);
      const existing = cid !== null ? model.ownClientIds.get(cid) : undefined;
      if (existing) {
        // A retry: the first message again, never a second one.
        expect(replies, `a retried client_id must only be acked: ${where}`).toHaveLength(1);
        expect(ack.message.id, where).toBe(existing);
        return;
      }
      expect(types, where).toEqual(["message.ack", "message.new"]);
      expect(replies[1]!.message, where).toEqual(ack.message);
      const m = ack.message;
      expect(m.seq, `seq must be last + 1: ${where}`).toBe(model.lastSeq + 1);
      expect(m.sender_id, where).toBe(alice.id);
      if (type === "message.send") {
        expect(m.type, where).toBe(frame.message_type ?? "text");
        expect(m.content, where).toBe((frame.content as string | undefined ?? "").trim());
        expect(m.reply_to, where).toBe(frame.reply_to ?? null);
        // As stored: JSON (a number like 1e999, parsed as Infinity, comes back as null).
        const data = JSON.stringify(frame.data ?? null);
        if (!data.includes("__proto__")) expect(m.data, where).toEqual(JSON.parse(data));
      } else {
        expect(m.type, where).toBe("offer");
        expect(m.data, where).toMatchObject({ status: "pending", amount: Math.round((frame.amount as number) * 100) / 100, currency: frame.currency ?? "USD" });
      }
      model.put(m);
      return;
    }
    case "message.edit": {
      expect(types, where).toEqual(["message.updated"]);
      const m = replies[0]!.message;
      const before = model.byId(frame.message_id as string);
      expect(before, `edited an unknown message: ${where}`).toBeDefined();
      expect(before.sender_id, `edited someone else's message: ${where}`).toBe(alice.id);
      expect(m, where).toMatchObject({ id: before.id, seq: before.seq, content: (frame.content as string).trim() });
      expect(m.edited_at, where).not.toBeNull();
      model.put(m);
      return;
    }
    case "message.delete": {
      const before = model.byId(frame.message_id as string);
      expect(before, `deleted an unknown message: ${where}`).toBeDefined();
      expect(before.sender_id, where).toBe(alice.id);
      if (before.deleted_at) {
        expect(replies, `deleting twice changes nothing: ${where}`).toEqual([]);
        return;
      }
      expect(types, where).toEqual(["message.updated"]);
      expect(replies[0]!.message, where).toMatchObject({ id: before.id, seq: before.seq, content: null, data: null, reactions: {} });
      expect(replies[0]!.message.deleted_at, where).not.toBeNull();
      model.put(replies[0]!.message);
      return;
    }
    case "reaction.add":
    case "reaction.remove": {
      const target = model.byId(frame.message_id as string);
      expect(target, where).toBeDefined();
      expect(target.deleted_at, where).toBeNull();
      const users: string[] = target.reactions[frame.emoji as string] ?? [];
      const changes = type === "reaction.add" ? !users.includes(alice.id) : users.includes(alice.id);
      if (!changes) {
        expect(replies, where).toEqual([]);
        return;
      }
      expect(types, where).toEqual(["reaction.updated"]);
      expect(replies[0]!.message_id, where).toBe(target.id);
      const reactions = { ...target.reactions };
      if (type === "reaction.add") reactions[frame.emoji as string] = [...users, alice.id];
      else if (users.length === 1) delete reactions[frame.emoji as string];
      else reactions[frame.emoji as string] = users.filter((u) => u !== alice.id);
      expect(replies[0]!.reactions, where).toEqual(reactions);
      model.put({ ...target, reactions });
      return;
    }
    case "offer.respond": {
      // offer.updated, the offer message updated, then what was appended (the counter offer, the
      // response, the acceptance note) as message.new in seq order, the response's preceded by its ack.
      expect(types.slice(0, 2), where).toEqual(["offer.updated", "message.updated"]);
      const offer = replies[0]!.offer;
      expect(offer.id, where).toBe(frame.offer_id);
      expect(offer.offerer_id, `alice answered her own offer: ${where}`).not.toBe(alice.id);
      expect(offer.status, where).toBe({ accept: "accepted", reject: "rejected", counter: "countered", withdraw: "withdrawn" }[frame.action as string]);
      model.put(replies[1]!.message);
      const rest = replies.slice(2);
      const acks = rest.filter((f) => f.type === "message.ack");
      const appended = rest.filter((f) => f.type === "message.new");
      expect(acks, where).toHaveLength(1);
      expect(rest, where).toHaveLength(appended.length + 1);
      expect(appended.length, where).toBe(1 + (frame.action === "counter" ? 1 : 0) + (frame.action === "accept" ? 1 : 0));
      expect(appended.map((f) => f.message.seq), `appended messages go out in seq order, after last_seq: ${where}`).toEqual(appended.map((_, i) => model.lastSeq + 1 + i));
      const ack = acks[0]!;
      expect(ack.ref, where).toEqual(ackRef);
      const responseAt = rest.findIndex((f) => f.type === "message.new" && f.message.id === ack.message.id);
      expect(rest.indexOf(ack), `the ack comes right before the response's message.new: ${where}`).toBe(responseAt - 1);
      expect(rest[responseAt]!.message, where).toEqual(ack.message);
      expect(ack.message).toMatchObject({ type: "offer_response", sender_id: alice.id, reply_to: offer.message_id });
      for (const f of appended) model.put(f.message);
      return;
    }
  }
}

let barrierCounter = 0;

/**
 * One batch on one socket of a fresh conversation: each input followed by a barrier ping, all sent
 * at once; then every input's replies are checked, the socket is still open, and the log is
 * exactly what was announced.
 */
async function runBatch(generated: Generated[], stats: Stats): Promise<void> {
  const conversation = await seeded();
  const socket: TestSocket = await connect(conversation.id, alice.token);
  try {
    const inputs = generated.map((g) => realise(g, conversation.ids)).filter((i): i is Input => i !== null);
    const nonce = `barrier-${++barrierCounter}-${Math.random().toString(36).slice(2)}`;
    const isBarrier = (f: Frame, k: number) => f.ref === `${nonce}-${k}` && (f.type === "pong" || (f.type === "error" && f.code === "RATE_LIMIT_EXCEEDED"));
    inputs.forEach((input, k) => {
      if ("bytes" in input) socket.ws.send(input.bytes);
      else socket.send(input.text);
      socket.send({ type: "ping", ref: `${nonce}-${k}` });
    });
    const last = inputs.length - 1;
    if (last >= 0) {
      await socket.until((frames) => socket.closed !== null || frames.some((f) => isBarrier(f, last)), 15_000, "the last barrier");
    }
    expect(socket.closed, `socket closed during the batch after ${socket.frames.length} frames: ${JSON.stringify(socket.frames.slice(-3))}`).toBeNull();

    expect(socket.frames[0]!.type).toBe("hello");
    const model = new Model(conversation.messages);
    let at = 1;
    inputs.forEach((input, k) => {
      const end = socket.frames.findIndex((f, i) => i >= at && isBarrier(f, k));
      expect(end, `barrier ${k} missing`).toBeGreaterThanOrEqual(at);
      checkReplies(input, socket.frames.slice(at, end), model, stats);
      stats.inputs++;
      at = end + 1;
    });
    expect(socket.frames.slice(at), "frames after the last barrier").toEqual([]);

    // The log is gapless and holds exactly what the socket announced, in its final state.
    const log = await history(alice, conversation.id);
    expect(log.map((m) => m.seq)).toEqual(Array.from({ length: model.lastSeq }, (_, i) => i + 1));
    expect(log).toEqual(model.ordered());
    // Still open at the end: the free exact ping is answered (the ref'd barriers above were
    // answered by the object itself, with pong or, once the ping bucket is spent, RATE_LIMIT_EXCEEDED).
    const pongs = socket.of("pong").filter((f) => f.ref === undefined).length;
    socket.send('{"type":"ping"}');
    await socket.until((frames) => frames.filter((f) => f.type === "pong" && f.ref === undefined).length > pongs, 5_000, "a final pong");
    expect(socket.closed).toBeNull();
  } finally {
    socket.close();
  }
}

const PARAMS = { endOnFailure: true } as const;

/** fc.assert, but reporting the failing input our assertions describe instead of the whole (huge) batch. */
async function holds<T>(arbitrary: fc.Arbitrary<T>, run: (value: T) => Promise<void>, numRuns: number): Promise<void> {
  const out = await fc.check(fc.asyncProperty(arbitrary, run), { ...PARAMS, numRuns });
  if (out.failed) {
    const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
    throw new Error(`property failed (seed ${out.seed}, path ${out.counterexamplePath}) after ${out.numRuns} runs: ${cause.slice(0, 4000)}`);
  }
  expect(out.numRuns).toBe(numRuns);
}

describe("fuzzing socket frames", () => {
  it("arbitrary JSON values, and objects with a known type and random fields", async () => {
    const stats = newStats();
    await holds(fc.array(jsonValueFrame, { minLength: 20, maxLength: 40 }), (batch) => runBatch(batch, stats), 50);
    console.log("json-value frames", JSON.stringify(stats));
    expect(stats.inputs).toBeGreaterThan(1000);
    expect(stats.errors.VALIDATION_ERROR).toBeGreaterThan(500);
  }, 60_000);

  it("arbitrary strings, broken JSON and binary frames", async () => {
    const stats = newStats();
    await holds(fc.array(stringFrame, { minLength: 20, maxLength: 40 }), (batch) => runBatch(batch, stats), 50);
    console.log("string frames", JSON.stringify(stats));
    expect(stats.inputs).toBeGreaterThan(1000);
    expect(stats.errors.VALIDATION_ERROR).toBeGreaterThan(500);
  }, 60_000);

  it("mutated valid frames of every client frame type", async () => {
    const stats = newStats();
    await holds(fc.array(mutatedFrame, { minLength: 20, maxLength: 40 }), (batch) => runBatch(batch, stats), 140);
    console.log("mutated frames", JSON.stringify(stats));
    expect(stats.inputs).toBeGreaterThan(3500);
    // The generator reaches the success path of every frame type, and the refusals.
    for (const type of ["message.send", "message.edit", "reaction.add", "offer.send", "offer.respond", "read", "sync", "ping", "typing.start"]) {
      expect(stats.ok[type] ?? 0, `successful ${type}`).toBeGreaterThan(0);
    }
    for (const code of ["VALIDATION_ERROR", "MESSAGE_NOT_FOUND", "FORBIDDEN", "OFFER_NOT_PENDING"]) {
      expect(stats.errors[code] ?? 0, `refusals with ${code}`).toBeGreaterThan(0);
    }
  }, 60_000);

  it("the message.new frames of one command go out in seq order (an offer countered over the socket)", async () => {
    const conversation = await seeded();
    const socket = await connect(conversation.id, alice.token);
    try {
      socket.send({ type: "offer.respond", ref: "counter", offer_id: conversation.ids[OFFER], action: "counter", counter_amount: 12.5 });
      const ack = await socket.next("message.ack", (f) => f.ref === "counter");
      socket.send({ type: "ping", ref: "after-counter" });
      await socket.next("pong", (f) => f.ref === "after-counter");
      expect(ack.message).toMatchObject({ type: "offer_response", sender_id: alice.id });
      const fresh = socket.of("message.new").map((f) => f.message);
      // Two messages were appended (the counter offer and the response), seq 4 and 5 …
      expect(fresh.map((m) => m.seq).sort()).toEqual([4, 5]);
      expect(fresh.map((m) => m.type).sort()).toEqual(["offer", "offer_response"]);
      // … and a socket must see them in seq order, as sync and history return them.
      expect(fresh.map((m) => m.seq)).toEqual([4, 5]);
    } finally {
      socket.close();
    }
  });

  it("frames over 64 KiB: PAYLOAD_TOO_LARGE, close 1009, nothing written", async () => {
    const oversize = fc.tuple(validFrame, fc.integer({ min: MAX_FRAME + 1, max: MAX_FRAME * 2 }), fc.constantFrom("x", "é", "👍")).map(([value, size, ch]) => {
      const base = JSON.stringify(value);
      const pad = ch.repeat(Math.ceil(size / wireBytes(ch)));
      return `${base.slice(0, -1)},"pad":"${pad}"}`;
    });
    await holds(
      oversize,
      async (text) => {
        expect(wireBytes(text)).toBeGreaterThan(MAX_FRAME);
        const conversation = await seeded();
        const socket = await connect(conversation.id, alice.token);
        socket.send(text);
        const closed = await socket.waitClosed();
        expect(closed.code).toBe(1009);
        expect(socket.frames.slice(1)).toEqual([{ type: "error", code: "PAYLOAD_TOO_LARGE", message: expect.any(String) }]);
        expect(await history(alice, conversation.id)).toEqual(conversation.messages);
      },
      6,
    );
  }, 30_000);
});
