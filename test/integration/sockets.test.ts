import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { callJson, freshDirect, group, history, hs256, login, sendRest, type TestUser } from "../helpers/api";
import { barrier, closeAll, count, open, openInbox, type Frame } from "../helpers/sockets";
import { range, sleep } from "../helpers/wait";
import { overrideConfig } from "../helpers/objects";

// Every test gets its own users (a user's message limit holds across all of their
// conversations) and its own conversation (a direct conversation per unique context, so each has
// a fresh Durable Object, fresh rate-limit buckets and seq starting at 1).

let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeEach(async () => {
  alice = await login("alice");
  bob = await login("bob");
  carol = await login("carol");
});

const fresh = (a: TestUser = alice, b: TestUser = bob) => freshDirect(a, b, "sockets");

/** The conversation's Durable Object, typed as a plain stub (the RPC-typed one is too deep for tsc here). */
function stubOf(conversationId: string): DurableObjectStub {
  return env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId)) as unknown as DurableObjectStub;
}

/** runInDurableObject with a loose signature: its overloads over the RPC stub type are too deep for tsc. */
const runInside = runInDurableObject as unknown as <R>(
  stub: DurableObjectStub,
  callback: (instance: Record<string, unknown>, state: DurableObjectState) => R | Promise<R>,
) => Promise<R>;

afterEach(closeAll);

describe("hello and presence", () => {
  it("hello describes the conversation; presence goes to others on first open and last close", async () => {
    const id = await fresh();
    const first = await sendRest(alice, id, "before anyone connects");
    expect(first.status).toBe(201);

    const a = await open(id, alice);
    const helloA = a.of("hello");
    expect(helloA).toHaveLength(1);
    expect(helloA[0]).toMatchObject({ type: "hello", conversation_id: id, user_id: alice.id, last_seq: 1, typing: [] });
    const byId = (frame: Frame) => Object.fromEntries((frame.participants as { id: string; online: boolean }[]).map((p) => [p.id, p.online]));
    expect(helloA[0]!.participants).toHaveLength(2);
    expect(byId(helloA[0]!)).toEqual({ [alice.id]: true, [bob.id]: false });

    const b1 = await open(id, bob);
    const presenceOn = await a.next("presence", (f) => f.user_id === bob.id);
    expect(presenceOn).toEqual({ type: "presence", user_id: bob.id, online: true });
    expect(b1.of("hello")[0]).toMatchObject({ conversation_id: id, user_id: bob.id, last_seq: 1, typing: [] });
    expect(byId(b1.of("hello")[0]!)).toEqual({ [alice.id]: true, [bob.id]: true });

    // A second socket of an online user is not news; nobody hears about their own presence.
    const b2 = await open(id, bob);
    await barrier(a);
    expect(a.of("presence")).toHaveLength(1);
    expect(b1.of("presence")).toHaveLength(0);

    // Closing one of two sockets: still online.
    b1.close();
    await b1.waitClosed();
    await sleep(150);
    await barrier(a);
    expect(a.of("presence")).toHaveLength(1);

    // Closing the last: offline.
    b2.close();
    const presenceOff = await a.next("presence", (f) => f.online === false);
    expect(presenceOff).toEqual({ type: "presence", user_id: bob.id, online: false });
    await barrier(a);
    expect(a.of("presence").map((f) => f.online)).toEqual([true, false]);

    // And a new socket of bob sees alice online and bob online again (presence back on).
    const b3 = await open(id, bob);
    expect(byId(b3.of("hello")[0]!)).toEqual({ [alice.id]: true, [bob.id]: true });
    await a.until((frames) => frames.filter((f) => f.type === "presence").length === 3, 5_000, "third presence");
    expect(a.of("presence")[2]).toEqual({ type: "presence", user_id: bob.id, online: true });
  });
});

describe("ordering under concurrency", () => {
  it("two senders, 50 frames each without waiting: gapless seq 1..100, same order everywhere", async () => {
    const id = await group(alice, [bob, carol]);
    const a = await open(id, alice);
    const b = await open(id, bob);
    const watcher = await open(id, carol);

    for (let i = 0; i < 50; i++) {
      a.send({ type: "message.send", ref: `a-${i}`, client_id: `a-${i}`, content: `from alice ${i}` });
      b.send({ type: "message.send", ref: `b-${i}`, client_id: `b-${i}`, content: `from bob ${i}` });
    }

    const hundredNew = (frames: Frame[]) => frames.filter((f) => f.type === "message.new").length >= 100;
    await Promise.all([
      a.until(hundredNew, 15_000, "100 message.new on alice"),
      b.until(hundredNew, 15_000, "100 message.new on bob"),
      watcher.until(hundredNew, 15_000, "100 message.new on carol"),
      a.until((f) => f.filter((x) => x.type === "message.ack").length >= 50, 15_000, "alice's acks"),
      b.until((f) => f.filter((x) => x.type === "message.ack").length >= 50, 15_000, "bob's acks"),
    ]);
    await Promise.all([barrier(a), barrier(b), barrier(watcher)]);

    for (const socket of [a, b, watcher]) {
      expect(socket.of("message.new")).toHaveLength(100);
      expect(socket.of("error")).toHaveLength(0);
      expect(socket.of("message.new").map((f) => f.message.seq)).toEqual(range(1, 100));
    }
    const order = a.of("message.new").map((f) => f.message.id);
    expect(new Set(order).size).toBe(100);
    expect(b.of("message.new").map((f) => f.message.id)).toEqual(order);
    expect(watcher.of("message.new").map((f) => f.message.id)).toEqual(order);

    // Every send was acknowledged exactly once, echoing its ref and client_id.
    for (const [socket, who, user] of [[a, "a", alice], [b, "b", bob]] as const) {
      const acks = socket.of("message.ack");
      expect(acks).toHaveLength(50);
      expect(acks.map((f) => f.ref).sort()).toEqual(range(0, 49).map((i) => `${who}-${i}`).sort());
      for (const ack of acks) {
        expect(ack.client_id).toBe(ack.ref);
        expect(ack.message.client_id).toBe(ack.ref);
        expect(ack.message.sender_id).toBe(user.id);
      }
      // One sender's frames keep their order in the log.
      const own = socket.of("message.new").filter((f) => f.message.sender_id === user.id);
      expect(own.map((f) => f.message.content)).toEqual(range(0, 49).map((i) => `from ${user === alice ? "alice" : "bob"} ${i}`));
    }

    const log = await history(carol, id);
    expect(log.map((m) => m.seq)).toEqual(range(1, 100));
    expect(log.map((m) => m.id)).toEqual(order);
  });
});

describe("acks and fan-out", () => {
  it("the sender gets message.ack before its own message.new; REST sends are broadcast too", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const b = await open(id, bob);

    a.send({ type: "message.send", ref: 41, client_id: "first", content: "  hello bob  " });
    const ack = await a.next("message.ack");
    const mine = await a.next("message.new", (f) => f.message.id === ack.message.id);
    expect(a.frames.indexOf(ack)).toBeLessThan(a.frames.indexOf(mine));
    expect(ack).toMatchObject({ type: "message.ack", ref: 41, client_id: "first" });
    expect(ack.message).toMatchObject({
      conversation_id: id,
      seq: 1,
      sender_id: alice.id,
      type: "text",
      content: "hello bob",
      client_id: "first",
      edited_at: null,
      deleted_at: null,
    });
    expect(mine.message).toEqual(ack.message);
    const theirs = await b.next("message.new");
    expect(theirs.message).toEqual(ack.message);
    expect(b.of("message.ack")).toHaveLength(0);

    const rest = await sendRest(bob, id, "over rest");
    expect(rest.status).toBe(201);
    const viaRestA = await a.next("message.new", (f) => f.message.seq === 2);
    const viaRestB = await b.next("message.new", (f) => f.message.seq === 2);
    expect(viaRestA.message).toEqual(rest.body);
    expect(viaRestB.message).toEqual(rest.body);
    expect(rest.body).toMatchObject({ sender_id: bob.id, content: "over rest", seq: 2 });
    await barrier(b);
    expect(b.of("message.ack")).toHaveLength(0);
  });
});

describe("idempotent retries", () => {
  it("the same client_id twice over the socket: two acks for one message", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const b = await open(id, bob);

    a.send({ type: "message.send", ref: "try-1", client_id: "dup", content: "only once" });
    a.send({ type: "message.send", ref: "try-2", client_id: "dup", content: "only once" });
    await a.until((f) => f.filter((x) => x.type === "message.ack").length >= 2, 5_000, "two acks");
    await barrier(a);
    await barrier(b);

    const [ack1, ack2] = a.of("message.ack");
    expect(ack1).toMatchObject({ ref: "try-1", client_id: "dup" });
    expect(ack2).toMatchObject({ ref: "try-2", client_id: "dup" });
    expect(ack2!.message.id).toBe(ack1!.message.id);
    expect(ack2!.message.seq).toBe(1);
    expect(ack1!.message.seq).toBe(1);
    expect(a.of("message.new")).toHaveLength(1);
    expect(b.of("message.new")).toHaveLength(1);
    expect((await history(alice, id)).map((m) => m.content)).toEqual(["only once"]);
  });

  it("REST then socket with the same client_id from the same sender: one message; another sender's same client_id is theirs", async () => {
    const id = await fresh();
    const b = await open(id, bob);
    const rest = await sendRest(alice, id, "via rest", { client_id: "shared-id" });
    expect(rest.status).toBe(201);

    const a = await open(id, alice);
    a.send({ type: "message.send", ref: "retry", client_id: "shared-id", content: "via socket" });
    const ack = await a.next("message.ack");
    expect(ack.ref).toBe("retry");
    expect(ack.message.id).toBe(rest.body.id);
    expect(ack.message.seq).toBe(1);
    expect(ack.message.content).toBe("via rest");

    const again = await sendRest(alice, id, "via rest again", { client_id: "shared-id" });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(rest.body.id);

    // client_id is scoped to its sender.
    const other = await sendRest(bob, id, "bob's own", { client_id: "shared-id" });
    expect(other.status).toBe(201);
    expect(other.body.seq).toBe(2);

    await barrier(a);
    await barrier(b);
    expect(a.of("message.new").map((f) => f.message.seq)).toEqual([2]);
    expect(b.of("message.new").map((f) => f.message.seq)).toEqual([1, 2]);
    expect((await history(alice, id)).map((m) => [m.seq, m.sender_id, m.content])).toEqual([
      [1, alice.id, "via rest"],
      [2, bob.id, "bob's own"],
    ]);
  });
});

describe("sync", () => {
  it("after a disconnect, sync replays exactly the missed messages, then sync.done", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const b = await open(id, bob);
    a.send({ type: "message.send", client_id: "s1", content: "one" });
    a.send({ type: "message.send", client_id: "s2", content: "two" });
    await b.until((f) => f.filter((x) => x.type === "message.new").length >= 2, 5_000, "two messages");
    const lastSeen = Math.max(...b.of("message.new").map((f) => f.message.seq as number));
    expect(lastSeen).toBe(2);
    b.close();
    await b.waitClosed();

    const missed: any[] = [];
    for (let i = 1; i <= 5; i++) {
      const sent = await sendRest(alice, id, `missed ${i}`);
      expect(sent.status).toBe(201);
      missed.push(sent.body);
    }

    const b2 = await open(id, bob);
    expect(b2.of("hello")[0]!.last_seq).toBe(7);
    b2.send({ type: "sync", ref: "catch-up", after_seq: lastSeen });
    const done = await b2.next("sync.done");
    expect(done).toEqual({ type: "sync.done", ref: "catch-up", last_seq: 7 });
    const batches = b2.of("sync.batch");
    expect(batches).toHaveLength(1);
    expect(batches[0]!.ref).toBe("catch-up");
    expect(batches[0]!.messages).toEqual(missed);
    expect(batches[0]!.messages.map((m: any) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(b2.frames.indexOf(batches[0]!)).toBeLessThan(b2.frames.indexOf(done));

    // Nothing missed: no batch, just done.
    b2.send({ type: "sync", ref: "nothing", after_seq: 7 });
    const done2 = await b2.next("sync.done", (f) => f.ref === "nothing");
    expect(done2.last_seq).toBe(7);
    expect(b2.of("sync.batch")).toHaveLength(1);
  });

  it("sync from 0 over 150 messages: a batch of 100, then 50, in order", async () => {
    const id = await fresh();
    // 75 REST sends from each participant (under 120/min each), a few at a time.
    for (let chunk = 0; chunk < 75; chunk += 25) {
      const sends: Promise<unknown>[] = [];
      for (let i = chunk; i < chunk + 25; i++) {
        sends.push(sendRest(alice, id, `a${i}`).then((r) => expect(r.status).toBe(201)));
        sends.push(sendRest(bob, id, `b${i}`).then((r) => expect(r.status).toBe(201)));
      }
      await Promise.all(sends);
    }
    const log = await history(alice, id);
    expect(log.map((m) => m.seq)).toEqual(range(1, 150));

    const s = await open(id, bob);
    s.send({ type: "sync" }); // after_seq defaults to 0
    const done = await s.next("sync.done", () => true, 10_000);
    expect(done.last_seq).toBe(150);
    const batches = s.of("sync.batch");
    expect(batches.map((f) => f.messages.length)).toEqual([100, 50]);
    const replayed = batches.flatMap((f) => f.messages);
    expect(replayed.map((m: any) => m.seq)).toEqual(range(1, 150));
    expect(replayed).toEqual(log);
    expect(s.frames.indexOf(batches[1]!)).toBeLessThan(s.frames.indexOf(done));
  });
});

describe("typing", () => {
  it("start and stop reach others, not the typist; a late joiner's hello lists the typist", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const b = await open(id, bob);

    a.send({ type: "typing.start" });
    const on = await b.next("typing");
    expect(on).toEqual({ type: "typing", user_id: alice.id, is_typing: true });
    await barrier(a);
    expect(a.of("typing")).toHaveLength(0);

    const late = await open(id, bob);
    expect(late.of("hello")[0]!.typing).toEqual([alice.id]);

    a.send({ type: "typing.stop" });
    const off = await b.next("typing", (f) => f.is_typing === false);
    expect(off).toEqual({ type: "typing", user_id: alice.id, is_typing: false });
    await late.next("typing", (f) => f.is_typing === false);
    await barrier(a);
    expect(a.of("typing")).toHaveLength(0);
    expect(b.of("typing")).toHaveLength(2);
  });

  it("a start not refreshed within TYPING_TIMEOUT_MS expires through the alarm and is broadcast as stopped", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const b = await open(id, bob);
    await overrideConfig(id, { typingTimeoutMs: 300 });
    a.send({ type: "typing.start" });
    await b.next("typing", (f) => f.is_typing === true);
    // Well within the default 5 s: only the configured timeout can have ended it.
    await sleep(400);
    // The alarm may already have fired on its own; either way the expiry must have been broadcast.
    await runDurableObjectAlarm(stubOf(id));
    const off = await b.next("typing", (f) => f.is_typing === false, 1_000);
    expect(off).toEqual({ type: "typing", user_id: alice.id, is_typing: false });
    const late = await open(id, bob);
    expect(late.of("hello")[0]!.typing).toEqual([]);
    await barrier(a);
    expect(a.of("typing")).toHaveLength(0);
  });

  it("typing starts beyond 10 a minute are dropped quietly", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const b = await open(id, bob);
    for (let i = 0; i < 13; i++) {
      a.send({ type: "typing.start" });
      a.send({ type: "typing.stop" });
    }
    await barrier(a);
    await barrier(b);
    expect(a.of("error")).toHaveLength(0);
    expect(a.closed).toBeNull();
    expect(b.of("typing").map((f) => f.is_typing)).toEqual(range(1, 10).flatMap(() => [true, false]));
    // Still refused a moment later; stops are never refused.
    a.send({ type: "typing.start" });
    await barrier(a);
    await barrier(b);
    expect(b.of("typing")).toHaveLength(20);
    expect(a.of("error")).toHaveLength(0);
  });
});

describe("read cursors", () => {
  it("a read frame is broadcast to everyone, and REST /read reflects the cursor", async () => {
    const id = await fresh();
    for (const text of ["r1", "r2", "r3"]) expect((await sendRest(alice, id, text)).status).toBe(201);
    const a = await open(id, alice);
    const b = await open(id, bob);

    b.send({ type: "read", up_to_seq: 2 });
    const seenByA = await a.next("read");
    const seenByB = await b.next("read");
    expect(seenByA).toEqual({ type: "read", user_id: bob.id, up_to_seq: 2 });
    expect(seenByB).toEqual({ type: "read", user_id: bob.id, up_to_seq: 2 });

    // The cursor never moves back.
    const back = await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: bob.token, json: { up_to_seq: 1 } });
    expect(back.status).toBe(200);
    expect(back.body).toEqual({ last_read_seq: 2, unread_count: 1 });

    // Without up_to_seq: to the newest message, broadcast as a read frame too.
    const all = await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: bob.token, json: {} });
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ last_read_seq: 3, unread_count: 0 });
    const second = await a.next("read", (f) => f.up_to_seq === 3);
    expect(second.user_id).toBe(bob.id);
    await barrier(a);
    expect(a.of("read").map((f) => f.up_to_seq)).toEqual([2, 3]);
  });
});

describe("bad frames", () => {
  it("invalid frames get VALIDATION_ERROR (echoing ref) and the socket stays open", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const errors = (n: number) => a.until((f) => f.filter((x) => x.type === "error").length >= n || undefined, 5_000, `${n} errors`);

    a.send("this is not json");
    await errors(1);
    a.send("[1,2,3]");
    await errors(2);
    a.send({ type: "message.teleport", ref: "u-1" });
    await errors(3);
    a.send({ type: "message.send", ref: 17, content: "no client id" });
    await errors(4);
    a.ws.send(new Uint8Array([1, 2, 3]));
    await errors(5);

    const errs = a.of("error");
    for (const e of errs) expect(e.code).toBe("VALIDATION_ERROR");
    expect(errs[0]!.ref).toBeUndefined();
    expect(errs[1]!.ref).toBeUndefined();
    expect(errs[2]!.ref).toBe("u-1");
    expect(errs[3]!.ref).toBe(17);
    expect(errs[3]!.message).toContain("client_id");
    expect(errs[4]!.ref).toBeUndefined();

    a.send({ type: "ping", ref: "still-here" });
    expect(await a.next("pong", (f) => f.ref === "still-here")).toEqual({ type: "pong", ref: "still-here" });
    expect(a.closed).toBeNull();
    expect(await history(alice, id)).toEqual([]);
  });

  it("a frame over 64 KiB gets an error and close code 1009", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    a.send({ type: "message.send", ref: "big", client_id: "big", content: "x".repeat(70 * 1024) });
    const error = await a.next("error");
    expect(error.code).toBe("PAYLOAD_TOO_LARGE");
    const closed = await a.waitClosed();
    expect(closed.code).toBe(1009);
    expect(await history(alice, id)).toEqual([]);
  });
});

describe("token expiry", () => {
  it("a socket whose token has expired is closed with 4001 at its next frame", async () => {
    const id = await fresh();
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await hs256({ name: alice.name, email: alice.email, sub: alice.id }, { secret: env.JWT_SECRET, exp });
    const a = await open(id, token);
    expect(a.of("hello")[0]!.user_id).toBe(alice.id);
    a.send({ type: "ping", ref: "before" });
    await a.next("pong", (f) => f.ref === "before");

    await sleep(Math.max(0, exp * 1000 - Date.now()) + 150);
    a.send({ type: "message.send", ref: "late", client_id: "late", content: "too late" });
    const closed = await a.waitClosed();
    expect(closed.code).toBe(4001);
    expect(a.of("message.ack")).toHaveLength(0);
    expect(await history(alice, id)).toEqual([]);
  }, 15_000);

  /** A token of `user` expiring in two seconds, and how long until it has expired. */
  async function shortLived(user: TestUser) {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await hs256({ name: user.name, email: user.email, sub: user.id }, { secret: env.JWT_SECRET, exp });
    return { exp, token, expired: () => sleep(Math.max(0, exp * 1000 - Date.now()) + 50) };
  }

  it("a conversation socket that sends nothing but the auto-answered ping is closed with 4001 by the alarm, across hibernation", async () => {
    const id = await fresh();
    const { exp, token, expired } = await shortLived(alice);
    const a = await open(id, token);
    const b = await open(id, bob);
    const alarmAt = await runInside(stubOf(id), (_instance, state) => state.storage.getAlarm());
    expect(alarmAt).not.toBeNull();
    expect(alarmAt!).toBeLessThanOrEqual(exp * 1000 + 60_000);

    // Hibernation forgets everything in memory; the sockets' attachments and the alarm remain.
    await evictDurableObject(stubOf(id));
    a.send('{"type":"ping"}');
    await a.next("pong");
    await expired();
    await runDurableObjectAlarm(stubOf(id)); // may already have run on its own; either way it closes
    expect((await a.waitClosed()).code).toBe(4001);
    expect(a.of("error")).toEqual([{ type: "error", code: "INVALID_TOKEN", message: expect.any(String) }]);

    // Only the expired socket: the other stays open and is served.
    expect(b.closed).toBeNull();
    await barrier(b);
  }, 15_000);

  it("an inbox socket that sends nothing is closed with 4001 by the user object's alarm", async () => {
    const user = await login("idle-inbox");
    const { exp, token, expired } = await shortLived(user);
    const inbox = await openInbox({ token });
    const stub = env.USERS.get(env.USERS.idFromName(user.id)) as unknown as DurableObjectStub;
    const alarmAt = await runInside(stub, (_instance, state) => state.storage.getAlarm());
    expect(alarmAt).not.toBeNull();
    expect(alarmAt!).toBeLessThanOrEqual(exp * 1000 + 60_000);

    inbox.send('{"type":"ping"}');
    await inbox.next("pong");
    await expired();
    await runDurableObjectAlarm(stub); // may already have run on its own
    expect((await inbox.waitClosed()).code).toBe(4001);
    expect(inbox.of("error")).toEqual([{ type: "error", code: "INVALID_TOKEN", message: expect.any(String) }]);
  }, 15_000);
});

describe("ping", () => {
  it("the exact ping is auto-answered and free; ref'd pings echo the ref and are limited to 30", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    a.send('{"type":"ping"}');
    expect(await a.next("pong")).toEqual({ type: "pong" });

    // 40 exact pings: all answered, none counted.
    for (let i = 0; i < 40; i++) a.send('{"type":"ping"}');
    await a.until((f) => f.filter((x) => x.type === "pong").length >= 41, 5_000, "41 pongs");
    for (const pong of a.of("pong")) expect(pong).toEqual({ type: "pong" });

    for (let i = 1; i <= 31; i++) a.send({ type: "ping", ref: `p${i}` });
    const limited = await a.next("error");
    expect(limited).toMatchObject({ type: "error", code: "RATE_LIMIT_EXCEEDED", ref: "p31" });
    expect(limited.retry_after_ms).toBeGreaterThan(0);
    const refd = a.of("pong").filter((f) => f.ref !== undefined);
    expect(refd.map((f) => f.ref)).toEqual(range(1, 30).map((i) => `p${i}`));
    expect(refd[0]).toEqual({ type: "pong", ref: "p1" });

    // The exact ping is still answered while ref'd ones are refused.
    a.send('{"type":"ping"}');
    await a.until((f) => f.filter((x) => x.type === "pong" && x.ref === undefined).length >= 42, 5_000, "42nd plain pong");
    expect(a.closed).toBeNull();
  });
});

describe("closed conversations", () => {
  it("message.send in a closed conversation gets CONVERSATION_CLOSED and nothing is appended", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const b = await open(id, bob);
    a.send({ type: "message.send", ref: "open", client_id: "before-close", content: "while open" });
    await b.next("message.new");

    const patched = await callJson(`/api/v1/conversations/${id}`, { method: "PATCH", token: bob.token, json: { status: "closed" } });
    expect(patched.status).toBe(200);
    expect(patched.body.status).toBe("closed");

    a.send({ type: "message.send", ref: "shut", client_id: "after-close", content: "while closed" });
    const error = await a.next("error");
    expect(error).toMatchObject({ type: "error", code: "CONVERSATION_CLOSED", ref: "shut" });
    const rest = await sendRest(bob, id, "rest while closed");
    expect(rest.status).toBe(409);
    expect(rest.body.error.code).toBe("CONVERSATION_CLOSED");

    await barrier(a);
    await barrier(b);
    expect(a.of("message.new")).toHaveLength(1);
    expect(b.of("message.new")).toHaveLength(1);
    expect((await history(alice, id)).map((m) => m.content)).toEqual(["while open"]);
  });
});

describe("message rate limit", () => {
  it("over 120 a minute: refused frames get RATE_LIMIT_EXCEEDED with the ref; REST gets 429 with Retry-After", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    for (let i = 0; i < 125; i++) a.send({ type: "message.send", ref: i, client_id: `rl-${i}`, content: `rate ${i}` });
    await a.until(
      (f) => f.filter((x) => x.type === "message.ack" || x.type === "error").length >= 125,
      15_000,
      "125 replies",
    );
    const acks = a.of("message.ack");
    const errors = a.of("error");
    // A slow machine may refill a token (one per 500 ms) before the burst ends, so the exact
    // split can vary; the first 120 always pass, and every send is answered exactly once.
    expect(acks.slice(0, 120).map((f) => f.ref)).toEqual(range(0, 119));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect([...acks, ...errors].map((f) => f.ref).sort((x, y) => x - y)).toEqual(range(0, 124));
    for (const e of errors) {
      expect(e.code).toBe("RATE_LIMIT_EXCEEDED");
      expect(e.retry_after_ms).toBeGreaterThan(0);
      expect(e.retry_after_ms).toBeLessThanOrEqual(500);
    }

    const refused = await sendRest(alice, id, "over rest, too many");
    expect(refused.status).toBe(429);
    const retryAfter = refused.response.headers.get("retry-after");
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused.body.error.code).toBe("RATE_LIMIT_EXCEEDED");
    expect(typeof refused.body.error.message).toBe("string");
    expect(refused.body.error.details).toEqual([]);

    const log = await history(alice, id);
    expect(log.map((m) => m.seq)).toEqual(range(1, acks.length));
    expect(log.map((m) => m.content)).toEqual(acks.map((f) => `rate ${f.ref}`));
  }, 30_000);
});

describe("hibernation and eviction", () => {
  it("sockets survive hibernation with their identity; eviction with close loses nothing", async () => {
    const id = await fresh();
    const stub = stubOf(id);
    const a = await open(id, alice);
    const b = await open(id, bob);
    a.send({ type: "message.send", ref: "h1", client_id: "h1", content: "before one" });
    await b.next("message.new", (f) => f.message.seq === 1);
    b.send({ type: "message.send", ref: "h2", client_id: "h2", content: "before two" });
    await a.next("message.new", (f) => f.message.seq === 2);

    // Mark the live instance, then evict it: a new instance must not carry the mark.
    await runInside(stub, (instance) => {
      instance.__testMark = "old instance";
    });
    await evictDurableObject(stub);
    expect(a.closed).toBeNull();
    expect(b.closed).toBeNull();

    // The same socket objects keep working; identity comes from the attachment.
    a.send({ type: "message.send", ref: "h3", client_id: "h3", content: "after hibernation" });
    const ack = await a.next("message.ack", (f) => f.ref === "h3");
    expect(ack.message).toMatchObject({ seq: 3, sender_id: alice.id, content: "after hibernation" });
    const seenByB = await b.next("message.new", (f) => f.message.seq === 3);
    expect(seenByB.message.sender_id).toBe(alice.id);
    b.send({ type: "message.send", ref: "h4", client_id: "h4", content: "bob after hibernation" });
    const seenByA = await a.next("message.new", (f) => f.message.seq === 4);
    expect(seenByA.message.sender_id).toBe(bob.id);
    expect(await runInside(stub, (instance) => instance.__testMark)).toBeUndefined();

    a.send({ type: "sync", ref: "after-hibernation", after_seq: 0 });
    await a.next("sync.done", (f) => f.ref === "after-hibernation");
    const replay = a.of("sync.batch").flatMap((f) => f.messages);
    expect(replay.map((m: any) => [m.seq, m.sender_id, m.content])).toEqual([
      [1, alice.id, "before one"],
      [2, bob.id, "before two"],
      [3, alice.id, "after hibernation"],
      [4, bob.id, "bob after hibernation"],
    ]);

    const stored = await runInside(stub, (_instance, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages").one().n,
    );
    expect(stored).toBe(4);

    // Eviction that closes the sockets: reconnect and sync returns everything exactly once.
    await evictDurableObject(stub, { webSockets: "close" });
    await a.waitClosed();
    await b.waitClosed();
    const a2 = await open(id, alice);
    expect(a2.of("hello")[0]!.last_seq).toBe(4);
    a2.send({ type: "sync", ref: "after-close", after_seq: 0 });
    const done = await a2.next("sync.done");
    expect(done).toEqual({ type: "sync.done", ref: "after-close", last_seq: 4 });
    const again = a2.of("sync.batch").flatMap((f) => f.messages);
    expect(again).toEqual(replay);
    expect(new Set(again.map((m: any) => m.id)).size).toBe(4);

    a2.send({ type: "message.send", ref: "h5", client_id: "h5", content: "after close" });
    expect((await a2.next("message.ack")).message.seq).toBe(5);
    expect((await history(bob, id)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  }, 20_000);
});

