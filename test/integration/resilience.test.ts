import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { callJson, direct, history, login, sendRest, type TestUser } from "../helpers/api";
import { failing, runInside, stubOf } from "../helpers/objects";
import { connect, type Frame, type TestSocket } from "../helpers/sockets";

// Resilience (DESIGN.md, Guarantees): eviction and hibernation in the middle of a stream of
// sends lose nothing and duplicate nothing; a failing D1 summary write loses no message and the
// summary heals.

let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([login("res-alice"), login("res-bob"), login("res-carol")]);
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
let contextCounter = 0;
const uniqueContext = () => ({ type: "resilience", id: `${Date.now()}-${++contextCounter}-${Math.random().toString(36).slice(2, 8)}` });

const opened: TestSocket[] = [];
async function open(conversationId: string, user: TestUser): Promise<TestSocket> {
  const socket = await connect(conversationId, user.token);
  opened.push(socket);
  return socket;
}
afterEach(() => {
  for (const socket of opened.splice(0)) socket.close();
});

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Polls until `check` stops throwing (bounded); the last failure is rethrown. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

// ════════════════════════════════════════════════════════════════════════════════════════════
// (a) Eviction mid-stream
// ════════════════════════════════════════════════════════════════════════════════════════════

/**
 * A client with an outbox, as a real one would be: every message keeps its client_id until it is
 * acknowledged; when the socket closes it reconnects and sends every unacknowledged message
 * again, in order, with the same client_id; a stalled outbox is resent too.
 */
class Sender {
  socket!: TestSocket;
  private seen = 0;
  readonly acks = new Map<string, any>();
  readonly pending: string[] = [];
  readonly errors: Frame[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  sent = 0;
  ackCount = 0;
  resends = 0;
  /** Acknowledged messages sent again after a reconnect, and those of them not yet acknowledged again. */
  readonly replayed: string[] = [];
  readonly replaying = new Set<string>();
  duplicateAcks = 0;
  /** When each message was last sent again, to tell afterwards whether the resend was a duplicate. */
  readonly resentAt = new Map<string, number>();
  reconnects = 0;
  stalls = 0;

  constructor(
    readonly user: TestUser,
    readonly label: string,
    private readonly conversationId: string,
  ) {}

  contentOf(clientId: string): string {
    return `${this.label} says ${clientId}`;
  }

  async start(): Promise<void> {
    this.socket = await connect(this.conversationId, this.user.token);
    opened.push(this.socket);
    this.seen = 0;
  }

  /** Takes in what arrived: acks clear the outbox. */
  private drain(): void {
    const frames = this.socket.frames;
    for (; this.seen < frames.length; this.seen++) {
      const f = frames[this.seen]!;
      if (f.type === "message.ack") {
        const cid = f.client_id as string;
        this.ackCount++;
        expect(f.message.client_id, `ack for ${cid}`).toBe(cid);
        expect(f.message.sender_id).toBe(this.user.id);
        const earlier = this.acks.get(cid);
        // A retried send is acknowledged with the first message, never a second one.
        if (earlier) {
          expect(f.message, `second ack for ${cid} names another message`).toEqual(earlier);
          this.duplicateAcks++;
          this.replaying.delete(cid);
        } else {
          this.acks.set(cid, f.message);
        }
        const at = this.pending.indexOf(cid);
        if (at >= 0) this.pending.splice(at, 1);
      } else if (f.type === "error") {
        this.errors.push(f);
      }
    }
  }

  private transmit(cid: string): void {
    try {
      this.socket.send({ type: "message.send", ref: cid, client_id: cid, content: this.contentOf(cid) });
    } catch {
      // The socket closed under us: the message stays in the outbox.
    }
  }

  /** Reconnects a closed socket and resends the outbox. */
  async ensureOpen(): Promise<void> {
    this.drain();
    if (!this.socket.closed) return;
    this.closes.push(this.socket.closed);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.start();
        break;
      } catch (err) {
        if (attempt > 100) throw err;
        await sleep(20);
      }
    }
    this.reconnects++;
    // A client that may have lost the last acks with the connection (say, it crashed before
    // saving them) sends those again too: the server must answer with the first message.
    for (const cid of [...this.acks.keys()].slice(-2)) this.replaying.add(cid);
    for (const cid of this.replaying) {
      this.resends++;
      this.replayed.push(cid);
      this.transmit(cid);
    }
    for (const cid of [...this.pending]) {
      this.resends++;
      this.resentAt.set(cid, Date.now());
      this.transmit(cid);
    }
  }

  /** Puts the next message in the outbox and sends it now (if the socket is closed it waits for the reconnect). */
  sendNow(): void {
    const cid = `${this.label}-${this.sent++}`;
    this.pending.push(cid);
    this.transmit(cid);
  }

  async send(): Promise<void> {
    await this.ensureOpen();
    this.sendNow();
  }

  /** After the last send: until the outbox is empty, reconnecting and resending as needed. */
  async finish(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.ensureOpen();
      if (this.pending.length === 0 && this.replaying.size === 0) return;
      if (Date.now() > deadline) throw new Error(`${this.label}: never acknowledged: ${[...this.pending, ...this.replaying].join(",")}`);
      const before = this.socket.frames.length;
      try {
        await this.socket.until(() => this.socket.closed !== null || this.socket.frames.length > before, 1_500, "progress");
      } catch {
        // No answer for a while on an open socket: resend the outbox, as a client would.
        this.stalls++;
        for (const cid of [...this.replaying, ...this.pending]) {
          this.resends++;
          this.transmit(cid);
        }
      }
    }
  }
}

describe("eviction mid-stream", () => {
  it("three senders keep sending while the object is evicted (hibernate and close); every acknowledged message is stored exactly once, in order", async () => {
    const { status, body } = await callJson("/api/v1/conversations", {
      method: "POST",
      token: alice.token,
      json: { type: "group", title: "eviction", participant_ids: [bob.id, carol.id] },
    });
    expect(status).toBe(201);
    const id = body.id as string;
    const stub = stubOf(id);
    const senders = [new Sender(alice, "alice", id), new Sender(bob, "bob", id), new Sender(carol, "carol", id)];
    await Promise.all(senders.map((s) => s.start()));

    const MAX = 110;
    // The evictor: alternate modes while the senders are sending.
    const modes: ("hibernate" | "close")[] = ["hibernate", "close", "hibernate", "close", "hibernate", "close", "hibernate", "close"];
    const evictions: { mode: string; sentBefore: number; sentAfter?: number }[] = [];
    const totalSent = () => senders.reduce((n, s) => n + s.sent, 0);
    let evicting = true;
    const evictor = (async () => {
      for (const mode of modes) {
        await sleep(40 + Math.random() * 40);
        // Right after a close the object may not be running until someone reconnects.
        for (let attempt = 0; ; attempt++) {
          try {
            // A burst from every sender right before the eviction: frames in flight as it happens.
            for (const s of senders) for (let k = 0; k < 3 && s.sent < MAX; k++) s.sendNow();
            await evictDurableObject(stub, { webSockets: mode });
            evictions.push({ mode, sentBefore: totalSent() });
            break;
          } catch (err) {
            if (attempt > 200) throw err;
            await sleep(10);
          }
        }
      }
      evicting = false;
    })();

    // Each sender: a message every few milliseconds until 15 more after the evictor is done (at
    // least 30, at most MAX = 110 each: under the 120-a-minute message bucket; retries take no token).
    const sending = senders.map(async (s) => {
      let stopAt = MAX;
      while (s.sent < stopAt) {
        if (!evicting && stopAt === MAX) stopAt = Math.min(MAX, Math.max(30, s.sent + 15));
        await s.send();
        await sleep(3 + Math.random() * 7);
      }
    });
    await Promise.all(sending);
    const sentAtEnd = totalSent();
    await evictor;
    for (const e of evictions) e.sentAfter = sentAtEnd - e.sentBefore;
    await Promise.all(senders.map((s) => s.finish(20_000)));

    // The evictions happened, in both modes, while messages were still being sent.
    expect(evictions.filter((e) => e.mode === "hibernate").length).toBe(4);
    expect(evictions.filter((e) => e.mode === "close").length).toBe(4);
    const lastEviction = evictions[evictions.length - 1]!;
    expect(lastEviction.sentBefore, "the stream was under way before the evictions").toBeGreaterThan(0);
    expect(lastEviction.sentAfter, `messages were sent after the last eviction (${JSON.stringify(evictions)})`).toBeGreaterThan(0);
    // Closing evictions closed the sockets (and the senders came back); hibernation closed none.
    for (const s of senders) {
      expect(s.reconnects).toBeGreaterThan(0);
      expect(s.closes.length).toBeLessThanOrEqual(4);
    }
    for (const s of senders) {
      expect(s.errors, `${s.label} got error frames`).toEqual([]);
      expect(s.pending).toEqual([]);
      expect(s.acks.size).toBe(s.sent);
      // Acknowledged messages sent again were acknowledged again, with the first message (checked as acks arrive).
      expect(s.replayed.length).toBeGreaterThan(0);
      expect(s.duplicateAcks).toBeGreaterThan(0);
      expect(s.ackCount).toBe(s.sent + s.duplicateAcks);
    }

    // sync after_seq 0 on a fresh socket: every acknowledged message exactly once, in order, gapless.
    const reader = await open(id, alice);
    reader.send({ type: "sync", ref: "final", after_seq: 0 });
    const done = await reader.next("sync.done", (f) => f.ref === "final", 10_000);
    const replay = reader.of("sync.batch").filter((f) => f.ref === "final").flatMap((f) => f.messages as any[]);
    const total = senders.reduce((n, s) => n + s.sent, 0);
    expect(done.last_seq).toBe(total);
    expect(replay.map((m) => m.seq)).toEqual(range(1, total));
    expect(new Set(replay.map((m) => m.id)).size).toBe(total);
    for (const s of senders) {
      const own = replay.filter((m) => m.sender_id === s.user.id);
      const expectedIds = range(0, s.sent - 1).map((i) => `${s.label}-${i}`);
      // Exactly once each, in the order the sender sent them.
      expect(own.map((m) => m.client_id)).toEqual(expectedIds);
      expect(own.map((m) => m.content)).toEqual(expectedIds.map((cid) => s.contentOf(cid)));
      // Each ack told the truth about what was stored.
      for (const m of own) expect(s.acks.get(m.client_id)).toEqual(m);
    }
    expect(await history(bob, id)).toEqual(replay);
    console.log(
      "eviction mid-stream",
      JSON.stringify({
        total,
        evictions: evictions.map((e) => e.mode),
        senders: senders.map((s) => ({
          label: s.label,
          sent: s.sent,
          reconnects: s.reconnects,
          resends: s.resends,
          // Resent after the old instance had stored it (the retry was acked with the first message) vs first stored by the resend.
          resentDuplicates: [...s.resentAt].filter(([cid, at]) => Date.parse(s.acks.get(cid).created_at) < at).length,
          resentFirstStored: [...s.resentAt].filter(([cid, at]) => Date.parse(s.acks.get(cid).created_at) >= at).length,
          replayedAcked: s.replayed.length,
          duplicateAcks: s.duplicateAcks,
          stalls: s.stalls,
          closes: s.closes.map((c) => c.code),
        })),
      }),
    );
  }, 60_000);
});

// ════════════════════════════════════════════════════════════════════════════════════════════
// (b) A failing D1 summary write
// ════════════════════════════════════════════════════════════════════════════════════════════

type Fault = { calls: number };
type MirrorTransports = { d1: D1Database; queue: Queue };

const mirrorOf = (instance: Record<string, unknown>) => (instance.parts as { chat: { summary: unknown } }).chat.summary as MirrorTransports;

/**
 * Makes both ways the conversation's object mirrors to D1 fail on the live instance: its direct
 * D1 batch and its send to the mirror queue. Returns the call counter.
 */
async function injectSummaryFault(stub: DurableObjectStub): Promise<Fault> {
  const fault: Fault = { calls: 0 };
  await runInside(stub, (instance) => {
    const mirror = mirrorOf(instance);
    instance.__realTransports = { d1: mirror.d1, queue: mirror.queue };
    mirror.d1 = failing(mirror.d1, "batch", fault);
    mirror.queue = failing(mirror.queue, "send", fault);
  });
  return fault;
}

async function removeSummaryFault(stub: DurableObjectStub): Promise<void> {
  await runInside(stub, (instance) => {
    expect(instance.__realTransports, "the instance with the fault is still the live one").toBeDefined();
    Object.assign(mirrorOf(instance), instance.__realTransports as MirrorTransports);
  });
}

/** The conversation as `user`'s list shows it (D1's summary), and the /unread count. */
async function listed(user: TestUser, conversationId: string, context: { type: string; id: string }) {
  const list = await callJson(`/api/v1/conversations?context_type=${context.type}&context_id=${encodeURIComponent(context.id)}`, { token: user.token });
  expect(list.status).toBe(200);
  const entry = list.body.conversations.find((c: any) => c.id === conversationId);
  expect(entry).toBeDefined();
  const unread = await callJson("/api/v1/unread", { token: user.token });
  expect(unread.status).toBe(200);
  const fromUnread = unread.body.conversations.find((c: any) => c.id === conversationId)?.unread_count ?? 0;
  return { lastMessageId: entry.last_message?.id ?? null, lastSeq: entry.last_seq as number, unread: entry.unread_count as number, unreadEndpoint: fromUnread as number };
}

/** A conversation whose summary D1 has, then the fault, then three messages from alice that D1 never hears of. */
async function staleSummary() {
  const context = uniqueContext();
  const id = await direct(alice, bob, context);
  const stub = stubOf(id);
  const first = await sendRest(alice, id, "before the fault");
  expect(first.status).toBe(201);
  await eventually(async () => expect(await listed(bob, id, context)).toEqual({ lastMessageId: first.body.id, lastSeq: 1, unread: 1, unreadEndpoint: 1 }));

  const fault = await injectSummaryFault(stub);
  const socket = await open(id, alice);
  const acked: any[] = [];
  const viaRest = await sendRest(alice, id, "during the fault, over REST", { client_id: "f-1" });
  expect(viaRest.status).toBe(201);
  acked.push(viaRest.body);
  for (const cid of ["f-2", "f-3"]) {
    socket.send({ type: "message.send", ref: cid, client_id: cid, content: `during the fault, ${cid}` });
    acked.push((await socket.next("message.ack", (f) => f.ref === cid)).message);
  }
  // Every write was tried and failed; nothing was lost.
  await eventually(async () => expect(fault.calls).toBeGreaterThanOrEqual(1));
  expect(acked.map((m) => m.seq)).toEqual([2, 3, 4]);
  const log = await history(alice, id);
  expect(log.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  expect(log.map((m) => m.id)).toEqual([first.body.id, ...acked.map((m) => m.id)]);
  // D1 still shows the summary from before the fault.
  expect(await listed(bob, id, context)).toEqual({ lastMessageId: first.body.id, lastSeq: 1, unread: 1, unreadEndpoint: 1 });
  // A retry is scheduled on the alarm.
  const retry = await runInside(stub, async (instance, state) => ({
    retryAt: ((instance.parts as { chat: { summary: unknown } }).chat.summary as { retryAt: number | null }).retryAt,
    alarm: await state.storage.getAlarm(),
  }));
  expect(retry.retryAt).not.toBeNull();
  expect(retry.alarm).not.toBeNull();
  return { id, stub, context, fault, socket, newest: acked[acked.length - 1], log };
}

describe("a failing mirror write (D1 or the mirror queue)", () => {
  it("loses no message; the alarm retries with backoff and, once D1 works again, heals the summary", async () => {
    const { id, stub, context, fault, newest, log } = await staleSummary();

    // The alarm retries while D1 still fails: still stale, and the next retry is further out.
    const before = fault.calls;
    const firstRetryAt = await runInside(stub, (instance) => ((instance.parts as { chat: { summary: unknown } }).chat.summary as { retryAt: number }).retryAt);
    await runDurableObjectAlarm(stub);
    expect(fault.calls).toBeGreaterThan(before);
    const nextRetryAt = await runInside(stub, (instance) => ((instance.parts as { chat: { summary: unknown } }).chat.summary as { retryAt: number }).retryAt);
    expect(nextRetryAt - Date.now()).toBeGreaterThan(1_000); // backoff: the second failure waits 2 s
    expect(nextRetryAt).toBeGreaterThan(firstRetryAt);
    expect(await listed(bob, id, context)).toEqual({ lastMessageId: log[0].id, lastSeq: 1, unread: 1, unreadEndpoint: 1 });

    await removeSummaryFault(stub);
    const callsAtRepair = fault.calls;
    await runDurableObjectAlarm(stub); // may already have run on its own; either way it heals
    await eventually(async () => expect(await listed(bob, id, context)).toEqual({ lastMessageId: newest.id, lastSeq: 4, unread: 4, unreadEndpoint: 4 }));
    expect(await listed(alice, id, context)).toEqual({ lastMessageId: newest.id, lastSeq: 4, unread: 0, unreadEndpoint: 0 });
    expect(fault.calls).toBe(callsAtRepair);
    const after = await runInside(stub, (instance) => {
      const summary = (instance.parts as { chat: { summary: unknown } }).chat.summary as { pending: boolean; retryAt: number | null };
      return { pending: summary.pending, retryAt: summary.retryAt };
    });
    expect(after.pending).toBe(false);
    expect(after.retryAt).toBeNull();
    expect((await history(bob, id)).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  }, 20_000);

  it("the next message heals the summary (no alarm needed)", async () => {
    const { id, stub, context, fault, log } = await staleSummary();
    await removeSummaryFault(stub);
    // Take the retry alarm away, so only the next message can heal it.
    await runInside(stub, async (_instance, state) => {
      await state.storage.deleteAlarm();
    });
    const bobSocket = await open(id, bob);
    bobSocket.send({ type: "message.send", ref: "heal", client_id: "heal", content: "the next message" });
    const next = (await bobSocket.next("message.ack", (f) => f.ref === "heal")).message;
    expect(next.seq).toBe(5);
    await eventually(async () => expect(await listed(alice, id, context)).toEqual({ lastMessageId: next.id, lastSeq: 5, unread: 1, unreadEndpoint: 1 }));
    expect(await listed(bob, id, context)).toEqual({ lastMessageId: next.id, lastSeq: 5, unread: 0, unreadEndpoint: 0 });
    // Nothing is left to retry (other alarms, such as write-behind saves, may still be set).
    const mirror = await runInside(stub, (instance) => {
      const summary = (instance.parts as { chat: { summary: { pending: boolean; retryAt: number | null } } }).chat.summary;
      return { pending: summary.pending, retryAt: summary.retryAt };
    });
    expect(mirror).toEqual({ pending: false, retryAt: null });
    expect(fault.calls).toBeGreaterThanOrEqual(1);
    expect((await history(alice, id)).map((m) => m.id)).toEqual([...log.map((m) => m.id), next.id]);
  }, 20_000);

  it("an object evicted with the summary unwritten heals it when it next wakes", async () => {
    const { id, stub, context, newest, socket } = await staleSummary();
    socket.close();
    await socket.waitClosed();
    // The instance holding the fault is gone; its alarm is removed so that only waking can heal.
    await runInside(stub, async (_instance, state) => {
      await state.storage.deleteAlarm();
    });
    await evictDurableObject(stub, { webSockets: "close" });
    // Any request wakes it (here a history read by bob); the new instance flushes what D1 lacks.
    expect((await history(bob, id)).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    await eventually(async () => expect(await listed(bob, id, context)).toEqual({ lastMessageId: newest.id, lastSeq: 4, unread: 4, unreadEndpoint: 4 }));
    expect(await listed(alice, id, context)).toEqual({ lastMessageId: newest.id, lastSeq: 4, unread: 0, unreadEndpoint: 0 });
  }, 20_000);
});
