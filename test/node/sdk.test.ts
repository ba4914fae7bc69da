// The client SDK (src/client) against the real Worker under `wrangler dev`, in Node 22 with the
// platform's own fetch and WebSocket: ordering against scripted sockets (a conversation socket,
// and subscriptions on one connection), close codes, the outbox through reloads, bounded backoff,
// typing, the REST client and the app backend's ServiceClient. Delivery and the outbox across
// forced disconnects, over both transports: connection.test.ts.
//
// Types come from the package's own export ("edge-chat/client": the declarations built from the
// zod schemas); the code under test is the source, loaded at run time so it is never stale.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import type * as Sdk from "edge-chat/client";
import { fast, inWorkerd, range, SDK_BUILD, serviceToken, sleep, startHarness, waitFor, type Harness } from "./harness.ts";

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
    sender: { id: "u2", name: "U2", avatar_url: null },
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
  let server: Harness["server"];
  let login: Harness["login"];
  let pair: Harness["pair"];
  let history: Harness["history"];
  let harness: Harness | undefined;

  beforeAll(async () => {
    harness = await startHarness();
    ({ sdk, server, login, pair, history } = harness);
  });

  afterAll(async () => {
    await harness?.stop();
  });

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

  it("subscriptions on one connection: subscribe again with after_seq on every reconnect, frames and commands by conversation_id", async () => {
    ScriptedSocket.instances = [];
    const connection = new sdk.ChatConnection({ baseUrl: "http://chat.test", token: "t", WebSocket: ScriptedSocket, pingIntervalMs: 0, backoff: { baseMs: 5, maxMs: 20 } });
    const [c1, c2] = [connection.subscribe("c1", { afterSeq: 0 }), connection.subscribe("c2")];
    const seqs: Record<string, number[]> = { c1: [], c2: [] };
    for (const s of [c1, c2]) s.on("message", (m) => seqs[s.conversationId]!.push(m.seq));
    const inboxHello = { type: "hello", user_id: "u1", unread_count: 0, conversations: [] };
    const ws = await ScriptedSocket.next(1);
    expect(ws.url).toBe("ws://chat.test/api/v1/ws?token=t");
    ws.open();
    ws.push(inboxHello);
    expect(ws.sent.map((f) => [f.type, f.conversation_id, f.after_seq])).toEqual([["subscribe", "c1", 0], ["subscribe", "c2", undefined]]);
    const subscribed = (id: string, lastSeq: number) => ({ type: "subscribed", conversation_id: id, last_seq: lastSeq, participants: [], participant_count: 2, typing: [] });
    const hello = c1.next("hello");
    ws.push(subscribed("c1", 2));
    expect(await hello).toMatchObject({ conversation_id: "c1", user_id: "u1", last_seq: 2 });
    ws.push(subscribed("c2", 7));
    expect(ws.sent.at(-1)).toMatchObject({ type: "sync", conversation_id: "c2", after_seq: 7 }); // no after_seq asked: from its last seq
    const scoped = (id: string, frame: Record<string, unknown>) => ({ ...frame, conversation_id: id });
    ws.push(scoped("c1", live(2)));
    ws.push(scoped("c1", batch(1, 2)));
    ws.push(scoped("c1", { type: "sync.done", last_seq: 2 }));
    ws.push(scoped("c2", { ...live(8), message: { ...fakeMessage(8), conversation_id: "c2" } }));
    expect(seqs).toEqual({ c1: [1, 2], c2: [8] });
    c2.typing();
    expect(ws.sent.at(-1)).toEqual({ type: "typing.start", conversation_id: "c2" });

    ws.serverClose(1006);
    const next = await ScriptedSocket.next(2);
    next.open();
    expect(next.sent.map((f) => [f.type, f.conversation_id, f.after_seq])).toEqual([["subscribe", "c1", 2], ["subscribe", "c2", 8]]);
    connection.close();
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
    // Typing again right after a send (within the throttle window) is a new indicator, sent at once.
    socket.typing();
    expect(frames.filter((f) => f === "typing.start")).toHaveLength(3);
    socket.close();
  });

  it("ServiceClient: the app's backend makes a booking's chat, posts in it, and mints a token that a ChatClient uses", async () => {
    const service = new sdk.ServiceClient({ baseUrl: server.url, token: await serviceToken() });
    const run = Date.now();
    const client = await service.upsertUser(`client-${run}`, { name: "Cleo", email: `cleo-${run}@sdk.test` });
    const provider = await service.upsertUser(`provider-${run}`, { name: "Pat" });
    expect((await service.upsertUser(provider.id, { name: "Pat P." })).name).toBe("Pat P.");
    const chat = await service.createConversation({
      type: "group",
      participant_ids: [client.id, provider.id],
      roles: { [client.id]: "client", [provider.id]: "provider" },
      context: { type: "booking", id: `b-${run}` },
      metadata: { booking: `b-${run}` },
    });
    expect(Object.fromEntries(chat.participants.map((p) => [p.id, p.role]))).toEqual({ [client.id]: "client", [provider.id]: "provider" });
    const system = await service.sendSystemMessage(chat.id, { content: "Booking confirmed", client_id: `confirm-${run}` });
    expect(system).toMatchObject({ type: "system", sender_id: null, content: "Booking confirmed" });

    const minted = await service.mintToken(client.id, 3_600);
    expect(minted).toMatchObject({ token_type: "bearer", expires_in: 3_600, user: { id: client.id } });
    const cleo = new sdk.ChatClient({ baseUrl: server.url, token: minted.access_token });
    expect((await cleo.me()).id).toBe(client.id);
    const connection = cleo.connect(fast);
    const subscription = connection.subscribe(chat.id, { afterSeq: 0 });
    const first = await subscription.next("message");
    expect(first.id).toBe(system.id);
    const relayed = subscription.next("message");
    const asProvider = await service.sendAs(chat.id, provider.id, { content: "See you at 10" });
    expect(await relayed).toMatchObject({ id: asProvider.id, sender_id: provider.id });

    expect((await service.setRole(chat.id, provider.id, "member")).participants.find((p) => p.id === provider.id)?.role).toBe("member");
    expect((await service.updateMetadata(chat.id, { booking: `b-${run}`, paid: true })).metadata).toEqual({ booking: `b-${run}`, paid: true });
    expect((await service.setStatus(chat.id, "closed")).status).toBe("closed");
    const read = await service.getConversation(chat.id);
    expect(read.participants.find((p) => p.id === client.id)?.unread_count).toBe(2);
    expect((await service.listMessages(chat.id)).messages.map((m) => m.id)).toEqual([system.id, asProvider.id]);
    expect((await service.receipts(chat.id, asProvider.id)).receipts.map((r) => r.user_id)).toEqual([client.id]);
    const unknown = await service.mintToken(`nobody-${run}`).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(sdk.ChatApiError);
    expect(unknown).toMatchObject({ code: "USER_NOT_FOUND", status: 404 });
    connection.close();
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
    const email = `built-${Date.now()}@sdk.test`;
    await client.login({ email });
    expect((await client.me()).email).toBe(email);
  });
});
