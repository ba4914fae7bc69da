import { evictDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { callJson, freshDirect, login, sendRest, signAdminToken, type TestUser } from "../helpers/api";
import { runInside, stubOf, userStubOf } from "../helpers/objects";
import { barrier, closeAll, framesOf, open, openInbox, type Frame } from "../helpers/sockets";
import { eventually, range, sleep } from "../helpers/wait";

// Objects that stay correct over time: watching admins are not present, receipt sessions do not
// pile up, and an inbox opening while activity arrives keeps it.

afterEach(closeAll);

/** The conversation sockets the user's object counts toward their presence. */
/** Sockets the user's object counts toward their presence (none when it never built its storage). */
const countedSockets = (userId: string) =>
  runInside(userStubOf(userId), (_instance, state) => {
    const sql = state.storage.sql;
    if (sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'conversation_socket_counts'").toArray().length === 0) return 0;
    return sql.exec<{ n: number }>("SELECT coalesce(sum(count), 0) AS n FROM conversation_socket_counts").one().n;
  });

const sessionRows = (conversationId: string) =>
  runInside(stubOf(conversationId), (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM sessions").one().n);

describe("an admin watching a conversation", () => {
  it("is not announced as present: no presence frame, not online in hello, not counted toward their presence", async () => {
    const [alice, bob, moderator] = await Promise.all([login("watch-alice"), login("watch-bob"), login("watch-moderator")]);
    const id = await freshDirect(alice, bob, "admin-watch");
    const a = await open(id, alice);
    const watching = await open(id, await signAdminToken(moderator));
    const b = await open(id, bob);

    const listed = b.of("hello")[0]!.participants as { id: string; online: boolean }[];
    expect(listed).toHaveLength(2);
    expect(listed).toEqual(expect.arrayContaining([{ id: alice.id, online: true }, { id: bob.id, online: true }]));
    await barrier(a);
    expect(framesOf(a, "presence").map((f) => f.user_id)).toEqual([bob.id]);
    // Bob's socket was reported after the moderator's: once his has arrived, theirs would have too.
    await eventually(async () => (await countedSockets(bob.id)) === 1, { what: "bob's socket counted" });
    expect(await countedSockets(moderator.id)).toBe(0);

    // Leaving announces nothing either, also after the grace period (300 ms here).
    watching.close();
    await watching.waitClosed();
    await sleep(500);
    await barrier(a);
    expect(framesOf(a, "presence").map((f) => f.user_id)).toEqual([bob.id]);
  });
});

describe("receipt sessions", () => {
  it("do not grow with reconnects: sessions covering nothing are dropped, touching ones merged, receipts unchanged", async () => {
    const [alice, bob] = await Promise.all([login("sessions-alice"), login("sessions-bob")]);
    const id = await freshDirect(alice, bob, "sessions");

    // Thirty reconnects with nothing sent meanwhile.
    for (const _ of range(1, 30)) {
      const s = await open(id, bob);
      s.close();
      await s.waitClosed();
    }
    await eventually(async () => (await sessionRows(id)) === 0, { what: "no session rows" });

    // Ten reconnects, a message reaching bob live in each: one stretch, one row.
    const ids: string[] = [];
    for (const i of range(1, 10)) {
      const s = await open(id, bob);
      const sent = await sendRest(alice, id, `live ${i}`);
      ids.push(sent.body.id);
      await s.next("message.new", (f) => f.message.id === sent.body.id);
      s.close();
      await s.waitClosed();
    }
    // Away for one message, back for the next.
    ids.push((await sendRest(alice, id, "while bob is away")).body.id);
    const back = await open(id, bob);
    const last = await sendRest(alice, id, "back");
    ids.push(last.body.id);
    await back.next("message.new", (f) => f.message.id === last.body.id);
    back.close();
    await back.waitClosed();
    await eventually(async () => (await sessionRows(id)) === 2, { what: "two session rows" });

    const statuses: string[] = [];
    for (const messageId of ids) {
      const { body } = await callJson(`/api/v1/conversations/${id}/messages/${messageId}/receipts`, { token: alice.token });
      statuses.push(body.receipts.find((r: { user_id: string }) => r.user_id === bob.id).status);
    }
    expect(statuses).toEqual([...range(1, 10).map(() => "delivered"), "sent", "delivered"]);
  });
});

describe("socket sessions written behind", () => {
  const bobsStatus = async (alice: TestUser, id: string, messageId: string) => {
    const { body } = await callJson(`/api/v1/conversations/${id}/messages/${messageId}/receipts`, { token: alice.token });
    return body.receipts.find((r: { user_id: string }) => r.user_id !== alice.id).status as string;
  };

  it("a connect writes no row: a burst's sessions are written together within a second, and count as delivery meanwhile", async () => {
    const [alice, bob] = await Promise.all([login("behind-alice"), login("behind-bob")]);
    const id = await freshDirect(alice, bob, "behind");
    const sockets = await Promise.all(range(1, 5).map(() => open(id, bob)));
    expect(await sessionRows(id)).toBe(0);

    const sent = await sendRest(alice, id, "before the write");
    expect(await bobsStatus(alice, id, sent.body.id)).toBe("delivered");

    await eventually(async () => (await sessionRows(id)) === 5, { what: "five session rows", timeoutMs: 3_000 });
    expect(await bobsStatus(alice, id, sent.body.id)).toBe("delivered");
    for (const s of sockets) s.close();
  });

  it("an open socket whose session was never written still counts after its object restarts", async () => {
    const [alice, bob] = await Promise.all([login("restart-alice"), login("restart-bob")]);
    const id = await freshDirect(alice, bob, "restart");
    const before = (await sendRest(alice, id, "before bob connects")).body.id;
    const s = await open(id, bob);
    await evictDurableObject(stubOf(id));

    const after = await sendRest(alice, id, "after the restart");
    await s.next("message.new", (f) => f.message.id === after.body.id);
    expect(await bobsStatus(alice, id, after.body.id)).toBe("delivered");
    expect(await bobsStatus(alice, id, before)).toBe("sent");
    await eventually(async () => (await sessionRows(id)) === 1, { what: "the session written", timeoutMs: 3_000 });
  });
});

describe("an inbox socket opening while activity arrives", () => {
  it("counts a message sent just before it opened, before D1's mirror has it", async () => {
    const [sam, uma] = await Promise.all([login("opening-sam"), login("opening-uma")]);
    const id = await freshDirect(sam, uma, "opening");
    expect((await sendRest(sam, id, "just before")).status).toBe(201);
    const inbox = await openInbox(uma);
    expect(inbox.frames[0]).toEqual({ type: "hello", user_id: uma.id, unread_count: 1, conversations: [{ id, unread_count: 1 }] });

    const next = await sendRest(sam, id, "and after");
    await inbox.next("notification.message", (f) => f.message.id === next.body.id);
    expect(await inbox.next("unread", (f) => f.unread_count === 2)).toEqual({ type: "unread", conversation_id: id, unread_count: 2, total: 2 });
  });

  it("loses none of the messages sent while it opens, and sends nothing before its hello", async () => {
    const [sam, uma] = await Promise.all([login("racing-sam"), login("racing-uma")]);
    const ids = await Promise.all(range(1, 3).map((i) => freshDirect(sam, uma, `racing-${i}`)));
    const sending = (async () => {
      for (const i of range(1, 4)) for (const id of ids) expect((await sendRest(sam, id, `m${i}`)).status).toBe(201);
    })();
    const [inbox] = await Promise.all([openInbox(uma), sending]);
    expect(inbox.frames[0]!.type).toBe("hello");

    // Each conversation's latest count the inbox was given (hello, then unread frames) reaches 4.
    const latest = (frames: Frame[], id: string) => {
      const counts = frames.flatMap((f) =>
        f.type === "hello" ? f.conversations.filter((c: { id: string }) => c.id === id).map((c: { unread_count: number }) => c.unread_count) : f.type === "unread" && f.conversation_id === id ? [f.unread_count] : [],
      );
      return counts[counts.length - 1] ?? 0;
    };
    await inbox.until((frames) => ids.every((id) => latest(frames, id) === 4), 3_000, "every count at 4");
    const hello = inbox.frames[0]!;
    // What the hello did not count was notified afterwards.
    for (const id of ids) {
      const counted = hello.conversations.find((c: { id: string }) => c.id === id)?.unread_count ?? 0;
      const notified = framesOf(inbox, "notification.message", (f) => f.conversation_id === id).map((f) => f.message.seq);
      expect(range(counted + 1, 4).every((seq) => notified.includes(seq)), `${id}: hello counted ${counted}, notified ${notified}`).toBe(true);
    }
  });
});

describe("hibernation handlers", () => {
  /** A socket the runtime already closed: it has no identity, and closing it again throws. */
  const deadSocket = () => {
    const closes: number[] = [];
    const ws = {
      readyState: 3,
      close(code: number) {
        closes.push(code);
        throw new TypeError("WebSocket already closed");
      },
      deserializeAttachment: () => null,
      send() {
        throw new TypeError("WebSocket already closed");
      },
    };
    return { ws: ws as unknown as WebSocket, closes };
  };

  it("never answer a socket that is already gone (1005/1006), and never throw", async () => {
    const [alice, bob] = await Promise.all([login("dead-alice"), login("dead-bob")]);
    const id = await freshDirect(alice, bob, "dead-socket");
    expect((await sendRest(alice, id, "wake the object")).status).toBe(201);
    for (const stub of [stubOf(id), userStubOf(alice.id)]) {
      const gone = deadSocket();
      await runInside(stub, async (instance) => {
        const handlers = instance as unknown as {
          webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void>;
          webSocketError(ws: WebSocket, error: unknown): Promise<void>;
        };
        await handlers.webSocketClose(gone.ws, 1006, "");
        await handlers.webSocketClose(gone.ws, 1005, "");
        await handlers.webSocketError(gone.ws, new Error("reset"));
        await handlers.webSocketClose(gone.ws, 1000, "bye"); // a real close frame is answered, quietly
      });
      expect(gone.closes).toEqual([1000]);
    }
  });
});
