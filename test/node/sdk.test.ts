// The client SDK (src/client) against the real Worker under `wrangler dev`, in Node 22 with the
// platform's own fetch and WebSocket: ordering and exactly-once delivery across forced
// disconnects, the outbox through disconnects and reloads, bounded backoff, the REST client.
//
// Types come from the package's own export ("edge-chat/client": the declarations built from the
// zod schemas); the code under test is the source, loaded at run time so it is never stale.
// This file is also matched by the workerd test config (test/**/*.test.ts), where it is skipped.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import type * as Sdk from "edge-chat/client";

const inWorkerd = typeof navigator !== "undefined" && navigator.userAgent === "Cloudflare-Workers";

interface DevServer {
  url: string;
  stop(): Promise<void>;
}
type StartDevServer = (options: { vars?: Record<string, string | number> }) => Promise<DevServer>;

const SDK_SOURCE = "../../src/client/index.ts";
const SDK_BUILD = "../../public/sdk/index.js";
const DEV_SERVER = "../../scripts/dev-server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A stand-in for localStorage: strings in, strings out. */
class FakeLocalStorage implements Sdk.KeyValueStore {
  readonly data = new Map<string, string>();
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.data.set(key, value);
  }
}

/** A WebSocket whose server side is the test: it opens, delivers frames and closes on command. */
class ScriptedSocket {
  static instances: ScriptedSocket[] = [];
  readyState = 0;
  readonly sent: Record<string, unknown>[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
    ScriptedSocket.instances.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  static async next(count: number): Promise<ScriptedSocket> {
    await waitFor(`socket #${count}`, () => ScriptedSocket.instances.length >= count, 2_000);
    return ScriptedSocket.instances[count - 1]!;
  }
}

function fakeMessage(seq: number): Sdk.Message {
  return {
    id: `m${seq}`,
    conversation_id: "c1",
    seq,
    sender_id: "u2",
    type: "text",
    content: `m${seq}`,
    data: null,
    reply_to: null,
    attachment: null,
    reactions: {},
    client_id: null,
    edited_at: null,
    deleted_at: null,
    created_at: new Date(0).toISOString(),
  };
}

const hello = (lastSeq: number) => ({ type: "hello", conversation_id: "c1", user_id: "u1", last_seq: lastSeq, participants: [], typing: [] });
const live = (seq: number) => ({ type: "message.new", message: fakeMessage(seq), delivered_to: [] });
const batch = (...seqs: number[]) => ({ type: "sync.batch", messages: seqs.map(fakeMessage) });

describe.skipIf(inWorkerd)("client SDK against wrangler dev", () => {
  let sdk: typeof Sdk;
  let server: DevServer;
  let users = 0;

  beforeAll(async () => {
    sdk = (await import(/* @vite-ignore */ SDK_SOURCE)) as typeof Sdk;
    const { startDevServer } = (await import(/* @vite-ignore */ DEV_SERVER)) as { startDevServer: StartDevServer };
    server = await startDevServer({
      vars: { RATE_MESSAGES_PER_MIN: 100000, RATE_LOGINS_PER_MIN_PER_IP: 100000, RATE_CONNECTS_PER_MIN_PER_IP: 100000, RATE_TYPING_PER_MIN: 100000 },
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function login(name: string): Promise<{ client: Sdk.ChatClient; user: Sdk.User }> {
    const client = new sdk.ChatClient({ baseUrl: server.url });
    const { user } = await client.login({ email: `${name}-${++users}@sdk.test`, name });
    return { client, user };
  }

  async function pair(): Promise<{ alice: Sdk.ChatClient; bob: Sdk.ChatClient; conversation: Sdk.Conversation }> {
    const [a, b] = await Promise.all([login("alice"), login("bob")]);
    const conversation = await a.client.createConversation({ type: "direct", participant_ids: [b.user.id] });
    return { alice: a.client, bob: b.client, conversation };
  }

  /** Every message of a conversation, through the REST history. */
  async function history(client: Sdk.ChatClient, conversationId: string): Promise<Sdk.Message[]> {
    const messages: Sdk.Message[] = [];
    for (let after = 0; ; ) {
      const page = await client.listMessages(conversationId, { after_seq: after, limit: 100 });
      messages.push(...page.messages);
      if (!page.has_more || page.messages.length === 0) return messages;
      after = page.messages[page.messages.length - 1]!.seq;
    }
  }

  const fast = { backoff: { baseMs: 50, maxMs: 250 } } as const;

  it("ordering: replay and live frames that overlap, and gaps, come out once and in seq order", async () => {
    ScriptedSocket.instances = [];
    const socket = new sdk.ConversationSocket({
      baseUrl: "http://chat.test",
      token: "t",
      conversationId: "c1",
      afterSeq: 0,
      WebSocket: ScriptedSocket,
      pingIntervalMs: 0,
      backoff: { baseMs: 5, maxMs: 20 },
    });
    const seqs: number[] = [];
    socket.on("message", (m) => seqs.push(m.seq));
    const ws = await ScriptedSocket.next(1);
    expect(ws.url).toBe("ws://chat.test/api/v1/conversations/c1/ws?token=t");
    ws.open();
    ws.push(hello(3));
    expect(ws.sent.at(-1)).toMatchObject({ type: "sync", after_seq: 0 });
    ws.push(live(4)); // live frames of messages appended after hello arrive before the replay
    ws.push(live(5));
    expect(seqs).toEqual([]);
    ws.push(batch(1, 2, 3, 4));
    ws.push(batch(5));
    ws.push({ type: "sync.done", last_seq: 5 });
    ws.push(live(5)); // a duplicate
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    ws.push(live(7)); // a gap: 6 is missing, so the socket asks for it
    expect(ws.sent.at(-1)).toMatchObject({ type: "sync", after_seq: 5 });
    ws.push(live(8));
    ws.push(batch(6, 7, 8));
    ws.push({ type: "sync.done", last_seq: 8 });
    expect(seqs).toEqual(range(1, 8));

    // Disconnected: the next socket resumes after the last seq delivered.
    ws.serverClose(1006);
    const next = await ScriptedSocket.next(2);
    next.open();
    next.push(hello(10));
    expect(next.sent.at(-1)).toMatchObject({ type: "sync", after_seq: 8 });
    next.push(live(10));
    next.push(batch(9, 10));
    next.push({ type: "sync.done", last_seq: 10 });
    expect(seqs).toEqual(range(1, 10));
    expect(socket.lastSeq).toBe(10);
    socket.close();
  });

  it("close codes: 4003 stops for good; 4001 asks the token function again, or stops with a fixed token", async () => {
    ScriptedSocket.instances = [];
    const options = { baseUrl: "http://chat.test", conversationId: "c1", WebSocket: ScriptedSocket, pingIntervalMs: 0, backoff: { baseMs: 5, maxMs: 20 } };
    const removed = new sdk.ConversationSocket({ ...options, token: "t" });
    const pending = removed.send("never sent");
    const removedClosed = removed.next("closed");
    (await ScriptedSocket.next(1)).serverClose(4003, "no longer a participant");
    expect(await removedClosed).toEqual({ code: 4003, reason: "no longer a participant" });
    await expect(pending).rejects.toMatchObject({ code: "CHAT_ACCESS_DENIED" });
    expect(removed.state).toBe("closed");

    const fixed = new sdk.ConversationSocket({ ...options, token: "t" });
    const fixedClosed = fixed.next("closed");
    (await ScriptedSocket.next(2)).serverClose(4001, "token expired");
    expect((await fixedClosed).code).toBe(4001);

    let tokens = 0;
    const refreshed = new sdk.ConversationSocket({ ...options, token: async () => `t${++tokens}` });
    const first = await ScriptedSocket.next(3);
    expect(first.url).toMatch(/token=t1$/);
    first.serverClose(4001, "token expired");
    const second = await ScriptedSocket.next(4);
    expect(second.url).toMatch(/token=t2$/);
    expect(refreshed.state).toBe("connecting");
    refreshed.close();
    await sleep(50);
    expect(ScriptedSocket.instances).toHaveLength(4);
  });

  it("REST client: typed end to end, errors as ChatApiError with the API's code", async () => {
    const { client: alice, user } = await login("alice");
    const { user: bob } = await login("bob");
    expectTypeOf(user).toEqualTypeOf<Sdk.User>();
    expect(user.name).toBe("alice");
    expect(await alice.me()).toEqual(user);

    const conversation = await alice.createConversation({ type: "direct", participant_ids: [bob.id], context: { type: "product", id: "p1", title: "Bike" } });
    expectTypeOf(conversation.context).toEqualTypeOf<Sdk.ConversationContext | null>();
    expect(conversation.participants.map((p) => p.id).sort()).toEqual([user.id, bob.id].sort());
    // The same pair and context: the existing conversation.
    expect((await alice.createConversation({ type: "direct", participant_ids: [bob.id], context: { type: "product", id: "p1" } })).id).toBe(conversation.id);

    const sent = await alice.sendMessage(conversation.id, { content: "hello", client_id: "rest-1" });
    expectTypeOf(sent).toEqualTypeOf<Sdk.Message>();
    expectTypeOf(sent.seq).toBeNumber();
    expect(sent).toMatchObject({ seq: 1, content: "hello", type: "text", client_id: "rest-1", sender_id: user.id });
    expect((await alice.sendMessage(conversation.id, { content: "hello", client_id: "rest-1" })).id).toBe(sent.id);
    const page = await alice.listMessages(conversation.id, { limit: 10 });
    expectTypeOf(page).toEqualTypeOf<Sdk.MessagePage>();
    expect(page.messages.map((m) => m.seq)).toEqual([1]);
    expect((await alice.editMessage(conversation.id, sent.id, "hello!")).edited_at).not.toBeNull();
    expect((await alice.addReaction(conversation.id, sent.id, "👍")).reactions).toEqual({ "👍": [user.id] });
    expect((await alice.listConversations()).conversations.map((c) => c.id)).toContain(conversation.id);
    expect((await alice.unread()).unread_count).toBe(0);

    const denied = await alice.getConversation("no-such-conversation").catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(sdk.ChatApiError);
    expect(denied).toMatchObject({ code: "CHAT_ACCESS_DENIED", status: 403 });
    const invalid = (await alice.sendMessage(conversation.id, { content: "   " }).catch((e: unknown) => e)) as Sdk.ChatApiError;
    expect(invalid).toMatchObject({ code: "VALIDATION_ERROR", status: 400 });
    expect(invalid.details.map((d) => d.field)).toContain("content");
    expectTypeOf(invalid.code).toEqualTypeOf<Sdk.ClientErrorCode>();
    const anonymous = await new sdk.ChatClient({ baseUrl: server.url }).me().catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ code: "AUTHENTICATION_REQUIRED", status: 401 });
    const unreachable = await new sdk.ChatClient({ baseUrl: "http://127.0.0.1:1" }).me().catch((e: unknown) => e);
    expect(unreachable).toMatchObject({ code: "NETWORK_ERROR", status: 0 });
  });

  it("delivers every message exactly once and in seq order across forced disconnects while another user keeps sending", async () => {
    const { alice, bob, conversation } = await pair();
    const socket = bob.conversationSocket(conversation.id, { afterSeq: 0, ...fast });
    const seqs: number[] = [];
    const contents: string[] = [];
    socket.on("message", (m) => {
      seqs.push(m.seq);
      contents.push(m.content ?? "");
    });
    let reconnects = 0;
    socket.on("hello", () => reconnects++);
    await socket.next("synced");

    const total = 80;
    const sending = (async () => {
      for (let i = 1; i <= total; i++) await alice.sendMessage(conversation.id, { content: `m${i}`, client_id: `c${i}` });
    })();
    // Drop the socket three times while messages keep coming: once mid-stream, once right after
    // the next hello (so the replay and the live frames overlap), once more later.
    await waitFor("some live messages", () => seqs.length >= 15);
    socket.dropConnection();
    await socket.next("hello");
    socket.dropConnection();
    await waitFor("more messages", () => seqs.length >= 50);
    socket.dropConnection();
    await sending;
    await waitFor("every message", () => seqs.length >= total && socket.lastSeq === total);
    await sleep(200); // nothing more may trickle in

    expect(reconnects).toBeGreaterThanOrEqual(4);
    expect(seqs).toEqual(range(1, total));
    expect(contents).toEqual(range(1, total).map((i) => `m${i}`));
    socket.close();
  });

  it("the outbox retries through disconnects under the same client_id: every send acked once, no duplicates", async () => {
    const { alice, bob, conversation } = await pair();
    const watcher = bob.conversationSocket(conversation.id, { afterSeq: 0, ...fast });
    const seen: number[] = [];
    watcher.on("message", (m) => seen.push(m.seq));
    const sender = alice.conversationSocket(conversation.id, { afterSeq: 0, autoConnect: false, ackTimeoutMs: 1_000, ...fast });
    const acked: string[] = [];
    sender.on("ack", ({ client_id }) => acked.push(client_id));

    // Offline: sends wait in the outbox.
    const offline = range(1, 5).map((i) => sender.send({ content: `offline ${i}`, client_id: `off-${i}` }));
    expect(sender.pending.map((p) => p.client_id)).toEqual(range(1, 5).map((i) => `off-${i}`));
    sender.connect();
    await Promise.all(offline);

    // Online, then the socket drops right after the frames were written (before their acks).
    const burst = range(1, 20).map((i) => sender.send({ content: `burst ${i}`, client_id: `burst-${i}` }));
    sender.dropConnection();
    await sender.next("hello");
    // And once more as soon as the first ack of the resend comes back.
    await sender.next("ack");
    sender.dropConnection();
    const messages = await Promise.all(burst);
    expect(sender.pending).toHaveLength(0);

    const ids = [...range(1, 5).map((i) => `off-${i}`), ...range(1, 20).map((i) => `burst-${i}`)];
    expect(messages.map((m) => m.client_id)).toEqual(ids.slice(5));
    expect(new Set(acked)).toEqual(new Set(ids));
    expect(acked).toHaveLength(ids.length); // each ack event once, even when the server acked twice

    const stored = await history(alice, conversation.id);
    expect(stored.map((m) => m.client_id).sort()).toEqual([...ids].sort()); // each client_id exactly once
    expect(stored.map((m) => m.seq)).toEqual(range(1, ids.length));
    await waitFor("the watcher to see everything", () => seen.length === ids.length);
    expect(seen).toEqual(range(1, ids.length));
    sender.close();
    watcher.close();
  });

  it("a persisted outbox survives a reload: the next instance resends, nothing is duplicated", async () => {
    const { alice, conversation } = await pair();
    const localStorage = new FakeLocalStorage();
    const key = `outbox:${conversation.id}`;

    // First "page": two sends go out and the page unloads before their acks; three more are
    // made offline. All five are in storage.
    const first = alice.conversationSocket(conversation.id, { outboxStorage: sdk.keyValueOutboxStorage(localStorage, key), ...fast });
    await first.next("synced");
    void first.send({ content: "in flight 1", client_id: "r-1" });
    void first.send({ content: "in flight 2", client_id: "r-2" });
    first.dropConnection();
    await first.outboxFlushed(); // what the app handed to the storage before the page went away
    first.close();
    const offline = alice.conversationSocket(conversation.id, { outboxStorage: sdk.keyValueOutboxStorage(localStorage, key), autoConnect: false });
    await offline.outboxReady;
    for (const i of [3, 4, 5]) void offline.send({ content: `offline ${i}`, client_id: `r-${i}` });
    await offline.outboxFlushed();
    expect((JSON.parse(localStorage.getItem(key)!) as Sdk.OutboxItem[]).map((i) => i.client_id)).toEqual(["r-1", "r-2", "r-3", "r-4", "r-5"]);

    // Reload: a new instance over the same storage sends what is pending.
    const reloaded = alice.conversationSocket(conversation.id, { outboxStorage: sdk.keyValueOutboxStorage(localStorage, key), afterSeq: 0, ...fast });
    const delivered: string[] = [];
    reloaded.on("message", (m) => delivered.push(m.client_id ?? ""));
    await waitFor("the outbox to drain", () => reloaded.pending.length === 0 && delivered.length === 5);
    await reloaded.outboxFlushed();
    expect(JSON.parse(localStorage.getItem(key)!)).toEqual([]);
    const stored = await history(alice, conversation.id);
    expect(stored.map((m) => m.client_id)).toEqual(["r-1", "r-2", "r-3", "r-4", "r-5"]);
    expect(delivered).toEqual(["r-1", "r-2", "r-3", "r-4", "r-5"]);
    reloaded.close();
  });

  it("backoff: exponential ceiling, full jitter, never above the maximum", () => {
    const options = { baseMs: 100, maxMs: 5_000 };
    expect(range(0, 8).map((a) => sdk.backoffCeiling(a, options))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(sdk.backoffCeiling(10_000, options)).toBe(5_000);
    expect(sdk.backoffDelay(3, options, () => 0)).toBe(0);
    expect(sdk.backoffDelay(3, options, () => 0.5)).toBe(400);
    expect(sdk.backoffDelay(3, options, () => 0.999999)).toBe(800);
    for (let attempt = 0; attempt < 40; attempt++) {
      const delays = range(1, 200).map(() => sdk.backoffDelay(attempt, options));
      for (const d of delays) {
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(sdk.backoffCeiling(attempt, options));
        expect(d).toBeLessThanOrEqual(options.maxMs);
      }
      expect(new Set(delays).size).toBeGreaterThan(10); // jittered, not a fixed schedule
    }
  });

  it("reconnect attempts against an unreachable server stay within the bound", async () => {
    const backoff = { baseMs: 20, maxMs: 120 };
    const socket = new sdk.ConversationSocket({ baseUrl: "http://127.0.0.1:1", token: "t", conversationId: "c", backoff });
    const scheduled: { attempt: number; delay_ms: number }[] = [];
    const attemptsAt: number[] = [];
    socket.on("reconnecting", (r) => scheduled.push(r));
    socket.on("state", (s) => s === "connecting" && attemptsAt.push(Date.now()));
    await sleep(1_500);
    socket.close();

    expect(scheduled.length).toBeGreaterThanOrEqual(8);
    expect(scheduled.map((s) => s.attempt)).toEqual(range(1, scheduled.length));
    for (const { attempt, delay_ms } of scheduled) {
      expect(delay_ms).toBeLessThanOrEqual(sdk.backoffCeiling(attempt - 1, backoff));
      expect(delay_ms).toBeLessThanOrEqual(backoff.maxMs);
    }
    const gaps = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]!);
    expect(Math.max(...gaps)).toBeLessThan(backoff.maxMs + 250); // the delay plus a refused connect
    expect(socket.state).toBe("closed");
  });

  it("typing is throttled client-side and stops by itself", async () => {
    const { alice, conversation } = await pair();
    const socket = alice.conversationSocket(conversation.id, { typingThrottleMs: 300, typingStopAfterMs: 200 });
    await socket.next("synced");
    const frames: string[] = [];
    // Observe what goes out by wrapping the live socket's send.
    const raw = (socket as unknown as { ws: { send(data: string): void } }).ws;
    const original = raw.send.bind(raw);
    raw.send = (data: string) => {
      frames.push((JSON.parse(data) as { type: string }).type);
      original(data);
    };
    for (let i = 0; i < 10; i++) {
      socket.typing();
      await sleep(20);
    }
    expect(frames.filter((f) => f === "typing.start")).toHaveLength(1);
    await sleep(350);
    expect(frames.filter((f) => f === "typing.stop")).toHaveLength(1);
    socket.typing();
    expect(frames.filter((f) => f === "typing.start")).toHaveLength(2);
    await socket.send("done typing");
    expect(frames.filter((f) => f === "typing.stop")).toHaveLength(2);
    socket.close();
  });

  it("inbox socket: notifications and unread totals, and it comes back after a drop", async () => {
    const { alice, bob, conversation } = await pair();
    const inbox = bob.inboxSocket(fast);
    const hello = await inbox.next("hello");
    expectTypeOf(hello.unread_count).toBeNumber();
    const notified = inbox.next("notification.message");
    const unread = inbox.next("unread", (u) => u.conversation_id === conversation.id);
    await alice.sendMessage(conversation.id, { content: "ping bob" });
    expect((await notified).message.content).toBe("ping bob");
    expect(await unread).toMatchObject({ unread_count: 1, total: 1 });
    inbox.dropConnection();
    expect((await inbox.next("hello")).unread_count).toBe(1);
    expect(inbox.unreadCount).toBe(1);
    inbox.close();
  });

  it("the browser build in public/sdk is served by the Worker, imports nothing outside itself, and loads in Node", async () => {
    const seen = new Set<string>();
    const queue = ["index.js"];
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const response = await fetch(`${server.url}/sdk/${file}`);
      expect(response.status, file).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/javascript/);
      const code = (await response.text()).split("\n").filter((line) => !/^\s*(\/\/|\/\*|\*)/.test(line)).join("\n");
      for (const [, specifier] of code.matchAll(/\bfrom\s*["']([^"']+)["']/g)) {
        expect(specifier, `${file} imports ${specifier}`).toMatch(/^\.\/[\w-]+\.js$/);
        queue.push(specifier!.slice(2));
      }
      expect(code).not.toMatch(/zod|hono/);
    }
    expect(seen.size).toBeGreaterThan(5);

    const built = (await import(/* @vite-ignore */ SDK_BUILD)) as typeof Sdk;
    expect(Object.keys(built).sort()).toEqual(Object.keys(sdk).sort());
    const client = new built.ChatClient({ baseUrl: server.url });
    await client.login({ email: `built-${++users}@sdk.test` });
    expect((await client.me()).email).toBe(`built-${users}@sdk.test`);
  });
});
