import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConversationListSchema, ConversationSchema } from "../../src/schemas/conversations";
import { HistoryResponseSchema, MessageSchema, ReadResponseSchema } from "../../src/schemas/messages";
import { BlockSchema, FriendRequestSchema, PresenceListSchema } from "../../src/schemas/social";
import { UserListSchema, UserSchema } from "../../src/schemas/users";
import { BASE, callJson, direct, history, login, sendRest, type TestUser } from "../helpers/api";

/** A message of a history page without the `status` it carries for the viewer's own messages. */
const withoutStatus = ({ status: _status, ...message }: { status?: string }) => message;

// Property-based tests over REST bodies, content types, path segments and query strings. Every
// response must be JSON: a 2xx whose body fits the documented schema and agrees with a model of
// what earlier successful requests did, or the documented error envelope with a documented code
// and that code's documented status (DESIGN.md, Conventions) — never 500/INTERNAL. Afterwards the
// stored state is exactly what the successful requests did: gapless history, no message (and no
// conversation, edit, friend request …) from a refused request.
//
// Requests run one after another so each response can be checked against the model as it is.

/** DESIGN.md, Conventions: every documented code with its status. */
const STATUS: Record<string, number> = {
  AUTHENTICATION_REQUIRED: 401,
  INVALID_TOKEN: 401,
  CHAT_ACCESS_DENIED: 403,
  NOT_FRIENDS: 403,
  BLOCKED: 403,
  FORBIDDEN: 403,
  CONVERSATION_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  VALIDATION_ERROR: 400,
  CONVERSATION_CLOSED: 409,
  OFFER_NOT_PENDING: 409,
  FILE_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_FILE_TYPE: 415,
  RATE_LIMIT_EXCEEDED: 429,
  INTERNAL: 500,
};

const ErrorEnvelope = z
  .object({
    error: z.object({ code: z.string(), message: z.string().min(1), details: z.array(z.object({ field: z.string(), message: z.string() }).strict()) }).strict(),
  })
  .strict();

// ── Sending requests ──

type Resp = { status: number; json: any; text: string; headers: Headers };
const NOT_JSON = Symbol("not JSON");
const utf8 = new TextEncoder();

async function request(method: string, path: string, options: { token?: string; authorization?: string; ct?: string; body?: Uint8Array | string } = {}): Promise<Resp> {
  const headers = new Headers();
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  if (options.authorization !== undefined) headers.set("authorization", options.authorization);
  if (options.ct !== undefined) headers.set("content-type", options.ct);
  // Bytes, so that fetch adds no content type of its own.
  const body = typeof options.body === "string" ? utf8.encode(options.body) : options.body;
  const response = await exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
  const text = await response.text();
  let json: any = NOT_JSON;
  try {
    json = JSON.parse(text);
  } catch {
    // checked by the caller
  }
  return { status: response.status, json, text, headers: response.headers };
}

/** The documented-outcome check every response gets. Returns the error code, or null for a 2xx. */
function expectDocumented(res: Resp, allowed: { ok: number[]; codes: string[]; schema?: z.ZodType }, where: string): string | null {
  const at = `${where} → ${res.status} ${res.text.slice(0, 600)}`;
  expect(res.json, `body is not JSON: ${at}`).not.toBe(NOT_JSON);
  expect(res.headers.get("content-type") ?? "", `content type: ${at}`).toMatch(/^application\/json/);
  expect(res.status, `never a 500: ${at}`).not.toBe(500);
  if (res.status >= 200 && res.status < 300) {
    expect(allowed.ok, `unexpected success status: ${at}`).toContain(res.status);
    if (allowed.schema) {
      const parsed = allowed.schema.safeParse(res.json);
      expect(parsed.success, `success body does not fit its schema (${JSON.stringify(parsed.error?.issues)?.slice(0, 400)}): ${at}`).toBe(true);
    }
    return null;
  }
  const envelope = ErrorEnvelope.safeParse(res.json);
  expect(envelope.success, `error envelope (${JSON.stringify(envelope.error?.issues)?.slice(0, 300)}): ${at}`).toBe(true);
  const { code, details } = res.json.error as { code: string; details: unknown[] };
  expect(code, `INTERNAL: ${at}`).not.toBe("INTERNAL");
  expect(Object.keys(STATUS), `undocumented code: ${at}`).toContain(code);
  expect(res.status, `status of ${code}: ${at}`).toBe(STATUS[code]);
  expect(allowed.codes, `code not expected here: ${at}`).toContain(code);
  if (code === "VALIDATION_ERROR") expect(details.length, `details must name the fields: ${at}`).toBeGreaterThan(0);
  if (code === "RATE_LIMIT_EXCEEDED") expect(res.headers.get("retry-after") ?? "", at).toMatch(/^\d+$/);
  return code;
}

// ── Bodies: valid-ish values with placeholders, mutated; broken JSON; wrong content types ──

type Obj = Record<string, unknown>;

const JSON_TYPES = ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json", "application/json;charset=UTF-8"];
const WRONG_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", undefined, "application/json;", "application/jsonx", "text/json", "application/json, text/plain", "", "*/*", "application/xml"];

type BodyGen =
  /** `known`: the fields the endpoint's body has; any other is refused (DESIGN.md, Conventions). */
  | { kind: "json"; value: unknown; ct: string | undefined; edits: TextEdit[]; known: readonly string[] }
  | { kind: "raw"; text: string; ct: string | undefined }
  | { kind: "huge"; ct: string }
  | { kind: "none"; ct: string | undefined };

type TextEdit = { kind: "truncate" | "delete"; at: number } | { kind: "insert"; at: number; ch: string };

const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ kind: fc.constantFrom("truncate" as const, "delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), ch: fc.constantFrom('"', "{", "}", ",", ":", "\\", "\u0000", "x", "]", "\uFEFF") }),
);

function applyEdit(text: string, e: TextEdit): string {
  const at = e.at % (text.length + 1);
  if (e.kind === "insert") return text.slice(0, at) + e.ch + text.slice(at);
  if (e.kind === "truncate") return text.slice(0, at);
  return text.slice(0, at) + text.slice(at + 1);
}

const hugeNumbers = fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, 5e-324, -0, 0.1, -1, 1.5, 1e21, 2 ** 31);
const unicode = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 16 }),
  fc.string({ unit: "binary", maxLength: 16 }),
  fc.constantFrom("", " ", "\u0000", "\u202emirror", "👍🏽", "🇫🇷", "\uFEFF", "e\u0301", " \t\n "),
);
function nest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { n: value };
  return value;
}
const junk = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: hugeNumbers },
  { weight: 2, arbitrary: unicode },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map(nest) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}) },
);
const keyName = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("__proto__", "constructor", "toString", "type ", "TYPE", "id", "seq", "sender_id"));

type Mutation = { kind: "drop"; at: number } | { kind: "retype"; at: number; value: unknown } | { kind: "extra"; key: string; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("retype" as const), at: fc.nat(), value: junk }),
  fc.record({ kind: fc.constant("extra" as const), key: keyName, value: junk }),
);
function setKey(target: Obj, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
}
function mutate(base: Obj, mutations: Mutation[]): Obj {
  const out: Obj = { ...base };
  for (const m of mutations) {
    const keys = Object.keys(out);
    if (m.kind === "drop" && keys.length) delete out[keys[m.at % keys.length]!];
    else if (m.kind === "retype" && keys.length) out[keys[m.at % keys.length]!] = m.value;
    else if (m.kind === "extra") setKey(out, m.key, m.value);
  }
  return out;
}

function bodies(valid: fc.Arbitrary<Obj>, { bodyless = false } = {}): fc.Arbitrary<BodyGen> {
  const jsonCt = fc.constantFrom(...JSON_TYPES);
  const known = fc.constant(FIELDS.get(valid) ?? []);
  const mutations = fc.oneof({ weight: 3, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) });
  const arbs: { weight: number; arbitrary: fc.Arbitrary<BodyGen> }[] = [
    { weight: 60, arbitrary: fc.record({ kind: fc.constant("json" as const), value: fc.tuple(valid, mutations).map(([v, m]) => mutate(v, m)), ct: jsonCt, edits: fc.constant([]), known }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("json" as const), value: fc.jsonValue({ maxDepth: 3 }), ct: jsonCt, edits: fc.constant([]), known }) },
    { weight: 10, arbitrary: fc.record({ kind: fc.constant("json" as const), value: valid, ct: jsonCt, edits: fc.array(textEdit, { minLength: 1, maxLength: 2 }), known }) },
    { weight: 10, arbitrary: fc.record({ kind: fc.constant("json" as const), value: valid, ct: fc.constantFrom(...WRONG_TYPES), edits: fc.constant([]), known }) },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("raw" as const),
        text: fc.oneof(fc.constantFrom("", " ", "null", "[]", "{", "\uFEFF{}", "{}garbage", '{"a":1}{"b":2}', "true", '"text"', "1e999", "content=hi&type=text"), fc.string({ unit: "binary", maxLength: 60 })),
        ct: fc.oneof(jsonCt, fc.constantFrom(...WRONG_TYPES)),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("huge" as const), ct: jsonCt }) },
  ];
  if (bodyless) arbs.push({ weight: 5, arbitrary: fc.record({ kind: fc.constant("none" as const), ct: fc.constantFrom(undefined, "application/json") }) });
  return fc.oneof(...arbs);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HUGE_BODY = JSON.stringify({ content: "x".repeat(300 * 1024) });

/** Placeholders sit near the top; deeper junk (nested thousands deep) is passed through as is. */
function substitute(value: unknown, ids: (name: string) => string | undefined, depth = 0): unknown {
  if (typeof value === "string") return value.startsWith("$") ? (ids(value) ?? value) : value;
  if (depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, ids, depth + 1));
  if (value && typeof value === "object") {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) setKey(out, k, substitute(v, ids, depth + 1));
    return out;
  }
  return value;
}

/** A body as sent, and what the server will have parsed when it is JSON of an accepted type. */
type Realised = { ct: string | undefined; text: string | undefined; parsed: { ok: true; value: unknown } | { ok: false } | null };

function realiseBody(g: BodyGen, ids: (name: string) => string | undefined): Realised {
  let text: string | undefined;
  if (g.kind === "none") text = undefined;
  else if (g.kind === "huge") text = HUGE_BODY;
  else if (g.kind === "raw") text = g.text;
  else {
    text = JSON.stringify(substitute(g.value, ids)) ?? "null";
    for (const e of g.edits) text = applyEdit(text, e);
  }
  // A body is UTF-8: a lone surrogate cannot be sent as such (fetch would send U+FFFD anyway).
  if (text !== undefined) text = text.replace(LONE_SURROGATE, "\uFFFD");
  let parsed: Realised["parsed"] = null;
  // No content type and no bytes: the server validates an empty object.
  if (!g.ct && (text === undefined || text === "")) parsed = { ok: true, value: {} };
  else if (text !== undefined && g.ct !== undefined && JSON_TYPES.includes(g.ct) && g.kind !== "huge") {
    try {
      // Body.json() decodes UTF-8, dropping a leading BOM, as TextDecoder does by default.
      parsed = { ok: true, value: JSON.parse(new TextDecoder().decode(utf8.encode(text))) };
    } catch {
      parsed = { ok: false };
    }
  }
  return { ct: g.ct, text, parsed };
}

/**
 * What any body must get whatever the endpoint: a wrong content type, broken JSON or a field the
 * endpoint does not know is 400 VALIDATION_ERROR, a body over 256 KiB is 413 PAYLOAD_TOO_LARGE. Returns the expected code, or
 * null when the body is JSON of an accepted type (the endpoint decides).
 */
function genericExpectation(g: BodyGen, body: Realised): string | null {
  if (g.kind === "huge") return "PAYLOAD_TOO_LARGE";
  if (body.parsed === null) return "VALIDATION_ERROR";
  if (!body.parsed.ok) return "VALIDATION_ERROR";
  const v = body.parsed.value;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "VALIDATION_ERROR";
  if (g.kind === "json" && Object.keys(v).some((k) => !g.known.includes(k))) return "VALIDATION_ERROR";
  return null;
}

const isPlainObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (r: Realised) => `[${r.ct ?? "no content type"}] ${r.text === undefined ? "<no body>" : JSON.stringify(r.text.length > 300 ? `${r.text.slice(0, 300)}…(${r.text.length})` : r.text)}`;

/** A path segment: the real thing (a placeholder) most of the time, else something odd. */
const segment = (placeholder: string) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(placeholder) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => encodeURIComponent(s)) },
    { weight: 1, arbitrary: fc.constantFrom("%ZZ", "%E0%A4%A", "cnv_nope", "msg_nope", "x".repeat(129), "%2F", "%00", "%20", "%F0%9F%91%8D", "null") },
  );
const resolveSegment = (s: string, ids: (name: string) => string | undefined) => (s.startsWith("$") ? encodeURIComponent(ids(s) ?? s) : s);

// ── fc plumbing ──

async function holds<T>(arbitrary: fc.Arbitrary<T>, run: (value: T) => Promise<void>, numRuns: number): Promise<void> {
  const out = await fc.check(fc.asyncProperty(arbitrary, run), { numRuns, endOnFailure: true });
  if (out.failed) {
    const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
    const stack = out.errorInstance instanceof Error && !(out.errorInstance.name === "AssertionError") ? `\n${out.errorInstance.stack?.slice(0, 1500)}` : "";
    throw new Error(`property failed (seed ${out.seed}, path ${out.counterexamplePath}) after ${out.numRuns} runs: ${cause.slice(0, 4000)}${stack}`);
  }
  expect(out.numRuns).toBe(numRuns);
}

type Stats = { requests: number; outcomes: Record<string, number> };
const newStats = (): Stats => ({ requests: 0, outcomes: {} });
function count(stats: Stats, endpoint: string, code: string | null, status: number): void {
  stats.requests++;
  const key = `${endpoint} ${code ?? status}`;
  stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1;
}
const successes = (stats: Stats, endpoint: string) =>
  Object.entries(stats.outcomes)
    .filter(([k]) => k.startsWith(`${endpoint} 2`))
    .reduce((n, [, v]) => n + v, 0);

// ── Fixtures ──

let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let pool: TestUser[];
let foreignConversation: string;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([login("rest-alice"), login("rest-bob"), login("rest-carol")]);
  pool = await Promise.all([0, 1, 2, 3].map((i) => login(`rest-pool${i}`)));
  // A conversation the fuzzing users are not part of.
  foreignConversation = await direct(bob, carol, { type: "fuzz-rest", id: `foreign-${Date.now()}` });
});

type Actor = "alice" | "bob" | "carol";
let runCounter = 0;
const runId = () => `${Date.now().toString(36)}-${++runCounter}-${Math.random().toString(36).slice(2, 7)}`;


// ════════════════════════════════════════════════════════════════════════════════════════════
// Message endpoints: POST messages, PATCH messages, POST read, POST offers, POST respond, GET history
// ════════════════════════════════════════════════════════════════════════════════════════════

const content = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom("  ", "", "\n", "x".repeat(1000), "x".repeat(1001), "👍".repeat(1000), "👍".repeat(1001), ` ${"y".repeat(1000)} `) },
);
const clientId = fc.oneof(
  { weight: 5, arbitrary: fc.nat().map((n) => `c-${n}`) },
  { weight: 2, arbitrary: fc.constantFrom("dup-1", " dup-1 ", "dup-2") },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const amount = fc.oneof(
  fc.integer({ min: 1, max: 100_000 }),
  fc.integer({ min: 1, max: 10_000_000 }).map((n) => n / 100),
  fc.double({ min: -10, max: 2e9, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 0.001, 1e-9, 0.005, 1e9, 1e9 + 0.01, 0.1 + 0.2, 12.345),
);
/** Absent one time in `absentOneIn`. */
const opt = <T,>(arb: fc.Arbitrary<T>, absentOneIn = 2) => fc.option(arb, { nil: undefined, freq: absentOneIn });
/** Present one time in `presentOneIn`. */
const rare = <T,>(arb: fc.Arbitrary<T>, presentOneIn: number) => fc.oneof({ weight: presentOneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
/** The fields of each body arbitrary made by `object`, for the model of unknown fields. */
const FIELDS = new WeakMap<fc.Arbitrary<Obj>, readonly string[]>();
function object(fields: { [key: string]: fc.Arbitrary<unknown> }): fc.Arbitrary<Obj> {
  const arbitrary = fc.record(fields).map((r) => {
    const out: Obj = {};
    for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
    return out;
  });
  FIELDS.set(arbitrary, Object.keys(fields));
  return arbitrary;
}

const sendBody = object({
  content,
  type: opt(fc.constantFrom("text", "product", "image", "file", "voice", "offer", "system")),
  client_id: opt(clientId, 5),
  reply_to: opt(fc.oneof(fc.constantFrom("$MINE", "$THEIRS"), fc.string({ maxLength: 10 }))),
  data: opt(fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.record({ product_id: fc.string({ maxLength: 10 }) }))),
  attachment_id: rare(fc.string({ maxLength: 12 }), 10),
});
const editBody = object({ content });
const readBody = object({ up_to_seq: opt(fc.oneof(fc.nat({ max: 15 }), fc.constantFrom(-1, 1.5, 1e308, 2 ** 53))) });
const offerBody = object({
  amount,
  currency: opt(fc.constantFrom("USD", "EUR", "JPY", "usd", "US", "EURO", "")),
  product_id: opt(fc.string({ maxLength: 10 })),
  message: opt(content),
  client_id: opt(clientId),
});
const respondBody = object({
  action: fc.oneof({ weight: 8, arbitrary: fc.constantFrom("accept", "reject", "counter", "withdraw") }, { weight: 1, arbitrary: fc.constantFrom("ACCEPT", "", "approve") }),
  counter_amount: opt(amount),
  message: opt(content),
});

type QueryPair = { key: string; value: string; raw: boolean };
const queryValue = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 20 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom("0", "100", "101", "-1", "1.5", "1e1", "0x10", "", " 5", "abc", "NaN", "Infinity", "99999999999999999999", "9007199254740993", "👍", "%", "%ZZ", "1,2", "null", "true") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const historyQuery = fc.array(
  fc.record({
    key: fc.oneof({ weight: 8, arbitrary: fc.constantFrom("after_seq", "before_seq", "limit") }, { weight: 1, arbitrary: fc.constantFrom("cursor", "LIMIT", "after_seq[]", "") }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) }),
    value: queryValue,
    raw: fc.boolean(),
  }),
  { maxLength: 4 },
);
function queryString(pairs: QueryPair[]): string {
  if (pairs.length === 0) return "";
  return `?${pairs.map((p) => (p.raw ? `${p.key.replace(/[#&?\s]/g, "_")}=${p.value.replace(/[#&\s]/g, "_")}` : `${encodeURIComponent(p.key)}=${encodeURIComponent(p.value)}`)).join("&")}`;
}

type MessageRequest =
  | { endpoint: "send"; actor: Actor; conv: string; body: BodyGen }
  | { endpoint: "edit"; actor: Actor; conv: string; message: string; body: BodyGen }
  | { endpoint: "read"; actor: Actor; conv: string; body: BodyGen }
  | { endpoint: "offer"; actor: Actor; conv: string; body: BodyGen }
  | { endpoint: "respond"; actor: Actor; conv: string; offer: string; body: BodyGen }
  | { endpoint: "history"; actor: Actor; conv: string; query: QueryPair[] };

const actor = fc.oneof({ weight: 5, arbitrary: fc.constant<Actor>("alice") }, { weight: 4, arbitrary: fc.constant<Actor>("bob") }, { weight: 1, arbitrary: fc.constant<Actor>("carol") });
const messageRequest: fc.Arbitrary<MessageRequest> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ endpoint: fc.constant("send" as const), actor, conv: segment("$CONV"), body: bodies(sendBody) }) },
  { weight: 3, arbitrary: fc.record({ endpoint: fc.constant("edit" as const), actor, conv: segment("$CONV"), message: fc.oneof(fc.constantFrom("$MINE", "$MINE", "$THEIRS", "$AN_OFFER"), segment("$MINE")), body: bodies(editBody) }) },
  { weight: 2, arbitrary: fc.record({ endpoint: fc.constant("read" as const), actor, conv: segment("$CONV"), body: bodies(readBody, { bodyless: true }) }) },
  { weight: 3, arbitrary: fc.record({ endpoint: fc.constant("offer" as const), actor, conv: segment("$CONV"), body: bodies(offerBody) }) },
  { weight: 3, arbitrary: fc.record({ endpoint: fc.constant("respond" as const), actor, conv: segment("$CONV"), offer: fc.oneof(fc.constantFrom("$THEIR_OFFER", "$THEIR_OFFER", "$MY_OFFER", "$FIRST_OFFER"), segment("$THEIR_OFFER")), body: bodies(respondBody) }) },
  { weight: 2, arbitrary: fc.record({ endpoint: fc.constant("history" as const), actor, conv: segment("$CONV"), query: historyQuery }) },
);

type Offer = { id: string; offerer: string; status: string; seq: number };

/** What the conversation holds, as the successful responses say it must. */
class ConversationModel {
  readonly bySeq = new Map<number, any>();
  lastSeq = 0;
  readonly reads = new Map<string, number>();
  readonly sent = new Map<string, number>();
  readonly clientIds = new Map<string, any>(); // `${sender}|${client_id}` → message id
  readonly offers: Offer[] = [];
  /** Messages a respond appended that no response returned: checked when history shows them. */
  readonly derived = new Map<number, (m: any) => void>();

  put(m: any): void {
    this.bySeq.set(m.seq, m);
    this.lastSeq = Math.max(this.lastSeq, m.seq);
    if (m.sender_id) {
      this.sent.set(m.sender_id, Math.max(this.sent.get(m.sender_id) ?? 0, m.seq));
      if (m.client_id !== null) this.clientIds.set(`${m.sender_id}|${m.client_id}`, m.id);
    }
    if (m.type === "offer" && m.data?.offer_id && !this.offers.some((o) => o.id === m.data.offer_id)) {
      this.offers.push({ id: m.data.offer_id, offerer: m.sender_id, status: m.data.status, seq: m.seq });
    }
  }

  byId(id: string): any {
    return [...this.bySeq.values()].find((m) => m.id === id);
  }

  cursor(userId: string): number {
    return Math.max(this.reads.get(userId) ?? 0, this.sent.get(userId) ?? 0);
  }

  /** Placeholders resolved at request time, for the acting user. */
  resolver(conversationId: string, me: string): (name: string) => string | undefined {
    const messages = [...this.bySeq.values()].sort((a, b) => b.seq - a.seq);
    return (name) => {
      switch (name) {
        case "$CONV":
          return conversationId;
        case "$MINE":
          return messages.find((m) => m.sender_id === me && (m.type === "text" || m.type === "product"))?.id ?? "msg_none";
        case "$THEIRS":
          return messages.find((m) => m.sender_id !== me)?.id ?? "msg_none";
        case "$AN_OFFER":
          return messages.find((m) => m.type === "offer")?.id ?? "msg_none";
        case "$THEIR_OFFER":
          return [...this.offers].reverse().find((o) => o.offerer !== me && o.status === "pending")?.id ?? this.offers[0]?.id;
        case "$MY_OFFER":
          return [...this.offers].reverse().find((o) => o.offerer === me)?.id;
        case "$FIRST_OFFER":
          return this.offers[0]?.id;
        default:
          return undefined;
      }
    };
  }

  /** A message history returned: known ones must be exactly as the model has them. */
  check(page: any, where: string): void {
    // A history page adds the viewer's status to their own messages; the rest is the message as answered.
    const m = withoutStatus(page) as any;
    const known = this.bySeq.get(m.seq);
    if (known) {
      expect(m, `history differs from what the responses said: ${where}`).toEqual(known);
      return;
    }
    const derived = this.derived.get(m.seq);
    expect(derived, `a message nobody was told about (seq ${m.seq}: ${JSON.stringify(m).slice(0, 300)}): ${where}`).toBeDefined();
    derived!(m);
    this.derived.delete(m.seq);
    this.put(m);
  }
}

const CODES = {
  send: ["VALIDATION_ERROR", "CHAT_ACCESS_DENIED", "PAYLOAD_TOO_LARGE", "RATE_LIMIT_EXCEEDED"],
  edit: ["VALIDATION_ERROR", "CHAT_ACCESS_DENIED", "MESSAGE_NOT_FOUND", "FORBIDDEN", "PAYLOAD_TOO_LARGE"],
  read: ["VALIDATION_ERROR", "CHAT_ACCESS_DENIED", "PAYLOAD_TOO_LARGE"],
  offer: ["VALIDATION_ERROR", "CHAT_ACCESS_DENIED", "PAYLOAD_TOO_LARGE", "RATE_LIMIT_EXCEEDED"],
  respond: ["VALIDATION_ERROR", "CHAT_ACCESS_DENIED", "NOT_FOUND", "FORBIDDEN", "OFFER_NOT_PENDING", "PAYLOAD_TOO_LARGE", "RATE_LIMIT_EXCEEDED"],
  history: ["VALIDATION_ERROR", "CHAT_ACCESS_DENIED"],
} as const;

const canonical = (v: string) => /^(0|[1-9]\d{0,5})$/.test(v);

async function runMessageRequests(requests: MessageRequest[], stats: Stats): Promise<void> {
  // Senders of their own per run: a user's message limit holds across all of their conversations.
  const [alice, bob] = await Promise.all([login("rest-alice"), login("rest-bob")]);
  const users = { alice, bob, carol };
  const id = await direct(alice, bob, { type: "fuzz-rest", id: runId() });
  const model = new ConversationModel();
  const seeds = [
    await sendRest(bob, id, "seed from bob"),
    await sendRest(alice, id, "seed from alice", { client_id: "dup-1" }),
    await callJson(`/api/v1/conversations/${id}/offers`, { method: "POST", token: bob.token, json: { amount: 10 } }),
    await callJson(`/api/v1/conversations/${id}/offers`, { method: "POST", token: alice.token, json: { amount: 20.5, currency: "EUR" } }),
  ];
  for (const s of seeds) {
    expect(s.status).toBe(201);
    model.put(s.body);
  }

  for (const req of requests) {
    const user = users[req.actor];
    const ids = model.resolver(id, user.id);
    const convSegment = resolveSegment(req.conv, ids);
    const realConv = req.conv === "$CONV";
    const participant = req.actor !== "carol";

    if (req.endpoint === "history") {
      const query = queryString(req.query);
      const res = await request("GET", `/api/v1/conversations/${convSegment}/messages${query}`, { token: user.token });
      const where = `GET history ${convSegment}${query} as ${req.actor}`;
      const code = expectDocumented(res, { ok: [200], codes: realConv ? [...CODES.history] : [...CODES.history, "NOT_FOUND"], schema: HistoryResponseSchema }, where);
      count(stats, "history", code, res.status);
      if (code) {
        if (realConv && !participant) expect(["CHAT_ACCESS_DENIED", "VALIDATION_ERROR"], where).toContain(code);
        continue;
      }
      expect(realConv && participant, `history of a conversation one is not part of: ${where}`).toBe(true);
      const page = res.json.messages as any[];
      page.forEach((m, i) => {
        if (i > 0) expect(m.seq, `ascending and contiguous: ${where}`).toBe(page[i - 1].seq + 1);
        model.check(m, where);
      });
      // Exactly the documented page when every parameter is a plain number.
      const params = new Map(req.query.map((p) => [p.key, p.value]));
      const only = req.query.every((p) => ["after_seq", "before_seq", "limit"].includes(p.key) && canonical(p.value)) && params.size === req.query.length;
      if (only) {
        const limit = params.has("limit") ? Number(params.get("limit")) : 50;
        if (limit >= 1 && limit <= 100) {
          const after = params.has("after_seq") ? Number(params.get("after_seq")) : undefined;
          const upper = params.has("before_seq") ? Number(params.get("before_seq")) : Number.MAX_SAFE_INTEGER;
          const all = Array.from({ length: model.lastSeq }, (_, i) => i + 1).filter((s) => s < upper && (after === undefined || s > after));
          const expected = after !== undefined ? all.slice(0, limit) : all.slice(Math.max(0, all.length - limit));
          expect(page.map((m) => m.seq), `page: ${where}`).toEqual(expected);
          expect(res.json.has_more, `has_more: ${where}`).toBe(all.length > limit);
        } else {
          throw new Error(`limit ${limit} out of range was accepted: ${where}`);
        }
      }
      continue;
    }

    const g = req.body;
    const body = realiseBody(g, ids);
    const method = req.endpoint === "edit" ? "PATCH" : "POST";
    let path = `/api/v1/conversations/${convSegment}`;
    if (req.endpoint === "send") path += "/messages";
    if (req.endpoint === "edit") path += `/messages/${resolveSegment(req.message, ids)}`;
    if (req.endpoint === "read") path += "/read";
    if (req.endpoint === "offer") path += "/offers";
    if (req.endpoint === "respond") path += `/offers/${resolveSegment(req.offer, ids)}/respond`;
    const where = `${method} ${path} as ${req.actor} with ${show(body)}`;
    const res = await request(method, path, { token: user.token, ct: body.ct, body: body.text });

    const okStatuses = { send: [200, 201], edit: [200], read: [200], offer: [200, 201], respond: [201] }[req.endpoint];
    const schema = req.endpoint === "read" ? ReadResponseSchema : MessageSchema;
    const codes: string[] = [...CODES[req.endpoint]];
    const oddPath = !realConv || (req.endpoint === "edit" && !req.message.startsWith("$")) || (req.endpoint === "respond" && !req.offer.startsWith("$"));
    if (oddPath) codes.push("NOT_FOUND", "MESSAGE_NOT_FOUND");
    const code = expectDocumented(res, { ok: okStatuses, codes, schema }, where);
    count(stats, req.endpoint, code, res.status);

    // Whatever the endpoint: wrong content type and broken JSON are 400, over 256 KiB is 413.
    const generic = genericExpectation(g, body);
    if (generic) {
      if (oddPath && code === "NOT_FOUND") continue; // e.g. an empty segment: no such route
      expect(code, `expected ${generic}: ${where} → ${res.text.slice(0, 300)}`).toBe(generic);
      continue;
    }
    if (code) {
      // A refusal changes nothing (checked against the stored log at the end of the run).
      if (!participant && realConv && code !== "VALIDATION_ERROR" && !(oddPath && code === "NOT_FOUND")) expect(code, where).toBe("CHAT_ACCESS_DENIED");
      if (code === "OFFER_NOT_PENDING") {
        const offer = model.offers.find((o) => o.id === ids(req.endpoint === "respond" ? req.offer : ""));
        expect(offer?.status, `OFFER_NOT_PENDING for a pending offer: ${where}`).not.toBe("pending");
      }
      continue;
    }
    expect(realConv && participant, `a write accepted from a non-participant or on another conversation: ${where}`).toBe(true);
    const sent: Obj = body.parsed?.ok ? (body.parsed.value as Obj) : {};
    const m = res.json;

    if (req.endpoint === "read") {
      const before = model.cursor(user.id);
      const target = typeof sent.up_to_seq === "number" ? sent.up_to_seq : model.lastSeq;
      model.reads.set(user.id, Math.max(model.reads.get(user.id) ?? 0, Math.min(target, model.lastSeq)));
      expect(res.json, where).toEqual({ last_read_seq: model.cursor(user.id), unread_count: model.lastSeq - model.cursor(user.id) });
      expect(model.cursor(user.id)).toBeGreaterThanOrEqual(before);
      continue;
    }
    if (req.endpoint === "edit") {
      const target = model.byId(m.id);
      expect(target, where).toBeDefined();
      expect(target.sender_id, `edited someone else's message: ${where}`).toBe(user.id);
      expect(target.deleted_at, where).toBeNull();
      expect(m, where).toMatchObject({ id: target.id, seq: target.seq, content: (sent.content as string).trim(), type: target.type });
      expect(m.edited_at, where).not.toBeNull();
      model.put(m);
      continue;
    }
    if (req.endpoint === "send" || req.endpoint === "offer") {
      const cid = typeof sent.client_id === "string" ? sent.client_id.trim() : null;
      const existing = cid !== null ? model.clientIds.get(`${user.id}|${cid}`) : undefined;
      if (existing) {
        expect(res.status, `a retried client_id answers 200 with the first message: ${where}`).toBe(200);
        expect(m, where).toEqual(model.byId(existing));
        continue;
      }
      expect(res.status, `a new message answers 201: ${where}`).toBe(201);
      expect(m.seq, `seq must be last_seq + 1: ${where}`).toBe(model.lastSeq + 1);
      expect(m.sender_id, where).toBe(user.id);
      expect(m.client_id, where).toBe(cid);
      if (req.endpoint === "send") {
        expect(m.type, where).toBe(sent.type ?? "text");
        expect(m.content, where).toBe((sent.content as string).trim());
        expect(m.reply_to, where).toBe(sent.reply_to ?? null);
        const data = JSON.stringify(sent.data ?? null);
        if (!data.includes("__proto__")) expect(m.data, where).toEqual(JSON.parse(data));
      } else {
        expect(m.type, where).toBe("offer");
        expect(m.data, where).toMatchObject({ status: "pending", amount: Math.round((sent.amount as number) * 100) / 100, currency: sent.currency ?? "USD" });
      }
      model.put(m);
      continue;
    }
    // respond
    const offer = model.offers.find((o) => o.id === ids(req.offer));
    expect(offer, `answered an offer the model does not know: ${where}`).toBeDefined();
    expect(offer!.status, `answered a non-pending offer: ${where}`).toBe("pending");
    const action = sent.action as string;
    expect(action === "withdraw" ? offer!.offerer === user.id : offer!.offerer !== user.id, `the offer rules: ${where}`).toBe(true);
    const outcome = { accept: "accepted", reject: "rejected", counter: "countered", withdraw: "withdrawn" }[action]!;
    const offerMessage = model.bySeq.get(offer!.seq);
    expect(m, where).toMatchObject({ type: "offer_response", sender_id: user.id, client_id: null });
    if (offerMessage) expect(m.reply_to, where).toBe(offerMessage.id);
    expect(m.data, where).toMatchObject({ offer_id: offer!.id, action, status: outcome });
    expect(m.seq, where).toBe(model.lastSeq + 1 + (action === "counter" ? 1 : 0));
    offer!.status = outcome;
    // The offer message shows the new status (a counter offer's message is learned from history).
    if (offerMessage) model.put({ ...offerMessage, data: { ...offerMessage.data, status: outcome } });
    if (action === "counter") {
      const counterSeq = m.seq - 1;
      const counterId = m.data.counter_offer_id;
      expect(typeof counterId, where).toBe("string");
      const counter: Offer = { id: counterId, offerer: user.id, status: "pending", seq: counterSeq };
      model.offers.push(counter);
      model.derived.set(counterSeq, (c) => {
        expect(c, `the counter offer: ${where}`).toMatchObject({ type: "offer", sender_id: user.id, data: { offer_id: counterId, counter_of: offer!.id, status: counter.status } });
      });
      model.lastSeq = Math.max(model.lastSeq, counterSeq);
      model.sent.set(user.id, Math.max(model.sent.get(user.id) ?? 0, counterSeq));
    }
    model.put(m);
    if (action === "accept") {
      const noteSeq = m.seq + 1;
      model.derived.set(noteSeq, (note) => {
        expect(note, `the acceptance note: ${where}`).toMatchObject({ type: "system", sender_id: null, data: { action: "offer.accepted", offer_id: offer!.id } });
      });
      model.lastSeq = Math.max(model.lastSeq, noteSeq);
    }
  }

  // The stored log is gapless and is exactly what the successful responses said, nothing more.
  const log = await history(alice, id);
  expect(log.map((m) => m.seq)).toEqual(Array.from({ length: model.lastSeq }, (_, i) => i + 1));
  for (const m of log) model.check(m, "final history");
  expect(model.derived.size).toBe(0);
  expect(log).toEqual([...model.bySeq.values()].sort((a, b) => a.seq - b.seq));
}

// ════════════════════════════════════════════════════════════════════════════════════════════
// Conversation endpoints: POST /conversations, PATCH /conversations/{id}
// ════════════════════════════════════════════════════════════════════════════════════════════

const participantRef = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("$P0", "$P1", "$P2", "$P3") },
  { weight: 1, arbitrary: fc.constantFrom("$ME", "usr_nobody", "", "x".repeat(129)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const emailRef = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("$P0_EMAIL", "$P1_EMAIL_UPPER", "$P2_EMAIL") },
  { weight: 1, arbitrary: fc.constantFrom("nobody-at-all@example.com", "not-an-email", "", "a@b", "@example.com", "x".repeat(250) + "@e.com") },
);
const contextBody = object({
  type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom("product", "booking", " request ") }, { weight: 1, arbitrary: fc.constantFrom("", " ", "x".repeat(65)) }),
  id: fc.oneof({ weight: 4, arbitrary: fc.constantFrom("$CTX0", "$CTX1", "$CTX2") }, { weight: 1, arbitrary: fc.constantFrom("", "  ", "x".repeat(129)) }),
  title: opt(fc.string({ maxLength: 20 })),
  price: opt(fc.oneof(fc.nat(), fc.constantFrom(-1, 0.5, 1e308, 2 ** 53 + 2))),
  currency: opt(fc.constantFrom("USD", "USD", "usd", "EURO")),
  image_url: opt(fc.constantFrom("https://img.test/a.png", "http://img.test/b", "https://img.test/c?d=e", "ftp://img.test/c", "javascript:alert(1)", "not a url", "https://")),
});
const createBody = object({
  type: fc.oneof({ weight: 8, arbitrary: fc.constantFrom("direct", "group") }, { weight: 1, arbitrary: fc.constantFrom("DIRECT", "channel", "") }),
  participant_ids: fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.constantFrom("$P0", "$P1", "$P2", "$P3"), { minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: fc.array(participantRef, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  ),
  participant_emails: rare(fc.array(emailRef, { maxLength: 2 }), 4),
  title: opt(fc.oneof({ weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) }, { weight: 1, arbitrary: fc.constantFrom("", "  ", "x".repeat(201)) })),
  context: opt(contextBody),
  roles: rare(fc.dictionary(fc.oneof(participantRef, fc.constant("$ME")), fc.constantFrom("buyer", "seller", "client", "provider", "member", "admin", "owner"), { maxKeys: 3 }), 4),
  metadata: opt(fc.oneof({ weight: 5, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) }, { weight: 1, arbitrary: fc.constant({ big: "x".repeat(5000) }) })),
});
const patchConversationBody = object({
  title: opt(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(null, "", "  ", "x".repeat(201)))),
  status: opt(fc.oneof({ weight: 4, arbitrary: fc.constantFrom("active", "closed") }, { weight: 1, arbitrary: fc.constantFrom("archived", "CLOSED", "") })),
  metadata: opt(fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.constant({ big: "x".repeat(5000) }))),
});

type ConversationRequest = { endpoint: "create"; body: BodyGen } | { endpoint: "patch"; target: string; body: BodyGen };
const conversationRequest: fc.Arbitrary<ConversationRequest> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ endpoint: fc.constant("create" as const), body: bodies(createBody) }) },
  { weight: 2, arbitrary: fc.record({ endpoint: fc.constant("patch" as const), target: fc.oneof(fc.constantFrom("$LAST", "$LAST", "$FIRST", "$FOREIGN"), segment("$LAST")), body: bodies(patchConversationBody) }) },
);

async function runConversationRequests(requests: ConversationRequest[], stats: Stats): Promise<void> {
  const me = await login("rest-creator");
  const run = runId();
  const first = await direct(me, pool[0]!, { type: "seed", id: run });
  type Known = { id: string; title: string | null; status: string; metadata: unknown; participants: string[] };
  const known = new Map<string, Known>();
  const directKeys = new Map<string, string>();
  const firstConv = (await callJson(`/api/v1/conversations/${first}`, { token: me.token })).body;
  known.set(first, { id: first, title: null, status: "active", metadata: {}, participants: [me.id, pool[0]!.id].sort() });
  directKeys.set(`${[me.id, pool[0]!.id].sort().join("|")}#seed:${run}`, first);
  expect(firstConv.id).toBe(first);
  let last = first;
  const ids = (name: string): string | undefined => {
    const p = /^\$P(\d)(_EMAIL(_UPPER)?)?$/.exec(name);
    if (p) {
      const u = pool[Number(p[1])]!;
      return p[3] ? u.email.toUpperCase() : p[2] ? u.email : u.id;
    }
    if (name === "$ME") return me.id;
    if (/^\$CTX\d$/.test(name)) return `${run}-${name.slice(4)}`;
    if (name === "$LAST") return last;
    if (name === "$FIRST") return first;
    if (name === "$FOREIGN") return foreignConversation;
    return undefined;
  };
  const emailToId = new Map(pool.map((u) => [u.email.toLowerCase(), u.id]));

  for (const req of requests) {
    const body = realiseBody(req.body, ids);
    if (req.endpoint === "create") {
      const where = `POST /conversations with ${show(body)}`;
      const res = await request("POST", "/api/v1/conversations", { token: me.token, ct: body.ct, body: body.text });
      const code = expectDocumented(res, { ok: [200, 201], codes: ["VALIDATION_ERROR", "USER_NOT_FOUND", "PAYLOAD_TOO_LARGE"], schema: ConversationSchema }, where);
      count(stats, "create", code, res.status);
      const generic = genericExpectation(req.body, body);
      if (generic) expect(code, where).toBe(generic);
      if (code) continue;
      const sent = (body.parsed as { ok: true; value: Obj }).value;
      const c = res.json;
      // Everyone named must exist; the creator is always in.
      const named = new Set<string>([...((sent.participant_ids as string[] | undefined) ?? []), ...((sent.participant_emails as string[] | undefined) ?? []).map((e) => emailToId.get(e.toLowerCase()) ?? `missing:${e}`)]);
      named.delete(me.id);
      for (const n of named) expect(pool.map((u) => u.id), `a conversation with someone who does not exist: ${where}`).toContain(n);
      const members = [me.id, ...named].sort();
      expect(c.participants.map((p: any) => p.id).sort(), where).toEqual(members);
      expect(c.type, where).toBe(sent.type);
      expect(c.created_by, where).toBe(me.id);
      const roles = (sent.roles as Record<string, string> | undefined) ?? {};
      for (const p of c.participants) expect(p.role, where).toBe(roles[p.id] ?? "member");
      for (const r of Object.keys(roles)) expect(members, `a role for a non-participant: ${where}`).toContain(r);
      if (sent.type === "direct") {
        expect(members, `a direct conversation has two participants: ${where}`).toHaveLength(2);
        const ctx = sent.context as { type: string; id: string } | undefined;
        const key = `${members.join("|")}#${ctx ? `${ctx.type.trim()}:${ctx.id.trim()}` : ""}`;
        const existing = directKeys.get(key);
        if (existing) {
          expect(res.status, `create-or-get: the same pair and context is 200: ${where}`).toBe(200);
          expect(c.id, `create-or-get returns the existing conversation: ${where}`).toBe(existing);
          continue;
        }
        directKeys.set(key, c.id);
      }
      expect(res.status, `a new conversation is 201: ${where}`).toBe(201);
      expect(known.has(c.id), where).toBe(false);
      expect(c.title, where).toBe(typeof sent.title === "string" ? sent.title.trim() : null);
      if (!JSON.stringify(sent.metadata ?? null).includes("__proto__")) expect(c.metadata, where).toEqual(sent.metadata ?? {});
      expect(c.status, where).toBe("active");
      expect(c.last_message, where).toBeNull();
      known.set(c.id, { id: c.id, title: c.title, status: "active", metadata: c.metadata, participants: members });
      last = c.id;
      continue;
    }
    const target = resolveSegment(req.target, ids);
    const where = `PATCH /conversations/${target} with ${show(body)}`;
    const res = await request("PATCH", `/api/v1/conversations/${target}`, { token: me.token, ct: body.ct, body: body.text });
    const odd = !req.target.startsWith("$");
    const code = expectDocumented(res, { ok: [200], codes: ["VALIDATION_ERROR", "CHAT_ACCESS_DENIED", "PAYLOAD_TOO_LARGE", ...(odd ? ["NOT_FOUND"] : [])], schema: ConversationSchema }, where);
    count(stats, "patch", code, res.status);
    const generic = genericExpectation(req.body, body);
    if (generic && !(odd && code === "NOT_FOUND")) expect(code, where).toBe(generic);
    if (code) {
      if (req.target === "$FOREIGN" && !generic) expect(["CHAT_ACCESS_DENIED", "VALIDATION_ERROR"], where).toContain(code);
      continue;
    }
    const model = known.get(res.json.id);
    expect(model, `patched a conversation one is not part of: ${where}`).toBeDefined();
    const sent = (body.parsed as { ok: true; value: Obj }).value;
    if (sent.title !== undefined) model!.title = sent.title === null ? null : (sent.title as string).trim();
    if (sent.status !== undefined) model!.status = sent.status as string;
    if (sent.metadata !== undefined && !JSON.stringify(sent.metadata).includes("__proto__")) model!.metadata = sent.metadata;
    expect({ title: res.json.title, status: res.json.status }, where).toEqual({ title: model!.title, status: model!.status });
    if (!JSON.stringify(sent.metadata ?? null).includes("__proto__")) expect(res.json.metadata, where).toEqual(model!.metadata);
    else model!.metadata = res.json.metadata;
  }

  // Exactly the conversations the successful creates made, each as the successful patches left it.
  const listed: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 20; page++) {
    const res = await request("GET", `/api/v1/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token: me.token });
    expect(res.status).toBe(200);
    listed.push(...res.json.conversations);
    cursor = res.json.next_cursor;
    if (!cursor) break;
  }
  expect(listed.map((c) => c.id).sort(), "no conversation from a refused request").toEqual([...known.keys()].sort());
  for (const c of listed) {
    const model = known.get(c.id)!;
    expect({ title: c.title, status: c.status, metadata: c.metadata, participants: c.participants.map((p: any) => p.id).sort() }).toEqual({
      title: model.title,
      status: model.status,
      metadata: model.metadata,
      participants: model.participants,
    });
  }
}

// ════════════════════════════════════════════════════════════════════════════════════════════
// People endpoints: PATCH /users/me, POST /friends/requests, POST /blocks
// ════════════════════════════════════════════════════════════════════════════════════════════

const patchMeBody = object({
  name: opt(fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: "grapheme", maxLength: 10 }), fc.constantFrom("", "  ", "x".repeat(100), "x".repeat(101), " padded "))),
  avatar_url: opt(fc.constantFrom(null, "https://img.test/me.png", "http://img.test/x?y=1#z", "ftp://img.test/a", "javascript:alert(1)", "not a url", "", `https://img.test/${"a".repeat(2040)}`)),
});
const targetBody = object({ user_id: fc.oneof({ weight: 6, arbitrary: fc.constantFrom("$P0", "$P1", "$P2", "$P3") }, { weight: 2, arbitrary: fc.constantFrom("$ME", "usr_nobody", "", "x".repeat(129)) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }) });

type PeopleRequest = { endpoint: "me" | "friend" | "block"; body: BodyGen };
const peopleRequest: fc.Arbitrary<PeopleRequest> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ endpoint: fc.constant("me" as const), body: bodies(patchMeBody) }) },
  { weight: 2, arbitrary: fc.record({ endpoint: fc.constant("friend" as const), body: bodies(targetBody) }) },
  { weight: 2, arbitrary: fc.record({ endpoint: fc.constant("block" as const), body: bodies(targetBody) }) },
);

async function runPeopleRequests(requests: PeopleRequest[], stats: Stats): Promise<void> {
  const me = await login("rest-person", "Person");
  const profile = (await callJson("/api/v1/users/me", { token: me.token })).body;
  const requested = new Set<string>();
  const blocked = new Set<string>();
  const ids = (name: string): string | undefined => (/^\$P\d$/.test(name) ? pool[Number(name.slice(2))]!.id : name === "$ME" ? me.id : undefined);
  const poolIds = () => pool.map((u) => u.id);

  for (const req of requests) {
    const body = realiseBody(req.body, ids);
    const path = { me: "/api/v1/users/me", friend: "/api/v1/friends/requests", block: "/api/v1/blocks" }[req.endpoint];
    const method = req.endpoint === "me" ? "PATCH" : "POST";
    const where = `${method} ${path} with ${show(body)}`;
    const res = await request(method, path, { token: me.token, ct: body.ct, body: body.text });
    const allowed = {
      me: { ok: [200], codes: ["VALIDATION_ERROR", "PAYLOAD_TOO_LARGE"], schema: UserSchema },
      friend: { ok: [201], codes: ["VALIDATION_ERROR", "USER_NOT_FOUND", "PAYLOAD_TOO_LARGE"], schema: FriendRequestSchema },
      block: { ok: [201], codes: ["VALIDATION_ERROR", "USER_NOT_FOUND", "PAYLOAD_TOO_LARGE"], schema: BlockSchema },
    }[req.endpoint];
    const code = expectDocumented(res, allowed, where);
    count(stats, req.endpoint, code, res.status);
    const generic = genericExpectation(req.body, body);
    if (generic) {
      expect(code, where).toBe(generic);
      continue;
    }
    const sent = (body.parsed as { ok: true; value: Obj }).value;
    if (req.endpoint === "me") {
      if (code) continue;
      if (typeof sent.name === "string") profile.name = sent.name.trim();
      if (sent.avatar_url !== undefined) profile.avatar_url = sent.avatar_url;
      expect(res.json, where).toEqual(profile);
      continue;
    }
    // A well-formed target: the outcome is known exactly.
    const target = sent.user_id;
    if (typeof target === "string" && target.length >= 1 && target.length <= 128) {
      let expected: string | null;
      if (target === me.id) expected = "VALIDATION_ERROR";
      else if (!poolIds().includes(target)) expected = "USER_NOT_FOUND";
      else if (req.endpoint === "friend" && requested.has(target)) expected = "VALIDATION_ERROR"; // already pending
      else expected = null;
      expect(code, `outcome for ${target}: ${where}`).toBe(expected);
    } else {
      expect(code, where).toBe("VALIDATION_ERROR");
    }
    if (code) continue;
    if (req.endpoint === "friend") {
      expect(res.json, where).toMatchObject({ from_user_id: me.id, to_user_id: target, status: "pending" });
      requested.add(target as string);
    } else {
      expect(res.json, where).toEqual({ user_id: target, blocked: true });
      blocked.add(target as string);
    }
  }

  // The profile is what the successful patches made it; exactly the successful requests are pending.
  expect((await callJson("/api/v1/users/me", { token: me.token })).body).toEqual(profile);
  const pending = (await callJson("/api/v1/friends/requests", { token: me.token })).body;
  expect(pending.outgoing.map((r: any) => r.to_user_id).sort()).toEqual([...requested].sort());
  expect(pending.incoming).toEqual([]);
  // A blocked user cannot start a conversation with the blocker; the others can.
  for (const u of pool) {
    const res = await request("POST", "/api/v1/conversations", { token: u.token, ct: "application/json", body: JSON.stringify({ type: "direct", participant_ids: [me.id] }) });
    if (blocked.has(u.id)) {
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe("BLOCKED");
    } else {
      expect(res.status).toBe(201);
    }
  }
}

// ════════════════════════════════════════════════════════════════════════════════════════════

describe("fuzzing REST bodies", () => {
  it("message endpoints: POST/PATCH messages, POST read, POST offers, POST respond, GET history", async () => {
    const stats = newStats();
    await holds(fc.array(messageRequest, { minLength: 20, maxLength: 40 }), (requests) => runMessageRequests(requests, stats), 70);
    console.log("message endpoints", stats.requests, JSON.stringify(stats.outcomes));
    expect(stats.requests).toBeGreaterThan(1800);
    for (const endpoint of ["send", "edit", "read", "offer", "respond", "history"]) expect(successes(stats, endpoint), `successful ${endpoint}`).toBeGreaterThan(0);
  }, 90_000);

  it("conversation endpoints: POST /conversations, PATCH /conversations/{id}", async () => {
    const stats = newStats();
    await holds(fc.array(conversationRequest, { minLength: 15, maxLength: 30 }), (requests) => runConversationRequests(requests, stats), 45);
    console.log("conversation endpoints", stats.requests, JSON.stringify(stats.outcomes));
    expect(stats.requests).toBeGreaterThan(700);
    expect(successes(stats, "create")).toBeGreaterThan(0);
    expect(successes(stats, "patch")).toBeGreaterThan(0);
  }, 60_000);

  it("people endpoints: PATCH /users/me, POST /friends/requests, POST /blocks", async () => {
    const stats = newStats();
    await holds(fc.array(peopleRequest, { minLength: 15, maxLength: 30 }), (requests) => runPeopleRequests(requests, stats), 45);
    console.log("people endpoints", stats.requests, JSON.stringify(stats.outcomes));
    expect(stats.requests).toBeGreaterThan(700);
    for (const endpoint of ["me", "friend", "block"]) expect(successes(stats, endpoint), `successful ${endpoint}`).toBeGreaterThan(0);
  }, 60_000);
});

describe("fuzzing query strings and headers", () => {
  it("GET history, the conversation list, search and presence with random query strings", async () => {
    const id = await direct(alice, bob, { type: "fuzz-rest-query", id: runId() });
    const log: any[] = [];
    for (let i = 0; i < 12; i++) {
      const sent = await sendRest(i % 2 ? bob : alice, id, `query seed ${i}`);
      expect(sent.status).toBe(201);
      log.push(sent.body);
    }
    const listQuery = fc.array(
      fc.record({
        key: fc.oneof({ weight: 6, arbitrary: fc.constantFrom("limit", "cursor", "status", "context_type", "context_id") }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) }),
        value: fc.oneof(queryValue, fc.constantFrom("active", "closed", "fuzz-rest", "W10=", "WyJhIiwiYiJd", "bm90IGpzb24=", "!!!", "x".repeat(600))),
        raw: fc.boolean(),
      }),
      { maxLength: 4 },
    );
    // At most 20 ids here: 50 or more hit a 500 (the dedicated test below).
    const ids = fc.array(fc.oneof(fc.constantFrom(alice.id, bob.id, carol.id, pool[0]!.id), fc.string({ maxLength: 10 })), { maxLength: 20 });
    type Probe = { kind: "history"; query: QueryPair[] } | { kind: "list"; query: QueryPair[] } | { kind: "search"; q: string; limit: string } | { kind: "presence"; ids: string[]; raw: boolean };
    const probe: fc.Arbitrary<Probe> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("history" as const), query: historyQuery }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("list" as const), query: listQuery }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("search" as const), q: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("rest-", "", " ", "%", "_", "x".repeat(300))), limit: queryValue }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("presence" as const), ids, raw: fc.boolean() }) },
    );
    let requests = 0;
    const outcomes: Record<string, number> = {};
    await holds(
      fc.array(probe, { minLength: 20, maxLength: 40 }),
      async (probes) => {
        for (const p of probes) {
          requests++;
          if (p.kind === "history") {
            const q = queryString(p.query);
            const where = `GET history${q}`;
            const res = await request("GET", `/api/v1/conversations/${id}/messages${q}`, { token: bob.token });
            const code = expectDocumented(res, { ok: [200], codes: ["VALIDATION_ERROR"], schema: HistoryResponseSchema }, where);
            outcomes[`history ${code ?? 200}`] = (outcomes[`history ${code ?? 200}`] ?? 0) + 1;
            if (code) continue;
            const page = res.json.messages as any[];
            for (const m of page) expect(withoutStatus(m), where).toEqual(log[m.seq - 1]);
            page.forEach((m, i) => i > 0 && expect(m.seq, where).toBe(page[i - 1].seq + 1));
            continue;
          }
          if (p.kind === "list") {
            const q = queryString(p.query);
            const where = `GET /conversations${q}`;
            const res = await request("GET", `/api/v1/conversations${q}`, { token: alice.token });
            const code = expectDocumented(res, { ok: [200], codes: ["VALIDATION_ERROR"], schema: ConversationListSchema }, where);
            outcomes[`list ${code ?? 200}`] = (outcomes[`list ${code ?? 200}`] ?? 0) + 1;
            if (!code) for (const c of res.json.conversations) expect(c.participants.map((x: any) => x.id), where).toContain(alice.id);
            continue;
          }
          if (p.kind === "search") {
            const where = `GET /users/search?q=${p.q}&limit=${p.limit}`;
            const res = await request("GET", `/api/v1/users/search?q=${encodeURIComponent(p.q)}&limit=${encodeURIComponent(p.limit)}`, { token: alice.token });
            const code = expectDocumented(res, { ok: [200], codes: ["VALIDATION_ERROR"], schema: UserListSchema }, where);
            outcomes[`search ${code ?? 200}`] = (outcomes[`search ${code ?? 200}`] ?? 0) + 1;
            if (!code) expect(res.json.users.map((u: any) => u.id), `search excludes the caller: ${where}`).not.toContain(alice.id);
            continue;
          }
          const list = p.raw ? p.ids.map((s) => s.replace(/[#&\s%]/g, "_")).join(",") : p.ids.map(encodeURIComponent).join(",");
          const where = `GET /presence?user_ids=${list}`;
          const res = await request("GET", `/api/v1/presence?user_ids=${list}`, { token: alice.token });
          const code = expectDocumented(res, { ok: [200], codes: ["VALIDATION_ERROR"], schema: PresenceListSchema }, where);
          outcomes[`presence ${code ?? 200}`] = (outcomes[`presence ${code ?? 200}`] ?? 0) + 1;
          if (!code) for (const u of res.json.users) expect([bob.id, alice.id], `presence of someone one shares nothing with: ${where}`).toContain(u.id);
        }
      },
      50,
    );
    console.log("query strings", requests, JSON.stringify(outcomes));
    expect(requests).toBeGreaterThan(1000);
  }, 60_000);

  it("random Authorization headers and token claims: 401 with a documented code, or the caller's own data", async () => {
    const secret = new TextEncoder().encode(env.JWT_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const claimJunk = fc.oneof(fc.jsonValue({ maxDepth: 2 }), hugeNumbers, unicode, fc.constantFrom<unknown>(null, true, [], {}, "x".repeat(2000)));
    const claims = fc.record(
      {
        sub: fc.oneof(fc.constant("$FRESH"), fc.constant("$FRESH"), fc.constant(""), fc.constant("x".repeat(129)), claimJunk),
        exp: fc.oneof(fc.constant(now + 3600), fc.constant(now + 3600), fc.constant(now - 10), fc.constant(now + 1e9), fc.constantFrom<unknown>("tomorrow", null, 1.5, -1), claimJunk),
        name: claimJunk,
        email: fc.oneof(fc.constantFrom("someone@example.com", " MiXeD@Example.COM "), claimJunk),
        roles: fc.oneof(fc.constantFrom<unknown>([], ["member"], "a, b"), claimJunk),
      },
      { requiredKeys: [] },
    );
    const header = fc.oneof(
      { weight: 3, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 40 }).map((s) => ({ authorization: s.replace(/[^\x20-\x7e]/g, "") })) },
      { weight: 2, arbitrary: fc.constantFrom("$VALID", "Bearer", "Bearer ", "bearer $TOKEN", "Bearer  $TOKEN ", "Bearer $TOKEN x", "Basic $TOKEN", "Bearer $TOKEN.", "Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "$TAMPERED", "$NONE_ALG").map((s) => ({ authorization: s })) },
      { weight: 3, arbitrary: claims.map((c) => ({ claims: c })) },
    );
    let requests = 0;
    const outcomes: Record<string, number> = {};
    await holds(
      fc.array(header, { minLength: 10, maxLength: 20 }),
      async (headers) => {
        for (const h of headers) {
          requests++;
          let authorization: string;
          let expectedUser: string | null = null;
          if ("claims" in h) {
            const payload: Obj = { ...h.claims };
            const fresh = `usr_claims_${runId()}`;
            if (payload.sub === "$FRESH") payload.sub = fresh;
            const token = await new SignJWT(payload as never).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
            authorization = `Bearer ${token}`;
            const validSub = typeof payload.sub === "string" && payload.sub.length >= 1 && payload.sub.length <= 128;
            const validExp = typeof payload.exp === "number" && Number.isFinite(payload.exp) && payload.exp > now + 5;
            if (validSub && validExp) expectedUser = payload.sub as string;
          } else {
            const [head, body, sig] = alice.token.split(".");
            authorization = h.authorization
              .replace("$VALID", `Bearer ${alice.token}`)
              .replace("$TOKEN", alice.token)
              .replace("$TAMPERED", `Bearer ${head}.${btoa(JSON.stringify({ sub: bob.id, exp: now + 3600 })).replace(/=+$/, "")}.${sig}`)
              .replace("$NONE_ALG", `Bearer ${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${body}.`);
            authorization = authorization.replace(/^[ \t]+|[ \t]+$/g, "");
            const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
            if (match?.[1] === alice.token) expectedUser = alice.id;
          }
          const where = `GET /users/me with Authorization: ${authorization.slice(0, 200)}`;
          const res = await request("GET", "/api/v1/users/me", { authorization });
          const code = expectDocumented(res, { ok: [200], codes: ["AUTHENTICATION_REQUIRED", "INVALID_TOKEN"], schema: UserSchema }, where);
          outcomes[code ?? "200"] = (outcomes[code ?? "200"] ?? 0) + 1;
          if (expectedUser) {
            expect(code, where).toBeNull();
            expect(res.json.id, where).toBe(expectedUser);
          } else {
            expect(code, `only a valid token passes: ${where}`).not.toBeNull();
            if (!/^Bearer\s+\S+\s*$/i.test(authorization)) expect(code, where).toBe("AUTHENTICATION_REQUIRED");
          }
        }
      },
      40,
    );
    console.log("authorization headers", requests, JSON.stringify(outcomes));
    expect(requests).toBeGreaterThan(400);
  }, 60_000);
});

describe("inputs the schemas allow, at their limits", () => {
  it("a group with 20 other participants (participant_ids allows 100) is created, not a 500", async () => {
    const creator = await login("rest-big-group");
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => login(`rest-member${i}`)));
    const res = await request("POST", "/api/v1/conversations", {
      token: creator.token,
      ct: "application/json",
      body: JSON.stringify({ type: "group", title: "twenty-one people", participant_ids: others.map((u) => u.id) }),
    });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    expect(res.json.participants).toHaveLength(21);
  }, 30_000);

  it("presence for 100 user ids (the documented maximum) answers 200, not a 500", async () => {
    const ids = [bob.id, ...Array.from({ length: 99 }, (_, i) => `usr_unknown_${i}`)];
    await direct(alice, bob, { type: "fuzz-rest-presence", id: runId() });
    const res = await request("GET", `/api/v1/presence?user_ids=${ids.join(",")}`, { token: alice.token });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.json.users.map((u: any) => u.id)).toEqual([bob.id]);
  });
});
