// Work follows who is online, not who is a member: what one message costs, counted by the
// conversation object's own meter (storage rows, D1 statements, queue sends, frames, calls to user objects),
// is the same in a group of 6 and in a group of 300 with the same people online.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { migrate, OLDER_MESSAGE_ID, REBUILD_LIMIT, SCHEMA_VERSION } from "../../src/conversation/storage";
import { DELIVERED_LISTED } from "../../src/schemas/frames";
import { callJson, freshDirect, group, login, sendRest, signAdminToken, type TestUser } from "../helpers/api";
import { runInside, storageIndexes, stubOf } from "../helpers/objects";
import { barrier, closeAll, open, openInbox } from "../helpers/sockets";
import { eventually, range, sleep } from "../helpers/wait";

afterEach(closeAll);

/** Runs the write-behind save now, so each measured window holds exactly one (the alarm's own timing would vary). */
const saveNow = (conversationId: string) => runInside(stubOf(conversationId), (instance) => (instance.parts as { chat: { save(): void } }).chat.save());

type Costs = { storage_rows_written: number; d1_statements: number; queue_sends: number; frames_sent: number; inbox_calls: number; messages: number };

async function costs(admin: string, conversationId: string): Promise<Costs> {
  const { status, body } = await callJson(`/api/v1/conversations/${conversationId}/stats`, { token: admin });
  expect(status).toBe(200);
  return body;
}

const delta = (after: Costs, before: Costs) => ({
  storage_rows_written: after.storage_rows_written - before.storage_rows_written,
  d1_statements: after.d1_statements - before.d1_statements,
  queue_sends: after.queue_sends - before.queue_sends,
  frames_sent: after.frames_sent - before.frames_sent,
  inbox_calls: after.inbox_calls - before.inbox_calls,
});

/** A group of `size` people: creation names at most 100, so the rest join one add at a time. */
async function bigGroup(prefix: string, size: number) {
  const people: TestUser[] = await Promise.all(range(1, size).map((i) => login(`${prefix}-${i}`)));
  const [creator, ...others] = people;
  const id = await group(creator!, others.slice(0, 99));
  for (const joiner of others.slice(99)) {
    const added = await callJson(`/api/v1/conversations/${id}/participants`, { method: "POST", token: creator!.token, json: { user_id: joiner.id } });
    expect(added.status).toBe(201);
  }
  return { id, people, creator: creator!, others };
}

/**
 * A group of `size`: two members watch it on its socket, two others have only their inbox open,
 * everyone else is offline. Returns what the second message costs (the first one warms up).
 */
async function costOfOneMessage(size: number) {
  const { id, people } = await bigGroup(`scale${size}`, size);
  const [sender, watcherA, watcherB, inboxA, inboxB, ...offline] = people;
  expect(offline.length).toBe(size - 5);
  const admin = await signAdminToken(sender!);
  const watchers = await Promise.all([open(id, watcherA!), open(id, watcherB!)]);
  const inboxes = await Promise.all([openInbox(inboxA!), openInbox(inboxB!)]);

  const deliver = async (content: string) => {
    const sent = await sendRest(sender!, id, content);
    expect(sent.status).toBe(201);
    await Promise.all([
      ...watchers.map((ws) => ws.next("message.new", (f) => f.message.id === sent.body.id)),
      ...inboxes.map((ws) => ws.next("notification.message", (f) => f.message.id === sent.body.id)),
    ]);
  };
  await deliver("warm-up");
  // Settled: the summary mirror and the inbox rounds of the first message are done.
  await eventually(async () => {
    const now = await costs(admin, id);
    return now.inbox_calls >= 2 && now.queue_sends >= 1;
  });
  await saveNow(id);
  // Past the summary's queue interval (100 ms), so the counted message's round goes at once
  // rather than by an alarm (which would add its own rows): one message, measured the same way.
  await sleep(150);
  const before = await costs(admin, id);
  await deliver("counted");
  await eventually(async () => {
    const spent = delta(await costs(admin, id), before);
    return spent.inbox_calls >= 2 && spent.queue_sends > 0;
  });
  await saveNow(id);
  return delta(await costs(admin, id), before);
}

describe("a message costs work for who is online", () => {
  it("the same rows, D1 statements, frames and inbox calls in a group of 6 and of 300", async () => {
    const small = await costOfOneMessage(6);
    const large = await costOfOneMessage(300);
    expect(small.frames_sent).toBe(2); // message.new to the two watching sockets
    expect(small.inbox_calls).toBe(2); // the two open inboxes, not the offline members
    expect(small.queue_sends).toBe(1); // the summary goes to D1 through the mirror queue…
    expect(small.d1_statements).toBe(0); // …so the object itself makes no D1 request for a message
    const { storage_rows_written: smallRows, ...smallRest } = small;
    const { storage_rows_written: largeRows, ...largeRest } = large;
    expect(largeRest).toEqual(smallRest);
    // The message row plus one write-behind save (bucket, cursor, watermarks); the timing of the
    // summary round may add a row, never one per member.
    expect(smallRows).toBeLessThanOrEqual(8);
    expect(Math.abs(largeRows - smallRows)).toBeLessThanOrEqual(1);
  });
});

/**
 * Sums `measure` over the object's statements from now until the returned function is called,
 * which stops counting and gives the total.
 */
async function countStatements(conversationId: string, measure: (query: string, cursor: SqlStorageCursor<Record<string, SqlStorageValue>>) => number): Promise<() => Promise<number>> {
  type Counted = SqlStorage & { counted?: number };
  await runInside(stubOf(conversationId), (_instance, state) => {
    const sql = state.storage.sql as Counted;
    const exec = sql.exec.bind(sql);
    sql.counted = 0;
    sql.exec = ((query: string, ...bindings: unknown[]) => {
      const cursor = exec(query, ...bindings);
      sql.counted! += measure(query, cursor);
      return cursor;
    }) as SqlStorage["exec"];
  });
  return () =>
    runInside(stubOf(conversationId), (_instance, state) => {
      const sql = state.storage.sql as Counted;
      delete (sql as Partial<Counted>).exec; // the own property goes; the runtime's method is back
      const counted = sql.counted!;
      delete sql.counted;
      return counted;
    });
}

/** The rows the object's statements write as the platform bills them (a cursor's rowsWritten: each index entry written is a row too). */
const countBilledRows = (conversationId: string) => countStatements(conversationId, (_query, cursor) => cursor.rowsWritten);

describe("a message's storage writes, counted as the platform bills them", () => {
  it("are its row and, with a client_id, its idempotency entry: the log keeps no index of message ids", async () => {
    const [a, b] = await Promise.all([login("billed-a"), login("billed-b")]);
    const id = await freshDirect(a, b, "billed");
    expect((await sendRest(a, id, "warm-up")).status).toBe(201);
    await saveNow(id);
    for (const [extra, expected] of [[{}, 1], [{ client_id: "billed-1" }, 2]] as const) {
      const stop = await countBilledRows(id);
      const sent = await sendRest(b, id, "counted", extra);
      expect(sent.status).toBe(201);
      expect(await stop()).toBe(expected);
    }
  });
});

/**
 * Puts the conversation's log back to the schema of the release before ids named their seq (a
 * unique index of ids; message 1's id of the older, random-only form), optionally with a message
 * at `lastSeq` standing for a long log, then migrates it as a restart would. Returns the query
 * plan of a lookup by the older id.
 */
function fromOlderRelease(conversationId: string, olderId: string, lastSeq?: number): Promise<string> {
  return runInside(stubOf(conversationId), (instance, state) => {
    const sql = state.storage.sql;
    sql.exec("DROP INDEX messages_older_id");
    sql.exec("CREATE UNIQUE INDEX messages_id_unique ON messages(id)");
    sql.exec("UPDATE messages SET id = ? WHERE seq = 1", olderId);
    if (lastSeq !== undefined) sql.exec("INSERT INTO messages (seq, id, type, content, created_at) VALUES (?, 'msg_standsforalonglog00', 'text', 'x', '2026-01-01T00:00:00.000Z')", lastSeq);
    sql.exec("UPDATE state SET value = ? WHERE key = 'schema_version'", String(SCHEMA_VERSION - 1));
    migrate(sql);
    (instance.parts as { chat: { log: { forget(): void } } }).chat.log.forget();
    return sql
      .exec<{ detail: string }>(`EXPLAIN QUERY PLAN SELECT * FROM messages WHERE id = ? AND ${OLDER_MESSAGE_ID}`, olderId)
      .toArray()
      .map((row) => row.detail)
      .join();
  });
}

const editAs = (user: TestUser, conversationId: string, messageId: string, content: string) =>
  callJson(`/api/v1/conversations/${conversationId}/messages/${messageId}`, { method: "PATCH", token: user.token, json: { content } });

describe("message ids", () => {
  it("name their seq; an object stored before keeps its older ids, found through an index of those alone", async () => {
    const [a, b] = await Promise.all([login("ids-a"), login("ids-b")]);
    const id = await freshDirect(a, b, "ids");
    expect((await sendRest(a, id, "before the upgrade")).body.id).toMatch(/^msg_[0-9a-z]{16}_1$/);
    const older = "msg_0123456789abcdefghij";
    expect(await fromOlderRelease(id, older)).toContain("USING INDEX messages_older_id");
    expect(await storageIndexes(id)).not.toContain("messages_id_unique");
    const edited = await editAs(a, id, older, "edited after");
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ id: older, seq: 1, content: "edited after" });
    const reply = await sendRest(b, id, "a reply", { reply_to: older });
    expect(reply.status).toBe(201);
    expect(reply.body.id).toMatch(/^msg_[0-9a-z]{16}_2$/);
    // Shaped like a new id but not the one stored for that seq, or an older id never stored: not found.
    for (const unknown of [`msg_${"0".repeat(16)}_2`, "msg_zzzzzzzzzzzzzzzzzzzz"]) {
      expect((await editAs(b, id, unknown, "x")).status).toBe(404);
    }
  });

  it("a log longer than the rebuild limit keeps its index of ids, and finds older and new ids through it", async () => {
    const [a, b] = await Promise.all([login("ids-long-a"), login("ids-long-b")]);
    const id = await freshDirect(a, b, "ids-long");
    expect((await sendRest(a, id, "an old message")).status).toBe(201);
    const older = "msg_abcdefghij0123456789";
    expect(await fromOlderRelease(id, older, REBUILD_LIMIT + 1)).toContain("USING INDEX messages_id_unique");
    expect(await storageIndexes(id)).not.toContain("messages_older_id");
    expect((await editAs(a, id, older, "edited after")).body).toMatchObject({ id: older, content: "edited after" });
    const sent = await sendRest(b, id, "a new one");
    expect(sent.body.id).toMatch(new RegExp(`^msg_[0-9a-z]{16}_${(REBUILD_LIMIT + 2).toString(36)}$`));
    expect((await editAs(b, id, sent.body.id, "and edited")).body).toMatchObject({ seq: REBUILD_LIMIT + 2, content: "and edited" });
  });
});

describe("a socket that has gone", () => {
  it("leaves the object's socket list and its record of who is online once its close is handled, and a message costs a frame for each socket still open", async () => {
    const [alice, bob, carol] = await Promise.all([login("gone-alice"), login("gone-bob"), login("gone-carol")]);
    const id = await group(alice, [bob, carol]);
    const admin = await signAdminToken(alice);
    const [b, c] = await Promise.all([open(id, bob), open(id, carol)]);
    const first = await sendRest(alice, id, "to both");
    await Promise.all([b, c].map((s) => s.next("message.new", (f) => f.message.id === first.body.id)));

    c.close();
    await c.waitClosed();
    // Carol announced offline (after the 300 ms grace) means her close was handled.
    await b.next("presence", (f) => f.user_id === carol.id && f.online === false);
    const before = await costs(admin, id);
    const second = await sendRest(alice, id, "to bob only");
    const delivered = await b.next("message.new", (f) => f.message.id === second.body.id);
    expect((await costs(admin, id)).frames_sent - before.frames_sent).toBe(1);
    expect(delivered.delivered_to).toEqual([bob.id]);
    // The record a broadcast walks (kept between messages) no longer holds her socket.
    type Hub = { sockets(): Iterable<WebSocket> };
    const listed = await runInside(stubOf(id), (instance) => [...((instance.parts as { chat: { hub: unknown } }).chat.hub as Hub).sockets()].length);
    expect(listed).toBe(1);
    // Nor is she named online to someone who connects now.
    const a = await open(id, alice);
    const online = Object.fromEntries(a.of("hello")[0]!.participants.map((p: { id: string; online: boolean }) => [p.id, p.online]));
    expect(online).toEqual({ [alice.id]: true, [bob.id]: true, [carol.id]: false });
  });
});

describe("a busy conversation's summary", () => {
  it("goes through the queue about once per 100 ms, not once per message, and the list still ends on the last message", async () => {
    const [sender, reader] = await Promise.all([login("busy-sender"), login("busy-reader")]);
    const id = await group(sender, [reader]);
    const admin = await signAdminToken(sender);
    const before = await costs(admin, id);
    const started = Date.now();
    let last = "";
    for (let i = 0; i < 30; i++) last = (await sendRest(sender, id, `burst ${i}`)).body.id;
    // The first two go at once (a quiet conversation's messages are not held back), then one per 100 ms.
    const rounds = Math.ceil((Date.now() - started) / 100) + 3;
    const listed = await eventually(async () => {
      const list = await callJson("/api/v1/conversations?limit=20", { token: reader.token });
      const entry = list.body.conversations.find((c: { id: string }) => c.id === id);
      return entry?.last_message?.id === last ? entry : null;
    });
    expect(listed.unread_count).toBe(30);
    const sends = (await costs(admin, id)).queue_sends - before.queue_sends;
    expect(sends).toBeLessThanOrEqual(rounds);
    expect(sends).toBeLessThan(30);
  });
});

describe("inbox registration follows the inbox", () => {
  it("after the last inbox closes and the grace passes, the user's conversations stop notifying them", async () => {
    const [sender, reader] = await Promise.all([login("watch-sender"), login("watch-reader")]);
    const id = await group(sender, [reader]);
    const admin = await signAdminToken(sender);
    const watching = () => runInside(stubOf(id), (instance) => (instance.parts as { chat: { inboxWatchers: { has(id: string): boolean } } }).chat.inboxWatchers.has(reader.id));
    const inbox = await openInbox(reader);
    expect(await watching()).toBe(true);
    inbox.close();
    await inbox.waitClosed();
    expect(await watching()).toBe(true); // within the grace a reconnect finds everything as it was
    await eventually(async () => !(await watching()), { timeoutMs: 3_000 });
    const before = await costs(admin, id);
    expect((await sendRest(sender, id, "nobody is listening")).status).toBe(201);
    await eventually(async () => (await costs(admin, id)).queue_sends > before.queue_sends);
    expect((await costs(admin, id)).inbox_calls).toBe(before.inbox_calls);
  });

  it("someone added while their inbox is open (as D1's inbox flag says) is notified at once; someone offline, or online through a conversation socket only, is not watching", async () => {
    const people = ["owner", "early", "online", "offline", "chatting"].map((name) => login(`added-${name}`));
    const [owner, early, online, offline, chatting] = (await Promise.all(people)) as [TestUser, TestUser, TestUser, TestUser, TestUser];
    const id = await group(owner, [early]);
    const watching = (userId: string) => runInside(stubOf(id), (instance) => (instance.parts as { chat: { inboxWatchers: { has(id: string): boolean } } }).chat.inboxWatchers.has(userId));
    const inboxFlag = async (user: TestUser) => (await env.DB.prepare("SELECT inbox_open FROM users WHERE id = ?").bind(user.id).first<{ inbox_open: number }>())?.inbox_open;
    const inbox = await openInbox(online);
    expect(await inboxFlag(online)).toBe(1); // written before the inbox's hello
    // Online in D1 through a socket on another conversation, but no inbox to notify.
    await open(await freshDirect(owner, chatting, "added-chatting"), chatting);
    await eventually(async () => (await env.DB.prepare("SELECT online FROM users WHERE id = ?").bind(chatting.id).first<{ online: number }>())?.online === 1);
    for (const person of [chatting, offline, online]) {
      expect((await callJson(`/api/v1/conversations/${id}/participants`, { method: "POST", token: owner.token, json: { user_id: person.id } })).status).toBe(201);
    }
    await eventually(() => watching(online.id));
    expect(await watching(offline.id)).toBe(false);
    expect(await watching(chatting.id)).toBe(false);
    const sent = await sendRest(owner, id, "welcome");
    expect((await inbox.next("notification.message", (f) => f.message.id === sent.body.id)).conversation_id).toBe(id);

    // The flag goes once the inbox has been closed for the grace period.
    inbox.close();
    await eventually(async () => (await inboxFlag(online)) === 0, { what: "inbox flag cleared" });
  });
});

describe("conversation answers stay bounded in big groups", () => {
  it("list and GET name at most 100 participants, with participant_count the total", async () => {
    const { id, people, creator } = await bigGroup("bounded", 130);
    const last = people[people.length - 1]!;
    const one = await callJson(`/api/v1/conversations/${id}`, { token: last.token });
    expect(one.status).toBe(200);
    expect(one.body.participant_count).toBe(130);
    expect(one.body.participants).toHaveLength(100);
    const listed = await callJson("/api/v1/conversations?limit=5", { token: last.token });
    const entry = listed.body.conversations.find((c: { id: string }) => c.id === id);
    expect(entry.participant_count).toBe(130);
    expect(entry.participants).toHaveLength(100);

    // Past 100 participants, sockets coming and going announce no presence (it would cost a
    // frame per open socket on every connect); hello lists the online participants and the count.
    const watcher = await open(id, creator!);
    const comer = await open(id, last);
    const hello = comer.of("hello")[0]!;
    expect(hello.participant_count).toBe(130);
    expect(hello.participants).toHaveLength(2);
    expect(hello.participants).toEqual(expect.arrayContaining([{ id: creator!.id, online: true }, { id: last.id, online: true }]));
    comer.close();
    await comer.waitClosed();
    await barrier(watcher);
    expect(watcher.of("presence")).toEqual([]);
  });

  it("past 100 people online, hello names 100 of them (from the object's own record of sockets, without asking the runtime); message.new's delivered_to names DELIVERED_LISTED with delivered_count the total", async () => {
    const { id, creator, others } = await bigGroup("crowd", 110);
    const [latecomer, ...crowd] = others;
    const sockets = await Promise.all(crowd.map((person) => open(id, person)));
    // From here on, count the object's reads of its socket list, whole or by user (a connect makes none).
    await runInside(stubOf(id), (instance, state) => {
      const reads = { whole: 0, byUser: 0 };
      const getWebSockets = state.getWebSockets.bind(state);
      state.getWebSockets = (tag?: string) => {
        if (tag === undefined) reads.whole++;
        else reads.byUser++;
        return getWebSockets(tag);
      };
      instance.__socketListReads = reads;
    });
    const late = await open(id, latecomer!);
    const hello = late.of("hello")[0]!;
    expect(hello.participant_count).toBe(110);
    expect(hello.participants).toHaveLength(100);
    expect(hello.participants.every((p: { online: boolean }) => p.online)).toBe(true);
    expect(await runInside(stubOf(id), (instance) => instance.__socketListReads)).toEqual({ whole: 0, byUser: 0 });

    const sent = await sendRest(creator!, id, "to the crowd");
    const frame = await late.next("message.new", (f) => f.message.id === sent.body.id);
    expect(frame.delivered_to).toHaveLength(DELIVERED_LISTED);
    expect(frame.delivered_count).toBe(109);
    expect(new Set(frame.delivered_to).size).toBe(DELIVERED_LISTED);
    expect(frame.delivered_to).not.toContain(creator!.id);
    await Promise.all(sockets.map((ws) => ws.next("message.new", (f) => f.message.id === sent.body.id)));
  });

  it("a message after a wake-up reads no participant row for the people on its sockets: a socket opened by a participant stands for their membership", async () => {
    const { id, creator, others } = await bigGroup("woken", 30);
    const sockets = await Promise.all(others.map((person) => open(id, person)));
    // A wake-up from hibernation starts with nothing cached about who takes part.
    await runInside(stubOf(id), (instance) => (instance.parts as { chat: { membership: { forget(): void } } }).chat.membership.forget());
    const stop = await countStatements(id, (query) => (/FROM participants/.test(query) ? 1 : 0));
    const sent = await sendRest(creator, id, "after a wake-up");
    const frames = await Promise.all(sockets.map((ws) => ws.next("message.new", (f) => f.message.id === sent.body.id)));
    // The sender's own checks read their row (they are on REST, not on a socket); none per person online.
    expect(await stop()).toBeLessThanOrEqual(3);
    expect(frames[0]!.delivered_to).toHaveLength(DELIVERED_LISTED);
    expect(frames[0]!.delivered_count).toBe(29);
    expect(frames[0]!.delivered_to).not.toContain(creator.id);
  });

  it("GET shows every listed participant's read cursor and unread count, as the conversation has them", async () => {
    const [buyer, seller] = await Promise.all([login("cursor-buyer"), login("cursor-seller")]);
    const id = await group(buyer, [seller]);
    for (const content of ["one", "two", "three"]) expect((await sendRest(buyer, id, content)).status).toBe(201);
    await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: seller.token, json: { up_to_seq: 1 } });
    const seen = await callJson(`/api/v1/conversations/${id}`, { token: buyer.token });
    const byId = Object.fromEntries(seen.body.participants.map((p: { id: string }) => [p.id, p]));
    expect(byId[seller.id]).toMatchObject({ last_read_seq: 1, unread_count: 2 });
    expect(byId[buyer.id]).toMatchObject({ last_read_seq: 3, unread_count: 0 });
    expect(seen.body).toMatchObject({ last_seq: 3, unread_count: 0 });
  });
});
