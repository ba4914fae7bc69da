import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { callJson, freshDirect, group, history, listMessages, login, patchConversation, sendRest, signAdminToken, type TestUser } from "../helpers/api";
import { expectError } from "../helpers/assertions";
import { runInside, stubOf } from "../helpers/objects";
import { barrier, closeAll, count, open } from "../helpers/sockets";
import { eventually } from "../helpers/wait";

// Replies, edits, soft deletes, reactions, receipts, product messages and moderation (DESIGN.md,
// Messages / Realtime / Guarantees). Every test gets its own direct conversation (a unique
// context), hence a fresh Durable Object with seq starting at 1 and full rate-limit buckets.

let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
/** carol's identity with roles:["admin"]; carol is never a participant of the conversations below. */
let adminToken: string;
let admin: TestUser;

beforeAll(async () => {
  alice = await login("alice");
  bob = await login("bob");
  carol = await login("carol");
  adminToken = await signAdminToken(carol);
  admin = { ...carol, token: adminToken };
});

const fresh = (a: TestUser = alice, b: TestUser = bob) => freshDirect(a, b, "rich");

afterEach(closeAll);

const messagesPath = (id: string) => `/api/v1/conversations/${id}/messages`;
const messagePath = (id: string, messageId: string) => `${messagesPath(id)}/${encodeURIComponent(messageId)}`;
const reactionPath = (id: string, messageId: string, emoji: string) => `${messagePath(id, messageId)}/reactions/${encodeURIComponent(emoji)}`;

const edit = (user: TestUser, id: string, messageId: string, content: unknown) =>
  callJson(messagePath(id, messageId), { method: "PATCH", token: user.token, json: { content } });
const remove = (user: TestUser, id: string, messageId: string) => callJson(messagePath(id, messageId), { method: "DELETE", token: user.token });
const react = (user: TestUser, id: string, messageId: string, emoji: string, add = true) =>
  callJson(reactionPath(id, messageId, emoji), { method: add ? "PUT" : "DELETE", token: user.token });
const receipts = (user: TestUser, id: string, messageId: string) => callJson(`${messagePath(id, messageId)}/receipts`, { token: user.token });

async function sent(user: TestUser, id: string, content: string, extra: Record<string, unknown> = {}): Promise<any> {
  const result = await sendRest(user, id, content, extra);
  expect(result.status, JSON.stringify(result.body)).toBe(201);
  return result.body;
}

const unknownMessage = () => `msg_unknown_${crypto.randomUUID().replace(/-/g, "")}`;

// ───────────────────────────────────────────────────────────────────────────────────────────────

describe("replies", () => {
  it("REST reply_to naming a message of the same conversation is kept", async () => {
    const id = await fresh();
    const original = await sent(alice, id, "original");
    const reply = await sendRest(bob, id, "a reply", { reply_to: original.id });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ seq: 2, sender_id: bob.id, content: "a reply", reply_to: original.id, conversation_id: id });
    const messages = await history(alice, id);
    expect(messages.map((m) => [m.seq, m.reply_to])).toEqual([
      [1, null],
      [2, original.id],
    ]);
  });

  it("socket message.send with reply_to is kept in the ack, message.new and history", async () => {
    const id = await fresh();
    const original = await sent(alice, id, "original");
    const a = await open(id, alice);
    const b = await open(id, bob);
    b.send({ type: "message.send", ref: "r1", client_id: "c-reply-1", content: "socket reply", reply_to: original.id });
    const ack = await b.next("message.ack", (f) => f.ref === "r1");
    expect(ack.client_id).toBe("c-reply-1");
    expect(ack.message).toMatchObject({ seq: 2, sender_id: bob.id, content: "socket reply", reply_to: original.id });
    const seen = await a.next("message.new", (f) => f.message.seq === 2);
    expect(seen.message.reply_to).toBe(original.id);
    expect((await history(alice, id))[1].reply_to).toBe(original.id);
  });

  it("reply_to naming a message of another conversation is refused (400 / error frame) and nothing is appended", async () => {
    const id = await fresh();
    const other = await fresh();
    const foreign = await sent(alice, other, "elsewhere");
    await sent(alice, id, "here");

    const refused = await sendRest(alice, id, "bad reply", { reply_to: foreign.id });
    expectError(refused, 400, "VALIDATION_ERROR", "reply_to");

    const a = await open(id, alice);
    a.send({ type: "message.send", ref: "bad", client_id: "c-bad-reply", content: "bad socket reply", reply_to: foreign.id });
    const error = await a.next("error", (f) => f.ref === "bad");
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.message).toContain("reply_to");
    await barrier(a);
    expect(count(a, "message.ack")).toBe(0);
    expect(count(a, "message.new")).toBe(0);

    const messages = await history(alice, id);
    expect(messages.map((m) => m.content)).toEqual(["here"]);
    // seq stays gapless: the next message is 2.
    expect((await sent(alice, id, "next")).seq).toBe(2);
  });
});

// ───────────────────────────────────────────────────────────────────────────────────────────────

describe("edits", () => {
  it("the sender edits over REST: 200, new content, edited_at set, message.updated on every socket", async () => {
    const id = await fresh();
    const original = await sent(alice, id, "first draft");
    expect(original.edited_at).toBeNull();
    const a = await open(id, alice);
    const b = await open(id, bob);

    const result = await edit(alice, id, original.id, "  final text  ");
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ id: original.id, seq: 1, sender_id: alice.id, content: "final text", deleted_at: null, created_at: original.created_at });
    expect(typeof result.body.edited_at).toBe("string");
    expect(Number.isNaN(Date.parse(result.body.edited_at))).toBe(false);

    for (const socket of [a, b]) {
      const updated = await socket.next("message.updated", (f) => f.message.id === original.id);
      expect(updated.message).toMatchObject({ id: original.id, seq: 1, content: "final text", edited_at: result.body.edited_at });
    }
    const [stored] = await history(bob, id);
    expect(stored).toMatchObject({ id: original.id, content: "final text", edited_at: result.body.edited_at });
  });

  it("editing the latest message updates the conversation list's last_message", async () => {
    const id = await fresh();
    const latest = await sent(alice, id, "draft in the list");
    const listed = async () => {
      const { status, body } = await callJson("/api/v1/conversations?limit=100", { token: bob.token });
      expect(status).toBe(200);
      return body.conversations.find((c: any) => c.id === id);
    };
    await eventually(async () => (await listed())?.last_message?.id === latest.id, { timeoutMs: 2_000, what: "last_message = latest" });
    const edited = await edit(alice, id, latest.id, "edited in the list");
    expect(edited.status).toBe(200);
    const entry = await eventually(
      async () => {
        const e = await listed();
        return e?.last_message?.content === "edited in the list" ? e : undefined;
      },
      { timeoutMs: 2_000, what: "edited last_message" },
    );
    expect(entry.last_message).toMatchObject({ id: latest.id, seq: 1, edited_at: edited.body.edited_at });
  });

  it("socket message.edit works", async () => {
    const id = await fresh();
    const original = await sent(bob, id, "typo");
    const a = await open(id, alice);
    const b = await open(id, bob);
    b.send({ type: "message.edit", ref: "e1", message_id: original.id, content: "fixed" });
    for (const socket of [a, b]) {
      const updated = await socket.next("message.updated", (f) => f.message.id === original.id);
      expect(updated.message.content).toBe("fixed");
      expect(typeof updated.message.edited_at).toBe("string");
    }
    await barrier(b);
    expect(count(b, "error")).toBe(0);
    expect((await history(alice, id))[0].content).toBe("fixed");
  });

  it("someone else editing gets 403 FORBIDDEN (REST and socket) and nothing changes", async () => {
    const id = await fresh();
    const original = await sent(alice, id, "mine");
    expectError(await edit(bob, id, original.id, "hijacked"), 403, "FORBIDDEN");
    const b = await open(id, bob);
    b.send({ type: "message.edit", ref: "e2", message_id: original.id, content: "hijacked again" });
    const error = await b.next("error", (f) => f.ref === "e2");
    expect(error.code).toBe("FORBIDDEN");
    await barrier(b);
    expect(count(b, "message.updated")).toBe(0);
    const [stored] = await history(alice, id);
    expect(stored).toMatchObject({ content: "mine", edited_at: null });
  });

  it("editing a deleted or unknown message is 404 MESSAGE_NOT_FOUND", async () => {
    const id = await fresh();
    const original = await sent(alice, id, "short-lived");
    expect((await remove(alice, id, original.id)).status).toBe(200);
    expectError(await edit(alice, id, original.id, "resurrected"), 404, "MESSAGE_NOT_FOUND");
    expectError(await edit(alice, id, unknownMessage(), "nothing"), 404, "MESSAGE_NOT_FOUND");
    const [stored] = await history(alice, id);
    expect(stored.content).toBeNull();
    expect(stored.edited_at).toBeNull();
  });

  it("empty or whitespace content is 400 naming content", async () => {
    const id = await fresh();
    const original = await sent(alice, id, "keep me");
    expectError(await edit(alice, id, original.id, ""), 400, "VALIDATION_ERROR", "content");
    expectError(await edit(alice, id, original.id, "   "), 400, "VALIDATION_ERROR", "content");
    expectError(await edit(alice, id, original.id, "x".repeat(1001)), 400, "VALIDATION_ERROR", "content");
    const [stored] = await history(alice, id);
    expect(stored).toMatchObject({ content: "keep me", edited_at: null });
  });

  it("editing in a closed conversation is 409 CONVERSATION_CLOSED", async () => {
    const id = await fresh();
    const original = await sent(alice, id, "before closing");
    const closed = await patchConversation(bob, id, { status: "closed" });
    expect(closed.status).toBe(200);
    expect(closed.body.status).toBe("closed");
    expectError(await edit(alice, id, original.id, "after closing"), 409, "CONVERSATION_CLOSED");
    expect((await history(alice, id))[0]).toMatchObject({ content: "before closing", edited_at: null });
  });

  it("a non-participant editing is 403 CHAT_ACCESS_DENIED", async () => {
    const id = await fresh();
    const original = await sent(alice, id, "private");
    expectError(await edit(carol, id, original.id, "intruder"), 403, "CHAT_ACCESS_DENIED");
    expect((await history(alice, id))[0].content).toBe("private");
  });
});

// ───────────────────────────────────────────────────────────────────────────────────────────────

describe("soft deletes", () => {
  it("the sender deletes: 200 with deleted_at, content/data/attachment null; history keeps seq; sockets see it", async () => {
    const id = await fresh();
    await sent(alice, id, "one");
    const target = await sent(alice, id, "look at this product", { type: "product", data: { product_id: "prod-1", title: "Lamp" } });
    await sent(bob, id, "three");
    const a = await open(id, alice);
    const b = await open(id, bob);

    const result = await remove(alice, id, target.id);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ id: target.id, seq: 2, sender_id: alice.id, type: "product", content: null, data: null, attachment: null, reactions: {} });
    expect(typeof result.body.deleted_at).toBe("string");

    for (const socket of [a, b]) {
      const updated = await socket.next("message.updated", (f) => f.message.id === target.id);
      expect(updated.message).toMatchObject({ id: target.id, seq: 2, content: null, data: null, deleted_at: result.body.deleted_at });
    }

    const messages = await history(bob, id);
    expect(messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(messages.map((m) => m.content)).toEqual(["one", null, "three"]);
    expect(messages[1]).toMatchObject({ id: target.id, data: null, attachment: null, deleted_at: result.body.deleted_at });
    // A sender's delete leaves no system note.
    expect(messages.some((m) => m.type === "system")).toBe(false);

    // Deleting again is not an error for the sender, and changes nothing.
    const again = await remove(alice, id, target.id);
    expect(again.status).toBe(200);
    expect(again.body.deleted_at).toBe(result.body.deleted_at);
    expect((await history(bob, id)).length).toBe(3);
  });

  it("deleting the latest message shows in the conversation list's last_message", async () => {
    const id = await fresh();
    await sent(bob, id, "earlier");
    const latest = await sent(alice, id, "secret latest");
    const listed = async () => {
      const { status, body } = await callJson("/api/v1/conversations?limit=100", { token: bob.token });
      expect(status).toBe(200);
      return body.conversations.find((c: any) => c.id === id);
    };
    await eventually(async () => (await listed())?.last_message?.id === latest.id, { timeoutMs: 2_000, what: "last_message = latest" });
    expect((await remove(alice, id, latest.id)).status).toBe(200);
    const entry = await eventually(
      async () => {
        const e = await listed();
        return e?.last_message?.content === null ? e : undefined;
      },
      { timeoutMs: 2_000, what: "last_message content null" },
    );
    expect(entry.last_message).toMatchObject({ id: latest.id, seq: 2, content: null });
    expect(typeof entry.last_message.deleted_at).toBe("string");
    expect(JSON.stringify(entry)).not.toContain("secret latest");
  });

  it("a non-admin participant deleting someone else's message is 403 FORBIDDEN (REST and socket)", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "alice's words");
    expectError(await remove(bob, id, target.id), 403, "FORBIDDEN");
    const b = await open(id, bob);
    b.send({ type: "message.delete", ref: "d1", message_id: target.id });
    const error = await b.next("error", (f) => f.ref === "d1");
    expect(error.code).toBe("FORBIDDEN");
    await barrier(b);
    expect(count(b, "message.updated")).toBe(0);
    const messages = await history(alice, id);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ content: "alice's words", deleted_at: null });
  });

  it("a non-participant (non-admin) deleting is 403 CHAT_ACCESS_DENIED; unknown message is 404", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "stay");
    expectError(await remove(carol, id, target.id), 403, "CHAT_ACCESS_DENIED");
    expectError(await remove(alice, id, unknownMessage()), 404, "MESSAGE_NOT_FOUND");
    expect((await history(alice, id))[0].deleted_at).toBeNull();
  });

  it("an admin (not a participant) deletes someone's message: 200 and a system note naming the action", async () => {
    const id = await fresh();
    const target = await sent(bob, id, "something offensive");
    const a = await open(id, alice);

    const result = await remove(admin, id, target.id);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ id: target.id, seq: 1, sender_id: bob.id, content: null });
    expect(typeof result.body.deleted_at).toBe("string");

    const updated = await a.next("message.updated", (f) => f.message.id === target.id);
    expect(updated.message.content).toBeNull();
    const note = await a.next("message.new", (f) => f.message.type === "system");
    expect(note.message).toMatchObject({ seq: 2, sender_id: null, type: "system" });

    const messages = await history(alice, id);
    expect(messages.map((m) => m.seq)).toEqual([1, 2]);
    const system = messages[1];
    expect(system).toMatchObject({ id: note.message.id, sender_id: null, type: "system", deleted_at: null });
    expect(system.content).toMatch(/removed|deleted/i);
    expect(system.content).toMatch(/moderator/i);
    expect(JSON.stringify(system)).not.toContain("offensive");
  });

  it("socket message.delete works for the sender", async () => {
    const id = await fresh();
    const target = await sent(bob, id, "oops");
    const a = await open(id, alice);
    const b = await open(id, bob);
    b.send({ type: "message.delete", ref: "d2", message_id: target.id });
    for (const socket of [a, b]) {
      const updated = await socket.next("message.updated", (f) => f.message.id === target.id);
      expect(updated.message).toMatchObject({ content: null, seq: 1 });
      expect(typeof updated.message.deleted_at).toBe("string");
    }
    await barrier(b);
    expect(count(b, "error")).toBe(0);
    expect((await history(alice, id))[0].content).toBeNull();
  });

  it("reacting to a deleted message is 404 MESSAGE_NOT_FOUND and its reactions are withheld", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "soon gone");
    expect((await react(bob, id, target.id, "👍")).status).toBe(200);
    expect((await remove(alice, id, target.id)).status).toBe(200);
    expectError(await react(bob, id, target.id, "❤️"), 404, "MESSAGE_NOT_FOUND");
    expectError(await react(bob, id, target.id, "👍", false), 404, "MESSAGE_NOT_FOUND");
    expect((await history(alice, id))[0].reactions).toEqual({});
  });
});

// ───────────────────────────────────────────────────────────────────────────────────────────────

describe("reactions", () => {
  const EMOJIS = ["👍", "❤️", "👍🏽", "👨‍👩‍👧", "🇫🇷", ":thumbsup:"];

  it("PUT adds each kind of emoji (URL-encoded); the answer is the message's reactions", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "react to me");
    const expected: Record<string, string[]> = {};
    for (const emoji of EMOJIS) {
      const result = await react(bob, id, target.id, emoji);
      expect(result.status, `${emoji}: ${JSON.stringify(result.body)}`).toBe(200);
      expected[emoji] = [bob.id];
      expect(result.body).toEqual({ message_id: target.id, reactions: expected });
    }
    const [stored] = await history(alice, id);
    expect(stored.reactions).toEqual(expected);
  });

  it("PUT twice keeps one entry; two users on one emoji are both listed; DELETE removes", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "popular");
    expect((await react(bob, id, target.id, "👍")).body.reactions).toEqual({ "👍": [bob.id] });
    const twice = await react(bob, id, target.id, "👍");
    expect(twice.status).toBe(200);
    expect(twice.body).toEqual({ message_id: target.id, reactions: { "👍": [bob.id] } });

    const both = await react(alice, id, target.id, "👍");
    expect(both.status).toBe(200);
    expect(both.body.reactions["👍"]).toHaveLength(2);
    expect([...both.body.reactions["👍"]].sort()).toEqual([alice.id, bob.id].sort());
    expect((await history(bob, id))[0].reactions["👍"].sort()).toEqual([alice.id, bob.id].sort());

    const removed = await react(bob, id, target.id, "👍", false);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ message_id: target.id, reactions: { "👍": [alice.id] } });
    const last = await react(alice, id, target.id, "👍", false);
    expect(last.status).toBe(200);
    expect(last.body).toEqual({ message_id: target.id, reactions: {} });
    expect((await history(bob, id))[0].reactions).toEqual({});
  });

  it("reaction.updated reaches every socket; socket reaction.add / reaction.remove work", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "socket reactions");
    const a = await open(id, alice);
    const b = await open(id, bob);

    expect((await react(alice, id, target.id, "❤️")).status).toBe(200);
    for (const socket of [a, b]) {
      const frame = await socket.next("reaction.updated", (f) => f.reactions["❤️"]?.length === 1);
      expect(frame).toEqual({ type: "reaction.updated", message_id: target.id, reactions: { "❤️": [alice.id] } });
    }

    b.send({ type: "reaction.add", ref: "ra", message_id: target.id, emoji: "🇫🇷" });
    for (const socket of [a, b]) {
      const frame = await socket.next("reaction.updated", (f) => f.reactions["🇫🇷"] !== undefined);
      expect(frame).toEqual({ type: "reaction.updated", message_id: target.id, reactions: { "❤️": [alice.id], "🇫🇷": [bob.id] } });
    }

    b.send({ type: "reaction.remove", ref: "rr", message_id: target.id, emoji: "🇫🇷" });
    for (const socket of [a, b]) {
      await socket.until((frames) => frames.filter((f) => f.type === "reaction.updated").length === 3, 5_000, "third reaction.updated");
      expect(socket.of("reaction.updated")[2]).toEqual({ type: "reaction.updated", message_id: target.id, reactions: { "❤️": [alice.id] } });
    }
    await barrier(b);
    expect(count(b, "error")).toBe(0);
    expect((await history(alice, id))[0].reactions).toEqual({ "❤️": [alice.id] });
  });

  it("invalid emoji is 400 naming emoji (REST) and an error frame (socket); nothing changes", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "picky");
    for (const bad of ["abc", "👍👍", ":bad name:", "x".repeat(65)]) {
      const result = await react(bob, id, target.id, bad);
      expectError(result, 400, "VALIDATION_ERROR", "emoji");
    }
    const b = await open(id, bob);
    b.send({ type: "reaction.add", ref: "bad-emoji", message_id: target.id, emoji: "abc" });
    const error = await b.next("error", (f) => f.ref === "bad-emoji");
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.message).toContain("emoji");
    await barrier(b);
    expect(count(b, "reaction.updated")).toBe(0);
    expect((await history(alice, id))[0].reactions).toEqual({});
  });

  it("a non-participant reacting is 403 CHAT_ACCESS_DENIED and nothing changes; unknown message is 404", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "members only");
    expect((await react(bob, id, target.id, "👍")).status).toBe(200);
    const a = await open(id, alice);
    expectError(await react(carol, id, target.id, "👍"), 403, "CHAT_ACCESS_DENIED");
    expectError(await react(carol, id, target.id, "👍", false), 403, "CHAT_ACCESS_DENIED");
    // An admin is not a participant either: moderation does not extend to reacting.
    expectError(await react(admin, id, target.id, "👍"), 403, "CHAT_ACCESS_DENIED");
    await barrier(a);
    expect(count(a, "reaction.updated")).toBe(0);
    expect((await history(alice, id))[0].reactions).toEqual({ "👍": [bob.id] });

    expectError(await react(bob, id, unknownMessage(), "👍"), 404, "MESSAGE_NOT_FOUND");
    const b = await open(id, bob);
    b.send({ type: "reaction.add", ref: "unknown", message_id: unknownMessage(), emoji: "👍" });
    expect((await b.next("error", (f) => f.ref === "unknown")).code).toBe("MESSAGE_NOT_FOUND");
  });

  it("reactions in a closed conversation are 409 CONVERSATION_CLOSED (REST PUT/DELETE, socket add/remove) and nothing changes", async () => {
    const id = await fresh();
    const target = await sent(alice, id, "closing soon");
    expect((await react(bob, id, target.id, "👍")).status).toBe(200);
    const a = await open(id, alice);
    const b = await open(id, bob);
    expect((await patchConversation(alice, id, { status: "closed" })).status).toBe(200);

    expectError(await react(alice, id, target.id, "🎉"), 409, "CONVERSATION_CLOSED");
    expectError(await react(bob, id, target.id, "👍", false), 409, "CONVERSATION_CLOSED");
    b.send({ type: "reaction.add", ref: "closed-add", message_id: target.id, emoji: "❤️" });
    expect(await b.next("error", (f) => f.ref === "closed-add")).toMatchObject({ code: "CONVERSATION_CLOSED" });
    b.send({ type: "reaction.remove", ref: "closed-remove", message_id: target.id, emoji: "👍" });
    expect(await b.next("error", (f) => f.ref === "closed-remove")).toMatchObject({ code: "CONVERSATION_CLOSED" });
    await barrier(a);
    await barrier(b);
    expect(count(a, "reaction.updated") + count(b, "reaction.updated")).toBe(0);
    expect(b.closed).toBeNull();
    expect((await history(alice, id))[0].reactions).toEqual({ "👍": [bob.id] });

    // Reopened, reactions are accepted again.
    expect((await patchConversation(alice, id, { status: "active" })).status).toBe(200);
    expect((await react(alice, id, target.id, "🎉")).body.reactions).toEqual({ "👍": [bob.id], "🎉": [alice.id] });
  });
});

// ───────────────────────────────────────────────────────────────────────────────────────────────

describe("receipts", () => {
  function receiptOf(body: any, user: TestUser) {
    return body.receipts.find((r: any) => r.user_id === user.id);
  }

  it("sent → delivered (sync) → read (REST); a message sent while Bob is connected is delivered at once; Bob's own send reads earlier ones", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const m1 = await sent(alice, id, "while bob is away");

    const r1 = await receipts(alice, id, m1.id);
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({ message_id: m1.id, seq: 1, receipts: [{ user_id: bob.id, status: "sent", delivered_at: null, read_at: null }] });

    // Bob connects: connecting alone does not deliver what came before; sync does.
    const b = await open(id, bob);
    expect(b.of("hello")[0]?.last_seq).toBe(1);
    expect(receiptOf((await receipts(alice, id, m1.id)).body, bob).status).toBe("sent");
    b.send({ type: "sync", ref: "s1", after_seq: 0 });
    const done = await b.next("sync.done", (f) => f.ref === "s1");
    expect(done.last_seq).toBe(1);
    expect(b.of("sync.batch").flatMap((f) => f.messages.map((m: any) => m.id))).toEqual([m1.id]);
    const delivered = await a.next("delivered", (f) => f.user_id === bob.id);
    expect(delivered).toEqual({ type: "delivered", user_id: bob.id, up_to_seq: 1 });

    const r2 = receiptOf((await receipts(alice, id, m1.id)).body, bob);
    expect(r2.status).toBe("delivered");
    expect(typeof r2.delivered_at).toBe("string");
    expect(r2.read_at).toBeNull();

    // Bob reads over REST.
    const read = await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: bob.token, json: { up_to_seq: 1 } });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ last_read_seq: 1, unread_count: 0 });
    const readFrame = await a.next("read", (f) => f.user_id === bob.id);
    expect(readFrame).toEqual({ type: "read", user_id: bob.id, up_to_seq: 1 });
    const r3 = receiptOf((await receipts(alice, id, m1.id)).body, bob);
    expect(r3.status).toBe("read");
    expect(typeof r3.read_at).toBe("string");
    expect(r3.delivered_at).toBe(r2.delivered_at);
    expect(r3.delivered_at <= r3.read_at).toBe(true);

    // Sent while Bob's socket is open: delivered at once, and message.new says so.
    const m2 = await sent(alice, id, "while bob is here");
    const fresh2 = await b.next("message.new", (f) => f.message.id === m2.id);
    expect(fresh2.delivered_to).toEqual([bob.id]);
    const ownCopy = await a.next("message.new", (f) => f.message.id === m2.id);
    expect(ownCopy.delivered_to).toEqual([bob.id]);
    const r4 = receiptOf((await receipts(alice, id, m2.id)).body, bob);
    expect(r4).toEqual({ user_id: bob.id, status: "delivered", delivered_at: m2.created_at, read_at: null });

    // Bob answers: everything before his message counts as read for him.
    const m3 = await sent(bob, id, "bob answers");
    const r5 = receiptOf((await receipts(alice, id, m2.id)).body, bob);
    expect(r5).toEqual({ user_id: bob.id, status: "read", delivered_at: m2.created_at, read_at: m3.created_at });
    // Bob's own message is receipted for Alice only, who is connected.
    const r6 = await receipts(bob, id, m3.id);
    expect(r6.body).toEqual({ message_id: m3.id, seq: 3, receipts: [{ user_id: alice.id, status: "delivered", delivered_at: m3.created_at, read_at: null }] });
  });

  it("fetching history delivers; a socket read marks read; the sender's socket sees delivered and read frames", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    const m1 = await sent(alice, id, "one");
    const m2 = await sent(alice, id, "two");
    expect(receiptOf((await receipts(alice, id, m2.id)).body, bob).status).toBe("sent");

    const page = await callJson(`${messagesPath(id)}?limit=50`, { token: bob.token });
    expect(page.status).toBe(200);
    expect(page.body.messages.map((m: any) => m.seq)).toEqual([1, 2]);
    expect(await a.next("delivered", (f) => f.user_id === bob.id)).toEqual({ type: "delivered", user_id: bob.id, up_to_seq: 2 });
    for (const m of [m1, m2]) {
      const r = receiptOf((await receipts(alice, id, m.id)).body, bob);
      expect(r.status).toBe("delivered");
      expect(typeof r.delivered_at).toBe("string");
      expect(r.read_at).toBeNull();
    }

    const b = await open(id, bob);
    b.send({ type: "read", ref: "rd", up_to_seq: 1 });
    for (const socket of [a, b]) {
      expect(await socket.next("read", (f) => f.user_id === bob.id)).toEqual({ type: "read", user_id: bob.id, up_to_seq: 1 });
    }
    expect(receiptOf((await receipts(alice, id, m1.id)).body, bob).status).toBe("read");
    const r2 = receiptOf((await receipts(alice, id, m2.id)).body, bob);
    expect(r2.status).toBe("delivered");
    expect(r2.read_at).toBeNull();
  });

  it("unknown message is 404 MESSAGE_NOT_FOUND; an outsider is 403 CHAT_ACCESS_DENIED", async () => {
    const id = await fresh();
    const m1 = await sent(alice, id, "hello");
    expectError(await receipts(alice, id, unknownMessage()), 404, "MESSAGE_NOT_FOUND");
    expectError(await receipts(carol, id, m1.id), 403, "CHAT_ACCESS_DENIED");
  });

  it("unread counts follow the read horizon", async () => {
    const id = await fresh();
    const m1 = await sent(alice, id, "u1");
    await sent(alice, id, "u2");
    await sent(alice, id, "u3");
    const unreadOf = async (user: TestUser) => {
      const { status, body } = await callJson("/api/v1/unread", { token: user.token });
      expect(status).toBe(200);
      expect(body.unread_count).toBe(body.conversations.reduce((sum: number, c: any) => sum + c.unread_count, 0));
      return body.conversations.find((c: any) => c.id === id)?.unread_count as number | undefined;
    };
    await eventually(async () => (await unreadOf(bob)) === 3, { timeoutMs: 2_000, what: "bob unread 3" });
    expect(await unreadOf(alice)).toBe(0);
    const listedFor = async (user: TestUser) =>
      (await callJson("/api/v1/conversations?limit=100", { token: user.token })).body.conversations.find((c: any) => c.id === id)?.unread_count;
    expect(await listedFor(bob)).toBe(3);

    const read = await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: bob.token, json: { up_to_seq: 1 } });
    expect(read.body).toEqual({ last_read_seq: 1, unread_count: 2 });
    expect(await unreadOf(bob)).toBe(2);
    expect(await listedFor(bob)).toBe(2);
    expect(receiptOf((await receipts(alice, id, m1.id)).body, bob).status).toBe("read");

    // A read cursor never moves back.
    const back = await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: bob.token, json: { up_to_seq: 0 } });
    expect(back.body).toEqual({ last_read_seq: 1, unread_count: 2 });

    const b = await open(id, bob);
    b.send({ type: "read", ref: "all", up_to_seq: 3 });
    await b.next("read", (f) => f.user_id === bob.id && f.up_to_seq === 3);
    await eventually(async () => (await unreadOf(bob)) === 0, { timeoutMs: 2_000, what: "bob unread 0" });

    await sent(bob, id, "bob replies");
    await eventually(async () => (await unreadOf(alice)) === 1, { timeoutMs: 2_000, what: "alice unread 1" });
    expect(await unreadOf(bob)).toBe(0);
  });
});

// ───────────────────────────────────────────────────────────────────────────────────────────────

describe("message types", () => {
  it("a product message with data.product_id is 201 and keeps data", async () => {
    const id = await fresh();
    const data = { product_id: "sku-42", title: "Bike", price: 120.5, tags: ["used"] };
    const result = await sendRest(alice, id, "is this still available?", { type: "product", data });
    expect(result.status).toBe(201);
    expect(result.body).toMatchObject({ seq: 1, type: "product", content: "is this still available?", data });
    expect((await history(bob, id))[0]).toMatchObject({ type: "product", data });
  });

  it("a product message without data.product_id is 400 naming data.product_id", async () => {
    const id = await fresh();
    expectError(await sendRest(alice, id, "product?", { type: "product" }), 400, "VALIDATION_ERROR", "data.product_id");
    expectError(await sendRest(alice, id, "product?", { type: "product", data: { title: "no id" } }), 400, "VALIDATION_ERROR", "data.product_id");
    expectError(await sendRest(alice, id, "product?", { type: "product", data: { product_id: 42 } }), 400, "VALIDATION_ERROR", "data.product_id");
    expect(await history(alice, id)).toEqual([]);
  });

  it("clients cannot send system, offer or offer_response messages (400 naming type)", async () => {
    const id = await fresh();
    for (const type of ["system", "offer", "offer_response"]) {
      expectError(await sendRest(alice, id, "sneaky", { type, data: { offer_id: "x" } }), 400, "VALIDATION_ERROR", "type");
    }
    const a = await open(id, alice);
    a.send({ type: "message.send", ref: "sys", client_id: "c-sys", content: "sneaky", message_type: "system" });
    const error = await a.next("error", (f) => f.ref === "sys");
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.message).toContain("message_type");
    expect(await history(alice, id)).toEqual([]);
  });

  it("image, file and voice without attachment_id are 400 naming attachment_id", async () => {
    const id = await fresh();
    for (const type of ["image", "file", "voice"]) {
      expectError(await sendRest(alice, id, "see attached", { type }), 400, "VALIDATION_ERROR", "attachment_id");
    }
    expect(await history(alice, id)).toEqual([]);
  });
});

// ───────────────────────────────────────────────────────────────────────────────────────────────

describe("moderation", () => {
  it("an admin who is not a participant can read the conversation and its messages", async () => {
    const id = await fresh();
    await sent(alice, id, "hello bob");
    await sent(bob, id, "hello alice");
    const seen = await callJson(`/api/v1/conversations/${id}`, { token: adminToken });
    expect(seen.status).toBe(200);
    expect(seen.body.id).toBe(id);
    expect(seen.body.participants.map((p: any) => p.id).sort()).toEqual([alice.id, bob.id].sort());
    const messages = await history(admin, id);
    expect(messages.map((m) => m.content)).toEqual(["hello bob", "hello alice"]);
    // The same non-admin user is refused.
    expectError(await callJson(`/api/v1/conversations/${id}`, { token: carol.token }), 403, "CHAT_ACCESS_DENIED");
    expectError(await callJson(messagesPath(id), { token: carol.token }), 403, "CHAT_ACCESS_DENIED");
  });

  it("an admin closing leaves a system note (history and sockets); sends are refused; reopening leaves another", async () => {
    const id = await fresh();
    await sent(alice, id, "hi");
    const a = await open(id, alice);
    const b = await open(id, bob);

    const closed = await patchConversation(admin, id, { status: "closed" });
    expect(closed.status).toBe(200);
    expect(closed.body.status).toBe("closed");
    for (const socket of [a, b]) {
      const note = await socket.next("message.new", (f) => f.message.type === "system");
      expect(note.message).toMatchObject({ seq: 2, sender_id: null, type: "system" });
      expect(note.message.content).toMatch(/closed/i);
      expect(note.message.content).toMatch(/moderator/i);
    }
    let messages = await history(alice, id);
    expect(messages.map((m) => [m.seq, m.type, m.sender_id])).toEqual([
      [1, "text", alice.id],
      [2, "system", null],
    ]);
    expect(messages[1].content).toMatch(/closed.*moderator/i);

    expectError(await sendRest(bob, id, "anyone there?"), 409, "CONVERSATION_CLOSED");
    b.send({ type: "message.send", ref: "closed-send", client_id: "c-closed", content: "over the socket" });
    expect((await b.next("error", (f) => f.ref === "closed-send")).code).toBe("CONVERSATION_CLOSED");
    expect((await history(alice, id)).length).toBe(2);

    const reopened = await patchConversation(admin, id, { status: "active" });
    expect(reopened.status).toBe(200);
    expect(reopened.body.status).toBe("active");
    for (const socket of [a, b]) {
      const note = await socket.next("message.new", (f) => f.message.seq === 3);
      expect(note.message).toMatchObject({ sender_id: null, type: "system" });
      expect(note.message.content).toMatch(/reopened/i);
      expect(note.message.content).toMatch(/moderator/i);
    }
    messages = await history(alice, id);
    expect(messages.map((m) => m.type)).toEqual(["text", "system", "system"]);
    expect(messages[2].content).toMatch(/reopened.*moderator/i);

    expect((await sent(bob, id, "back again")).seq).toBe(4);
  });

  it("a participant closing adds no system note; sends are refused until reopened", async () => {
    const id = await fresh();
    await sent(alice, id, "bye");
    const a = await open(id, alice);

    const closed = await patchConversation(bob, id, { status: "closed" });
    expect(closed.status).toBe(200);
    expect(closed.body.status).toBe("closed");
    await barrier(a);
    expect(count(a, "message.new")).toBe(0);
    expect((await history(alice, id)).map((m) => m.type)).toEqual(["text"]);
    expectError(await sendRest(alice, id, "wait"), 409, "CONVERSATION_CLOSED");

    const reopened = await patchConversation(alice, id, { status: "active" });
    expect(reopened.status).toBe(200);
    await barrier(a);
    expect(count(a, "message.new")).toBe(0);
    const next = await sent(alice, id, "open again");
    expect(next.seq).toBe(2);
    expect((await history(alice, id)).map((m) => m.type)).toEqual(["text", "text"]);
  });
});

// ───────────────────────────────────────────────────────────────────────────────────────────────

describe("nesting depth of data and metadata (at most 32 levels, the object itself level 1)", () => {
  /** An object `levels` deep counting itself, nested through arrays: a few bytes per level. */
  function nested(levels: number): Record<string, unknown> {
    let inner: unknown = [];
    for (let level = 2; level < levels; level++) inner = [inner];
    return { a: inner };
  }
  const conversations = "/api/v1/conversations";

  it("REST message data: 32 levels are stored, 33 are 400 naming data and nothing is appended", async () => {
    const id = await fresh();
    expectError(await sendRest(alice, id, "too deep", { data: nested(33) }), 400, "VALIDATION_ERROR", "data");
    // 4,000 levels in under 8 KB: refused for its depth (it once was stored and broke every page holding it).
    const hostile = await sendRest(alice, id, "far too deep", { data: nested(4_000) });
    expectError(hostile, 400, "VALIDATION_ERROR", "data");
    expect(hostile.body.error.message).toMatch(/32 levels/);
    expect(await history(alice, id)).toEqual([]);
    const ok = await sent(alice, id, "deep enough", { data: nested(32) });
    expect(ok.data).toEqual(nested(32));
    expect((await history(bob, id)).map((m) => m.data)).toEqual([nested(32)]);
  });

  it("socket message.send: 33 levels get an error frame naming data, the socket stays open, nothing is appended", async () => {
    const id = await fresh();
    const a = await open(id, alice);
    a.send({ type: "message.send", ref: "deep", client_id: "deep", content: "too deep", data: nested(33) });
    const error = await a.next("error", (f) => f.ref === "deep");
    expect(error).toMatchObject({ code: "VALIDATION_ERROR", message: expect.stringMatching(/^data: .*32 levels/) });
    a.send({ type: "message.send", ref: "hostile", client_id: "hostile", content: "far too deep", data: nested(4_000) });
    expect((await a.next("error", (f) => f.ref === "hostile")).code).toBe("VALIDATION_ERROR");
    a.send({ type: "message.send", ref: "fine", client_id: "fine", content: "deep enough", data: nested(32) });
    expect((await a.next("message.ack", (f) => f.ref === "fine")).message).toMatchObject({ seq: 1, data: nested(32) });
    expect(a.closed).toBeNull();
    expect((await history(alice, id)).map((m) => m.client_id)).toEqual(["fine"]);
  });

  it("conversation metadata: 33 levels are 400 naming metadata on create and on patch; 32 are kept", async () => {
    const createdDeep = await callJson(conversations, { method: "POST", token: alice.token, json: { type: "group", title: "deep", participant_ids: [bob.id], metadata: nested(33) } });
    expectError(createdDeep, 400, "VALIDATION_ERROR", "metadata");
    const id = await group(alice, [bob], { metadata: nested(32) });
    expectError(await patchConversation(alice, id, { metadata: nested(33) }), 400, "VALIDATION_ERROR", "metadata");
    expectError(await patchConversation(alice, id, { metadata: nested(4_000) }), 400, "VALIDATION_ERROR", "metadata");
    expect((await callJson(`${conversations}/${id}`, { token: bob.token })).body.metadata).toEqual(nested(32));
    const patched = await patchConversation(alice, id, { metadata: { shallow: true } });
    expect(patched.body.metadata).toEqual({ shallow: true });
  });

  it("a stored message whose data nests deeper (kept from before the limit) never breaks a page: its data reads as null", async () => {
    const id = await fresh();
    const first = await sent(alice, id, "stored long ago", { data: { fine: true } });
    await sent(bob, id, "a later message", { data: { also: "fine" } });
    const deep = JSON.stringify(nested(4_000));
    await runInside(stubOf(id), (_instance, state) => {
      state.storage.sql.exec("UPDATE messages SET data = ? WHERE seq = 1", deep);
    });

    const page = await listMessages(bob, id);
    expect(page.status, JSON.stringify(page.body).slice(0, 200)).toBe(200);
    expect(page.body.messages.map((m: any) => [m.id, m.data])).toEqual([
      [first.id, null],
      [expect.any(String), { also: "fine" }],
    ]);
    const b = await open(id, bob);
    b.send({ type: "sync", ref: "replay", after_seq: 0 });
    const batch = await b.next("sync.batch", (f) => f.ref === "replay");
    expect(batch.messages.map((m: any) => m.data)).toEqual([null, { also: "fine" }]);
  });
});
