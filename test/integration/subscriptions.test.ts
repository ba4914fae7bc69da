// One socket per client (DESIGN.md, Realtime: "One socket per client"; issue 11): the inbox socket
// subscribes to conversations, gets their frames with conversation_id added, sends their
// commands, and what reaches it counts as delivered. Real upgrades through the Worker.
import { evictDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { addParticipant, callJson, freshDirect, group, login, removeParticipant, sendRest, signAdminToken, type TestUser } from "../helpers/api";
import { stubOf, userStubOf } from "../helpers/objects";
import { barrier, closeAll, framesOf, open, openInbox, type TestSocket } from "../helpers/sockets";
import { range } from "../helpers/wait";

afterEach(closeAll);

let refs = 0;
/** Sends a frame with a fresh ref and waits for the reply of `type` echoing it. */
async function ask(socket: TestSocket, frame: Record<string, unknown>, type: string) {
  const ref = `r${++refs}`;
  socket.send({ ...frame, ref });
  return socket.next(type === "error" ? "error" : type, (f) => f.ref === ref || (f.type === "error" && f.ref === ref));
}

const subscribe = (socket: TestSocket, conversationId: string, extra: Record<string, unknown> = {}) =>
  ask(socket, { type: "subscribe", conversation_id: conversationId, ...extra }, "subscribed");

async function pair(label: string): Promise<[TestUser, TestUser, string]> {
  const [a, b] = [await login(`${label}-a`), await login(`${label}-b`)];
  return [a, b, await freshDirect(a, b, label)];
}

describe("subscribe", () => {
  it("gets the conversation's frames with conversation_id, instead of notifications, delivered like a socket", async () => {
    const [ana, ben, id] = await pair("sub");
    const inbox = await openInbox(ben);
    const subscribed = await subscribe(inbox, id);
    expect(subscribed).toMatchObject({ conversation_id: id, last_seq: 0, participant_count: 2, typing: [] });
    expect(subscribed.participants.map((p: any) => p.id).sort()).toEqual([ana.id, ben.id].sort());

    const sent = await sendRest(ana, id, "hello one socket");
    const relayed = await inbox.next("message.new");
    expect(relayed).toMatchObject({ conversation_id: id, message: { id: sent.body.id }, delivered_to: [ben.id] });
    const receipts = await callJson(`/api/v1/conversations/${id}/messages/${sent.body.id}/receipts`, { token: ana.token });
    expect(receipts.body.receipts).toEqual([expect.objectContaining({ user_id: ben.id, status: "delivered" })]);
    await barrier(inbox);
    expect(framesOf(inbox, "notification.message")).toEqual([]);
  });

  it("a burst arrives complete and in order, and costs the subscriber's object no notification round", async () => {
    const [ana, ben, id] = await pair("burst");
    const inbox = await openInbox(ben);
    await subscribe(inbox, id);
    const admin = { token: await signAdminToken(ana) };
    const inboxCalls = async () => (await callJson(`/api/v1/conversations/${id}/stats`, { token: admin.token })).body.inbox_calls as number;
    const before = await inboxCalls();
    const sender = await open(id, ana);
    for (const n of range(1, 30)) sender.send({ type: "message.send", client_id: `b${n}`, content: `burst ${n}` });
    await inbox.until((frames) => frames.filter((f) => f.type === "message.new").length === 30, 5_000, "30 message.new");
    expect(framesOf(inbox, "message.new").map((f) => f.message.seq)).toEqual(range(1, 30));
    expect(await inboxCalls()).toBe(before);
  });

  it("carries 20 conversations on one socket", async () => {
    const [ana, ben] = [await login("many-a"), await login("many-b")];
    const ids = await Promise.all(range(1, 20).map((n) => freshDirect(ana, ben, `many-${n}`)));
    const inbox = await openInbox(ben);
    for (const id of ids) await subscribe(inbox, id);
    await Promise.all(ids.map((id, n) => sendRest(ana, id, `message ${n}`)));
    await inbox.until((frames) => frames.filter((f) => f.type === "message.new").length === 20, 5_000, "20 message.new");
    const byConversation = new Map(framesOf(inbox, "message.new").map((f) => [f.conversation_id, f.message.content]));
    expect([...byConversation.keys()].sort()).toEqual([...ids].sort());
    ids.forEach((id, n) => expect(byConversation.get(id)).toBe(`message ${n}`));
  });

  it("replays with after_seq and loses nothing", async () => {
    const [ana, ben, id] = await pair("replay");
    for (const n of range(1, 5)) await sendRest(ana, id, `m${n}`);
    const inbox = await openInbox(ben);
    await subscribe(inbox, id, { after_seq: 2 });
    const done = await inbox.next("sync.done", (f) => f.conversation_id === id);
    expect(done.last_seq).toBe(5);
    const replayed = framesOf(inbox, "sync.batch").flatMap((f) => f.messages.map((m: any) => m.seq));
    expect(replayed).toEqual([3, 4, 5]);
  });

  it("is refused to someone who is not a participant", async () => {
    const [, , id] = await pair("outsider");
    const stranger = await login("stranger");
    const inbox = await openInbox(stranger);
    const refused = await ask(inbox, { type: "subscribe", conversation_id: id }, "error");
    expect(refused).toMatchObject({ type: "error", code: "CHAT_ACCESS_DENIED", conversation_id: id });
  });
});

describe("commands on the inbox socket", () => {
  it("sends, types and reads with the same replies and rules", async () => {
    const [ana, ben, id] = await pair("cmd");
    const inbox = await openInbox(ana);
    await subscribe(inbox, id);
    const watcher = await open(id, ben);

    const ack = await ask(inbox, { type: "message.send", conversation_id: id, client_id: "c-1", content: "from the inbox" }, "message.ack");
    expect(ack).toMatchObject({ conversation_id: id, client_id: "c-1", message: { content: "from the inbox", sender_id: ana.id } });
    expect((await watcher.next("message.new")).message.id).toBe(ack.message.id);
    // A retry is the same message.
    const again = await ask(inbox, { type: "message.send", conversation_id: id, client_id: "c-1", content: "from the inbox" }, "message.ack");
    expect(again.message.id).toBe(ack.message.id);

    inbox.send({ type: "typing.start", conversation_id: id });
    expect(await watcher.next("typing")).toMatchObject({ user_id: ana.id, is_typing: true });
    watcher.send({ type: "read", up_to_seq: 1 });
    expect(await inbox.next("read", (f) => f.user_id === ben.id)).toMatchObject({ conversation_id: id, up_to_seq: 1 });

    const missing = await ask(inbox, { type: "message.edit", conversation_id: id, message_id: "msg_nope", content: "x" }, "error");
    expect(missing).toMatchObject({ code: "MESSAGE_NOT_FOUND", conversation_id: id });
    const invalid = await ask(inbox, { type: "message.send", content: "no conversation" }, "error");
    expect(invalid.code).toBe("VALIDATION_ERROR");
  });

  it("refuses commands for conversations of others", async () => {
    const [, , id] = await pair("cmd-outsider");
    const inbox = await openInbox(await login("intruder"));
    const refused = await ask(inbox, { type: "message.send", conversation_id: id, client_id: "x", content: "let me in" }, "error");
    expect(refused.code).toBe("CHAT_ACCESS_DENIED");
  });
});

describe("the end of a subscription", () => {
  it("removal ends it at once; nothing more arrives", async () => {
    const [owner, member] = [await login("owner"), await login("member")];
    const id = await group(owner, [member]);
    const inbox = await openInbox(member);
    await subscribe(inbox, id);
    expect((await removeParticipant(owner, id, member.id)).status).toBe(204);
    expect(await inbox.next("unsubscribed")).toMatchObject({ conversation_id: id, reason: "removed" });
    await sendRest(owner, id, "after removal");
    await barrier(inbox);
    expect(framesOf(inbox, "message.new")).toEqual([]);
    // Adding them back does not resubscribe them.
    await addParticipant(owner, id, member.id);
    await sendRest(owner, id, "after re-adding");
    await barrier(inbox);
    expect(framesOf(inbox, "message.new")).toEqual([]);
  });

  it("unsubscribe turns messages back into notifications", async () => {
    const [ana, ben, id] = await pair("unsub");
    const inbox = await openInbox(ben);
    await subscribe(inbox, id);
    expect(await ask(inbox, { type: "unsubscribe", conversation_id: id }, "unsubscribed")).toMatchObject({ conversation_id: id });
    const sent = await sendRest(ana, id, "now a notification");
    expect((await inbox.next("notification.message")).message.id).toBe(sent.body.id);
    expect(framesOf(inbox, "message.new")).toEqual([]);
  });

  it("survives eviction of both objects", async () => {
    const [ana, ben, id] = await pair("evict");
    const inbox = await openInbox(ben);
    await subscribe(inbox, id);
    await evictDurableObject(stubOf(id));
    await evictDurableObject(userStubOf(ben.id));
    const sent = await sendRest(ana, id, "after eviction");
    expect((await inbox.next("message.new")).message.id).toBe(sent.body.id);
  });
});

describe("delivery through an inbox", () => {
  it("a notification that reaches an open inbox counts as delivered", async () => {
    const [ana, ben, id] = await pair("notified");
    const inbox = await openInbox(ben);
    const sent = await sendRest(ana, id, "to the inbox");
    await inbox.next("notification.message", (f) => f.message.id === sent.body.id);
    const receipts = await callJson(`/api/v1/conversations/${id}/messages/${sent.body.id}/receipts`, { token: ana.token });
    expect(receipts.body.receipts).toEqual([expect.objectContaining({ user_id: ben.id, status: "delivered" })]);
  });
});
