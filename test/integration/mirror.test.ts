// The mirror queue's consumer: many conversations' summaries and read cursors in one D1 batch,
// idempotent and ordered by each update's stamp, so batches that arrive twice, out of order or
// after D1 was down for a while never move a summary back and lose nothing.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { retryDelaySeconds } from "../../src/mirror/consumer";
import { encodeMirror, type MirrorMessage, type SummaryUpdate } from "../../src/mirror/summary";
import { befriend, callJson, direct, login, signAdminToken, uniqueContext, type TestUser } from "../helpers/api";
import { failing } from "../helpers/objects";
import { barrier, closeAll, framesOf, openInbox } from "../helpers/sockets";
import { eventually } from "../helpers/wait";

let messageCounter = 0;

/** A summary update as a conversation's object would queue it: `seq` messages, the last one at `at`. */
function summary(conversationId: string, stamp: number, seq: number, at: string, reads: SummaryUpdate["reads"] = []): SummaryUpdate {
  const message = {
    id: `msg_mirror_${++messageCounter}`,
    conversation_id: conversationId,
    seq,
    sender_id: null,
    sender: null,
    type: "system" as const,
    content: `message ${seq}`,
    data: null,
    reply_to: null,
    attachment: null,
    reactions: {},
    client_id: null,
    edited_at: null,
    deleted_at: null,
    created_at: at,
  };
  return { conversation_id: conversationId, stamp, last_seq: seq, last_message: message, sender_seqs: {}, reads };
}

/**
 * Delivers `updates` to the Worker's queue handler as one batch, with bodies as the objects send
 * them (JSON text), or as the objects themselves (`objectBodies`: as an earlier version sent
 * them); returns what it acked or retried.
 */
async function deliver(updates: SummaryUpdate[], options: DeliveryOptions = {}) {
  return deliverMessages(updates.map((update) => ({ kind: "summary", update })), options);
}

type DeliveryOptions = { attempts?: number; db?: D1Database; objectBodies?: boolean };

async function deliverMessages(messages: MirrorMessage[], options: DeliveryOptions = {}) {
  const body = (message: MirrorMessage) => (options.objectBodies ? message : encodeMirror(message));
  const batch = createMessageBatch<unknown>(
    "edge-chat-mirror",
    messages.map((message, i) => ({ id: `m-${++messageCounter}-${i}`, timestamp: new Date(), attempts: options.attempts ?? 1, body: body(message) })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...(options.db && { DB: options.db }) } as typeof env);
  return getQueueResult(batch, ctx);
}

/** A D1 whose batches all fail, as during an outage. */
const downD1 = failing(env.DB, "batch");

async function meter(admin: string) {
  return (await callJson("/api/v1/admin/mirror", { token: admin })).body as { batches: number; messages: number; statements: number };
}

/** `owner`'s conversations with `count` fresh partners, all under one context type for filtering. */
async function conversationsOf(owner: TestUser, count: number) {
  const context = uniqueContext("mirror");
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await direct(owner, await login(`mirror-partner-${i}`), { type: context.type, id: `${context.id}-${i}` }));
  return { ids, list: async () => (await callJson(`/api/v1/conversations?context_type=${context.type}&limit=100`, { token: owner.token })).body.conversations as any[] };
}

const at = (second: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, second)).toISOString();
const STAMP = 2 ** 52; // beyond any stamp the objects make (microseconds since 1970), and still exact

describe("the mirror queue's consumer", () => {
  it("writes many conversations in one D1 batch (one request, one statement for the summaries and one for the reads), and the list orders them by their last message", async () => {
    const owner = await login("mirror-owner");
    const admin = await signAdminToken(owner);
    const { ids, list } = await conversationsOf(owner, 5);
    const before = await meter(admin);
    const order = [3, 0, 4, 1, 2]; // the i-th conversation's last message is at second order[i]
    // The owner has read all but one message of each conversation.
    const result = await deliver(ids.map((id, i) => summary(id, STAMP, i + 1, at(order[i]!), [{ user_id: owner.id, read_seq: i }])));
    expect(result.ackAll).toBe(true);
    expect(result.retryMessages).toEqual([]);
    const after = await meter(admin);
    expect(after.batches - before.batches).toBe(1);
    expect(after.messages - before.messages).toBe(5);
    expect(after.statements - before.statements).toBe(2);
    const listed = await list();
    expect(listed.map((c) => c.id)).toEqual([ids[2], ids[0], ids[4], ids[3], ids[1]]);
    expect(listed.map((c) => c.last_seq)).toEqual([3, 1, 5, 4, 2]);
    expect(listed.map((c) => c.unread_count)).toEqual([1, 1, 1, 1, 1]);
  });

  it("a batch delivered twice, or an older update after a newer one, never moves a summary back; reads only go forward", async () => {
    const owner = await login("mirror-order");
    const { ids, list } = await conversationsOf(owner, 1);
    const id = ids[0]!;
    const newer = summary(id, STAMP + 2, 7, at(20), [{ user_id: owner.id, read_seq: 6 }]);
    const older = summary(id, STAMP + 1, 5, at(10), [{ user_id: owner.id, read_seq: 4 }]);
    for (const batch of [[newer], [newer], [older], [older, newer]]) expect((await deliver(batch)).ackAll).toBe(true);
    const [entry] = await list();
    expect(entry).toMatchObject({ last_seq: 7, last_message: { id: newer.last_message!.id }, unread_count: 1 });
    // Within one batch too: the newest stamp wins whatever the order of the messages.
    const newest = summary(id, STAMP + 4, 9, at(30));
    expect((await deliver([newest, summary(id, STAMP + 3, 8, at(25))])).ackAll).toBe(true);
    expect((await list())[0]).toMatchObject({ last_seq: 9, last_message: { id: newest.last_message!.id } });
  });

  it("while D1 is down nothing is acked and every message is retried; once D1 is back the redelivery writes it", async () => {
    const owner = await login("mirror-down");
    const admin = await signAdminToken(owner);
    const { ids, list } = await conversationsOf(owner, 2);
    const updates = ids.map((id, i) => summary(id, STAMP, 3 + i, at(40 + i)));
    const before = await meter(admin);

    for (const attempts of [1, 4]) {
      const refused = await deliver(updates, { db: downD1, attempts });
      expect(refused.ackAll).toBe(false);
      expect(refused.retryMessages).toHaveLength(2);
    }
    expect((await list()).map((c) => c.last_seq)).toEqual([0, 0]); // nothing written, nothing half-written
    expect((await meter(admin)).batches).toBe(before.batches);

    const healed = await deliver(updates, { attempts: 5 });
    expect(healed.ackAll).toBe(true);
    expect((await list()).map((c) => c.last_seq)).toEqual([4, 3]);
  });

  it("still writes bodies queued as objects (by an earlier version, in flight across a deploy)", async () => {
    const owner = await login("mirror-objects");
    const { ids, list } = await conversationsOf(owner, 1);
    expect((await deliver([summary(ids[0]!, STAMP, 6, at(50))], { objectBodies: true })).ackAll).toBe(true);
    expect((await list())[0]).toMatchObject({ last_seq: 6 });
  });

  it("waits longer before each redelivery: 2, 4, 8 … seconds, at most five minutes (the queue retries for hours)", () => {
    expect([1, 2, 3, 4, 8, 9, 100].map(retryDelaySeconds)).toEqual([2, 4, 8, 16, 256, 300, 300]);
  });
});

describe("presence through the mirror queue", () => {
  afterEach(closeAll);

  const change = (user: TestUser, online: boolean, stamp: number, second = 0): MirrorMessage => ({ kind: "presence", change: { user_id: user.id, online, at: at(second), stamp } });
  const presenceOf = async (viewer: TestUser, people: TestUser[]) =>
    ((await callJson(`/api/v1/presence?user_ids=${people.map((p) => p.id).join(",")}`, { token: viewer.token })).body.users as any[]).sort((a, b) => a.id.localeCompare(b.id));
  const expected = (entries: [TestUser, boolean, string | null][]) =>
    entries.map(([user, online, lastSeen]) => ({ id: user.id, online, last_seen: lastSeen })).sort((a, b) => a.id.localeCompare(b.id));

  it("many users' changes in one D1 batch: the newest of each is written and announced once to their online contacts; older or repeated ones change nothing", async () => {
    const viewer = await login("mirror-presence-viewer");
    const admin = await signAdminToken(viewer);
    const [ann, ben, cal] = (await Promise.all(["ann", "ben", "cal"].map((name) => login(`mirror-presence-${name}`)))) as [TestUser, TestUser, TestUser];
    for (const friend of [ann, ben, cal]) await befriend(viewer, friend);
    const opened = await meter(admin);
    const inbox = await openInbox(viewer);
    const heard = () => framesOf(inbox, "presence").map((f) => [f.user_id, f.online, f.last_seen]);
    // The viewer's own change (their inbox opened) goes through the queue first.
    const before = await eventually(() => meter(admin), { until: (m) => m.messages > opened.messages });

    // Cal went online and then offline before the batch was taken: only the offline is written and heard.
    const batch = [change(ann, true, 10), change(cal, true, 10), change(ben, true, 10), change(cal, false, 11, 5)];
    expect((await deliverMessages(batch)).ackAll).toBe(true);
    const after = await meter(admin);
    expect([after.batches - before.batches, after.messages - before.messages, after.statements - before.statements]).toEqual([1, 4, 1]);
    expect(await presenceOf(viewer, [ann, ben, cal])).toEqual(expected([[ann, true, null], [ben, true, null], [cal, false, at(5)]]));
    await eventually(async () => heard().length, { until: (n) => n === 3 });
    expect(heard().sort()).toEqual([[ann.id, true, null], [ben.id, true, null], [cal.id, false, at(5)]].sort());

    // Delivered again, or an older change after it: D1 keeps what it has and nobody hears anything.
    for (const again of [batch, [change(ann, false, 9, 1)]]) expect((await deliverMessages(again)).ackAll).toBe(true);
    await barrier(inbox);
    expect(heard()).toHaveLength(3);
    expect(await presenceOf(viewer, [ann, ben, cal])).toEqual(expected([[ann, true, null], [ben, true, null], [cal, false, at(5)]]));
  });

  it("while D1 is down a change is retried, not lost, and announced once it is written", async () => {
    const viewer = await login("mirror-presence-down-viewer");
    const friend = await login("mirror-presence-down-friend");
    await befriend(viewer, friend);
    const inbox = await openInbox(viewer);
    const online = [change(friend, true, 20)];
    const refused = await deliverMessages(online, { db: downD1 });
    expect(refused.retryMessages).toHaveLength(1);
    await barrier(inbox);
    expect(framesOf(inbox, "presence")).toEqual([]);
    expect(await presenceOf(viewer, [friend])).toEqual(expected([[friend, false, null]]));
    expect((await deliverMessages(online, { attempts: 2 })).ackAll).toBe(true);
    expect((await inbox.next("presence")).user_id).toBe(friend.id);
    expect(await presenceOf(viewer, [friend])).toEqual(expected([[friend, true, null]]));
  });
});
