import { afterEach, describe, expect, it } from "vitest";
import { callJson, callWith, freshDirect, group, history, login, sendRest, uniqueContext, type TestUser } from "../helpers/api";
import { expectError, expectFieldError } from "../helpers/assertions";
import { overrideRates } from "../helpers/objects";
import { barrier, closeAll, count, framesOf, open, openInbox, type TestSocket } from "../helpers/sockets";
import { range, sleep } from "../helpers/wait";

// Bounded work (DESIGN.md, Guarantees): everything a client can repeat is limited or O(1).
// Every test makes its own users: a user's message limit holds across all of their conversations.

afterEach(closeAll);

function react(user: TestUser, conversationId: string, messageId: string, emoji: string, method: "PUT" | "DELETE" = "PUT") {
  return callJson(`/api/v1/conversations/${conversationId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`, { method, token: user.token });
}

function edit(user: TestUser, conversationId: string, messageId: string, content: string) {
  return callJson(`/api/v1/conversations/${conversationId}/messages/${messageId}`, { method: "PATCH", token: user.token, json: { content } });
}

function expectRetryAfter(result: { response: Response }): void {
  expect(Number(result.response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
}

describe("reactions", () => {
  it("at most 10 of one person's and 50 distinct emoji on a message; beyond either 400 VALIDATION_ERROR and nothing changes", async () => {
    const people = await Promise.all(range(1, 6).map((i) => login(`react-${i}`)));
    const [author, ...others] = people as [TestUser, ...TestUser[]];
    const id = await group(author, others);
    const message = (await sendRest(author, id, "react to me")).body;
    const watcher = await open(id, author);

    for (const i of range(1, 10)) expect((await react(author, id, message.id, `:a${i}:`)).status).toBe(200);
    expectFieldError(await react(author, id, message.id, ":a11:"), "emoji");
    // Adding one of one's own again changes nothing, so it is not refused.
    expect((await react(author, id, message.id, ":a1:")).status).toBe(200);

    // Four more people bring the message to 50 distinct emoji.
    for (const [k, person] of others.slice(0, 4).entries()) {
      for (const i of range(1, 10)) expect((await react(person, id, message.id, `:p${k}-${i}:`)).status).toBe(200);
    }
    const last = others[4]!;
    expectFieldError(await react(last, id, message.id, ":one-too-many:"), "emoji");
    // An emoji already on the message may still be added.
    const joined = await react(last, id, message.id, ":a1:");
    expect(joined.status).toBe(200);
    expect(joined.body.reactions[":a1:"]).toEqual([author.id, last.id]);

    const [stored] = (await history(author, id)).map((m) => m.reactions);
    expect(Object.keys(stored)).toHaveLength(50);
    expect(stored).not.toHaveProperty(":a11:");
    expect(stored).not.toHaveProperty(":one-too-many:");
    expect(Object.values(stored as Record<string, string[]>).filter((users) => users.includes(author.id))).toHaveLength(10);
    // One reaction.updated per change: 10 + 40 + 1; the refusals and the repeat sent nothing.
    await barrier(watcher);
    expect(count(watcher, "reaction.updated")).toBe(51);

    // Over the socket the same refusal, echoing the ref.
    watcher.send({ type: "reaction.add", ref: "eleventh", message_id: message.id, emoji: ":a12:" });
    expect(await watcher.next("error", (f) => f.ref === "eleventh")).toMatchObject({ code: "VALIDATION_ERROR" });
  });

  it("every reaction added or removed takes a token of the reactions bucket (60 a minute): then 429 with Retry-After, and an error frame with retry_after_ms", async () => {
    const [alice, bob] = await Promise.all([login("react-rate-a"), login("react-rate-b")]);
    const id = await freshDirect(alice, bob, "react-rate");
    const message = (await sendRest(bob, id, "toggle me")).body;
    const socket = await open(id, alice);

    for (const i of range(1, 60)) expect((await react(alice, id, message.id, "👍", i % 2 ? "PUT" : "DELETE")).status).toBe(200);
    const refused = await react(alice, id, message.id, "❤️");
    expectError(refused, 429, "RATE_LIMIT_EXCEEDED");
    expectRetryAfter(refused);
    expectError(await react(alice, id, message.id, "👍", "DELETE"), 429, "RATE_LIMIT_EXCEEDED");

    socket.send({ type: "reaction.add", ref: "61st", message_id: message.id, emoji: "❤️" });
    const error = await socket.next("error", (f) => f.ref === "61st");
    expect(error).toMatchObject({ type: "error", code: "RATE_LIMIT_EXCEEDED" });
    expect(error.retry_after_ms).toBeGreaterThan(0);

    // Nothing was half-written: 30 adds and 30 removes leave nothing; bob's bucket is his own.
    expect((await history(alice, id))[0].reactions).toEqual({});
    expect((await react(bob, id, message.id, "❤️")).body.reactions).toEqual({ "❤️": [bob.id] });
  });
});

describe("edits", () => {
  it("take tokens of the messages bucket, like sends", async () => {
    const [alice, bob] = await Promise.all([login("edit-rate-a"), login("edit-rate-b")]);
    const id = await freshDirect(alice, bob, "edit-rate");
    await overrideRates(id, { messagesPerMin: 3 });
    const message = (await sendRest(alice, id, "v0")).body;
    expect((await edit(alice, id, message.id, "v1")).status).toBe(200);
    expect((await edit(alice, id, message.id, "v2")).status).toBe(200);

    const refused = await edit(alice, id, message.id, "v3");
    expectError(refused, 429, "RATE_LIMIT_EXCEEDED");
    expectRetryAfter(refused);
    const socket = await open(id, alice);
    socket.send({ type: "message.edit", ref: "e4", message_id: message.id, content: "v4" });
    expect(await socket.next("error", (f) => f.ref === "e4")).toMatchObject({ code: "RATE_LIMIT_EXCEEDED", retry_after_ms: expect.any(Number) });
    expect((await sendRest(alice, id, "a send shares the bucket")).status).toBe(429);
    expect((await history(alice, id)).map((m) => m.content)).toEqual(["v2"]);
  });
});

describe("conversation creation", () => {
  it("RATE_CONVERSATIONS_PER_MIN conversations a minute per creator, then 429; getting an existing direct conversation costs nothing", async () => {
    const [maker, other, invitee] = await Promise.all([login("create-rate-maker"), login("create-rate-other"), login("create-rate-invitee")]);
    const inbox = await openInbox(invitee);
    const limits = { RATE_CONVERSATIONS_PER_MIN: "3" };
    const create = (json: Record<string, unknown>) => callWith(limits, "/api/v1/conversations", { method: "POST", token: maker.token, json });
    const directBody = { type: "direct", participant_ids: [other.id], context: uniqueContext("create-rate") };

    const made = [await create(directBody), await create({ type: "group", participant_ids: [invitee.id] }), await create({ type: "group", participant_ids: [invitee.id] })];
    expect(made.map((r) => r.status)).toEqual([201, 201, 201]);
    const refused = await create({ type: "group", participant_ids: [invitee.id] });
    expectError(refused, 429, "RATE_LIMIT_EXCEEDED");
    expectRetryAfter(refused);

    // Create-or-get of the existing direct conversation: answered, at no cost, while over the limit.
    const again = await create(directBody);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(made[0]!.body.id);
    // Someone else's allowance is their own.
    expect((await callWith(limits, "/api/v1/conversations", { method: "POST", token: other.token, json: { type: "group", participant_ids: [invitee.id] } })).status).toBe(201);

    // The invitee heard of the three groups that were made, and of nothing refused.
    await sleep(100);
    await barrier(inbox);
    const groupsOfMaker = framesOf(inbox, "conversation.created", (f) => f.conversation.participants.some((p: { id: string }) => p.id === maker.id));
    expect(groupsOfMaker.map((f) => f.conversation.id).sort()).toEqual([made[1]!.body.id, made[2]!.body.id].sort());
    expect(count(inbox, "conversation.created")).toBe(3);
  });
});

describe("a user's message limit across conversations", () => {
  it("one user flooding 4 conversations is held to about the per-minute limit in total (120 here), not 4×", async () => {
    const [spammer, victim] = await Promise.all([login("flood-spammer"), login("flood-victim")]);
    const ids = await Promise.all(range(1, 4).map((i) => freshDirect(spammer, victim, `flood-${i}`)));
    const sockets = await Promise.all(ids.map((id) => open(id, spammer)));
    const answered = (s: TestSocket) => s.frames.filter((f) => f.type === "message.ack" || f.type === "error").length;
    // Every socket sends its 120 frames at once: each conversation's own bucket would take them all.
    for (const s of sockets) for (const i of range(1, 120)) s.send({ type: "message.send", ref: i, client_id: `flood-${i}`, content: `flood ${i}` });
    await Promise.all(sockets.map((s) => s.until(() => answered(s) >= 120, 15_000, "120 answers")));

    const stored = (await Promise.all(ids.map((id) => history(victim, id)))).reduce((n, log) => n + log.length, 0);
    // Spends reach the user's object after the fact: the overshoot is what was sent while the
    // first reports were on their way (a few per conversation).
    expect(stored).toBeGreaterThanOrEqual(120);
    expect(stored).toBeLessThanOrEqual(150);
    for (const s of sockets) {
      for (const e of s.of("error")) expect(e).toMatchObject({ code: "RATE_LIMIT_EXCEEDED", retry_after_ms: expect.any(Number) });
    }
    // The overshoot is paid back: the user stays throttled in all four, REST too.
    const refused = await sendRest(spammer, ids[0]!, "still too many");
    expectError(refused, 429, "RATE_LIMIT_EXCEEDED");
    expect(Number(refused.response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // The victim's own allowance is untouched.
    expect((await sendRest(victim, ids[0]!, "mine")).status).toBe(201);
  }, 30_000);
});

describe("sync is paced", () => {
  it("a replay yields between turns; syncs repeated while one runs replace it: one replay's worth in ascending order, then one sync.done", async () => {
    const [alice, bob] = await Promise.all([login("paced-a"), login("paced-b")]);
    const id = await freshDirect(alice, bob, "paced-sync");
    await overrideRates(id, { messagesPerMin: 100_000 });
    const sender = await open(id, alice);
    for (const i of range(1, 450)) sender.send({ type: "message.send", client_id: `m${i}`, content: `m${i}` });
    await sender.until((f) => f.filter((x) => x.type === "message.ack").length === 450, 15_000, "450 acks");

    const reader = await open(id, bob);
    for (const i of range(1, 30)) reader.send({ type: "sync", ref: `s${i}`, after_seq: 0 });
    reader.send({ type: "ping", ref: "meanwhile" });
    const done = await reader.next("sync.done", () => true, 10_000);
    await barrier(reader);

    // One sync.done, for the sync that replaced the others; its replay is every message once, in order.
    expect(reader.of("sync.done")).toEqual([{ type: "sync.done", ref: "s30", last_seq: 450 }]);
    const batches = reader.of("sync.batch");
    const replay = batches.filter((f) => f.ref === "s30").flatMap((f) => f.messages as { seq: number }[]);
    expect(replay.map((m) => m.seq)).toEqual(range(1, 450));
    for (const b of batches) expect(b.messages.length).toBeLessThanOrEqual(100);
    // Not thirty replays (150 batches): the replaced ones got at most the turns they had.
    expect(batches.length).toBeLessThan(15);
    // The ping sent after the syncs was answered before the replay ended: other work runs between turns.
    const pong = reader.frames.findIndex((f) => f.type === "pong" && f.ref === "meanwhile");
    expect(pong).toBeGreaterThanOrEqual(0);
    expect(pong).toBeLessThan(reader.frames.indexOf(done));
  }, 30_000);
});
