import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { befriend, call, callJson, callWith, fetchWith, freshDirect, group, history, login, sendRest, signAdminToken, uniqueContext, type TestUser } from "../helpers/api";
import { expectError } from "../helpers/assertions";
import { barrier, closeAll, framesOf, open, openInbox, TestSocket, track } from "../helpers/sockets";
import { eventually, sleep } from "../helpers/wait";

// Friends, blocks, DM_POLICY, the inbox socket, presence and per-IP limits. Every test makes its
// own people (D1 is shared by the file), so presence and inbox frames of one test never reach
// another's sockets.

const requestFriend = (from: TestUser, to: string) => callJson("/api/v1/friends/requests", { method: "POST", token: from.token, json: { user_id: to } });
const respond = (user: TestUser, requestId: string, action: "accept" | "decline") =>
  callJson(`/api/v1/friends/requests/${requestId}/${action}`, { method: "POST", token: user.token });
const friendsOf = async (user: TestUser) => {
  const { status, body } = await callJson("/api/v1/friends", { token: user.token });
  expect(status).toBe(200);
  return body.friends as any[];
};
const requestsOf = async (user: TestUser) => {
  const { status, body } = await callJson("/api/v1/friends/requests", { token: user.token });
  expect(status).toBe(200);
  return body as { incoming: any[]; outgoing: any[] };
};
afterEach(closeAll);

let ipCounter = 0;
const uniqueIp = () => `198.51.${Math.floor(Math.random() * 200) + 1}.${(++ipCounter % 250) + 1}`;

// ─────────────────────────────────────────────────────────────────────────────

describe("friend requests", () => {
  it("send, list, accept: both are friends with presence; inbox sockets hear of it", async () => {
    const alice = await login("fr-alice", "Alice Friend");
    const bob = await login("fr-bob", "Bob Friend");
    const carol = await login("fr-carol", "Carol Third");
    const bobInbox = await openInbox(bob);

    const sent = await requestFriend(alice, bob.id);
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ from_user_id: alice.id, to_user_id: bob.id, status: "pending" });
    expect(sent.body.from_user).toMatchObject({ id: alice.id, name: "Alice Friend" });
    expect(sent.body.to_user).toMatchObject({ id: bob.id });
    const requestId = sent.body.id as string;

    const pushed = await bobInbox.next("friend.request");
    expect(pushed.request).toMatchObject({ id: requestId, from_user_id: alice.id, to_user_id: bob.id, status: "pending" });

    const bobs = await requestsOf(bob);
    expect(bobs.incoming.map((r) => r.id)).toEqual([requestId]);
    expect(bobs.outgoing).toEqual([]);
    const alices = await requestsOf(alice);
    expect(alices.outgoing.map((r) => [r.id, r.to_user_id, r.status])).toEqual([[requestId, bob.id, "pending"]]);
    expect(alices.incoming).toEqual([]);

    // Asking again while pending.
    expectError(await requestFriend(alice, bob.id), 400, "VALIDATION_ERROR", ["user_id"]);

    // Only the person asked may accept: the requester gets FORBIDDEN, a third user NOT_FOUND.
    expectError(await respond(alice, requestId, "accept"), 403, "FORBIDDEN");
    expectError(await respond(carol, requestId, "accept"), 404, "NOT_FOUND");
    expectError(await respond(carol, requestId, "decline"), 404, "NOT_FOUND");
    expect(await friendsOf(alice)).toEqual([]);
    expect(await friendsOf(bob)).toEqual([]);
    expect((await requestsOf(bob)).incoming.map((r) => [r.id, r.status])).toEqual([[requestId, "pending"]]);

    const aliceInbox = await openInbox(alice);
    const accepted = await respond(bob, requestId, "accept");
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ id: requestId, from_user_id: alice.id, to_user_id: bob.id, status: "accepted" });
    const told = await aliceInbox.next("friend.request", (f) => f.request.status === "accepted");
    expect(told.request).toMatchObject({ id: requestId, from_user_id: alice.id, to_user_id: bob.id, status: "accepted" });

    // Both inboxes are open, so both are online.
    const aliceFriends = await friendsOf(alice);
    expect(aliceFriends).toHaveLength(1);
    expect(aliceFriends[0]).toMatchObject({ id: bob.id, name: "Bob Friend", online: true });
    expect(aliceFriends[0]).toHaveProperty("last_seen");
    expect(typeof aliceFriends[0].friends_since).toBe("string");
    const bobFriends = await friendsOf(bob);
    expect(bobFriends.map((f) => [f.id, f.online])).toEqual([[alice.id, true]]);
    expect(bobFriends[0]).toHaveProperty("last_seen");

    // No pending requests remain; accepting again is refused.
    expect(await requestsOf(bob)).toEqual({ incoming: [], outgoing: [] });
    expect(await requestsOf(alice)).toEqual({ incoming: [], outgoing: [] });
    expectError(await requestFriend(alice, bob.id), 400, "VALIDATION_ERROR", ["user_id"]);
    expect((await friendsOf(alice)).map((f) => f.id)).toEqual([bob.id]);
  });

  it("accepting an already accepted request is a 400 that changes nothing", async () => {
    const ken = await login("fr-ken");
    const lia = await login("fr-lia");
    const sent = await requestFriend(ken, lia.id);
    expect(sent.status).toBe(201);
    expect((await respond(lia, sent.body.id, "accept")).status).toBe(200);
    expectError(await respond(lia, sent.body.id, "accept"), 400, "VALIDATION_ERROR", ["id"]);
    expectError(await respond(lia, sent.body.id, "decline"), 400, "VALIDATION_ERROR", ["id"]);
    expect((await friendsOf(ken)).map((f) => f.id)).toEqual([lia.id]);
    expect((await friendsOf(lia)).map((f) => f.id)).toEqual([ken.id]);
  });

  it("decline leaves them strangers; remove ends a friendship; errors for self and unknown users", async () => {
    const dan = await login("fr-dan");
    const eve = await login("fr-eve");

    const sent = await requestFriend(dan, eve.id);
    expect(sent.status).toBe(201);
    expectError(await respond(dan, sent.body.id, "decline"), 403, "FORBIDDEN");
    const declined = await respond(eve, sent.body.id, "decline");
    expect(declined.status).toBe(200);
    expect(declined.body).toMatchObject({ id: sent.body.id, from_user_id: dan.id, to_user_id: eve.id, status: "declined" });
    expect(await friendsOf(dan)).toEqual([]);
    expect(await friendsOf(eve)).toEqual([]);
    expect(await requestsOf(eve)).toEqual({ incoming: [], outgoing: [] });
    expectError(await respond(eve, sent.body.id, "decline"), 400, "VALIDATION_ERROR");
    expectError(await respond(eve, sent.body.id, "accept"), 400, "VALIDATION_ERROR");
    expect(await friendsOf(eve)).toEqual([]);

    // After a decline a new request may be made, and accepted.
    const again = await requestFriend(dan, eve.id);
    expect(again.status).toBe(201);
    expect(again.body.status).toBe("pending");
    expect((await respond(eve, again.body.id, "accept")).status).toBe(200);
    expect((await friendsOf(dan)).map((f) => f.id)).toEqual([eve.id]);

    const removed = await call(`/api/v1/friends/${eve.id}`, { method: "DELETE", token: dan.token });
    expect(removed.status).toBe(204);
    expect(await removed.text()).toBe("");
    expect(await friendsOf(dan)).toEqual([]);
    expect(await friendsOf(eve)).toEqual([]);
    expectError(await callJson(`/api/v1/friends/${eve.id}`, { method: "DELETE", token: dan.token }), 404, "NOT_FOUND");
    expectError(await callJson(`/api/v1/friends/${dan.id}`, { method: "DELETE", token: eve.token }), 404, "NOT_FOUND");

    expectError(await requestFriend(dan, dan.id), 400, "VALIDATION_ERROR", ["user_id"]);
    expectError(await requestFriend(dan, "usr_doesnotexist000000000000"), 404, "USER_NOT_FOUND");
    expectError(await callJson("/api/v1/friends/requests", { method: "POST", token: dan.token, json: {} }), 400, "VALIDATION_ERROR", ["user_id"]);
    expectError(await respond(dan, "frq_doesnotexist0000000000", "accept"), 404, "NOT_FOUND");
    expect(await requestsOf(dan)).toEqual({ incoming: [], outgoing: [] });
  });

  it("a mutual request is accepted at once", async () => {
    const fay = await login("fr-fay");
    const gus = await login("fr-gus");
    const fayInbox = await openInbox(fay);
    const first = await requestFriend(fay, gus.id);
    expect(first.status).toBe(201);
    const mutual = await requestFriend(gus, fay.id);
    expect(mutual.status).toBe(200);
    expect(mutual.body).toMatchObject({ id: first.body.id, from_user_id: fay.id, to_user_id: gus.id, status: "accepted" });
    await fayInbox.next("friend.request", (f) => f.request.status === "accepted");
    expect((await friendsOf(fay)).map((f) => f.id)).toEqual([gus.id]);
    expect((await friendsOf(gus)).map((f) => f.id)).toEqual([fay.id]);
    expect(await requestsOf(fay)).toEqual({ incoming: [], outgoing: [] });
    expect(await requestsOf(gus)).toEqual({ incoming: [], outgoing: [] });
  });

  it("GET /friends/online lists only friends with an open socket", async () => {
    const hal = await login("fr-hal");
    const ivy = await login("fr-ivy");
    const jon = await login("fr-jon");
    const stranger = await login("fr-stranger");
    await befriend(hal, ivy);
    await befriend(jon, hal);
    const onlineOf = async () => {
      const { status, body } = await callJson("/api/v1/friends/online", { token: hal.token });
      expect(status).toBe(200);
      return body.online_friends as string[];
    };
    expect(await onlineOf()).toEqual([]);

    const ivyInbox = await openInbox(ivy);
    await openInbox(stranger); // online, but not a friend
    expect(await onlineOf()).toEqual([ivy.id]);
    const all = await friendsOf(hal);
    expect(Object.fromEntries(all.map((f) => [f.id, f.online]))).toEqual({ [ivy.id]: true, [jon.id]: false });

    ivyInbox.close();
    await eventually(async () => (await onlineOf()).length === 0, { timeoutMs: 4_000, what: "ivy offline" });
    const after = (await friendsOf(hal)).find((f) => f.id === ivy.id);
    expect(after.online).toBe(false);
    expect(typeof after.last_seen).toBe("string");
  });
});

describe("blocks", () => {
  it("a blocked user cannot start, message or offer by any path; the blocker still can; unblock restores", async () => {
    const ann = await login("bl-ann", "Ann Blocked");
    const ben = await login("bl-ben", "Ben Blocker");
    const id = await freshDirect(ann, ben, "block");
    const annSocket = await open(id, ann);

    const blocked = await callJson("/api/v1/blocks", { method: "POST", token: ben.token, json: { user_id: ann.id } });
    expect(blocked.status).toBe(201);
    expect(blocked.body).toEqual({ user_id: ann.id, blocked: true });

    // Starting a conversation: a new one, or getting the existing one.
    expectError(
      await callJson("/api/v1/conversations", { method: "POST", token: ann.token, json: { type: "direct", participant_ids: [ben.id], context: uniqueContext("block-new") } }),
      403,
      "BLOCKED",
    );
    expectError(await callJson("/api/v1/conversations", { method: "POST", token: ann.token, json: { type: "direct", participant_ids: [ben.id] } }), 403, "BLOCKED");

    // Messaging: REST, socket, offers.
    expectError(await sendRest(ann, id, "let me in"), 403, "BLOCKED");
    annSocket.send({ type: "message.send", ref: "blocked-send", client_id: "blocked-send", content: "over the socket" });
    const refused = await annSocket.next("error", (f) => f.ref === "blocked-send");
    expect(refused).toMatchObject({ type: "error", ref: "blocked-send", code: "BLOCKED" });
    expect(annSocket.closed).toBeNull();
    expectError(await callJson(`/api/v1/conversations/${id}/offers`, { method: "POST", token: ann.token, json: { amount: 10 } }), 403, "BLOCKED");
    expect(await history(ben, id)).toEqual([]);
    expect(annSocket.of("message.new")).toHaveLength(0);

    // The blocker can still write, and the blocked user still reads.
    const fromBen = await sendRest(ben, id, "I can still talk");
    expect(fromBen.status).toBe(201);
    expect(fromBen.body.seq).toBe(1);
    expect((await annSocket.next("message.new")).message).toMatchObject({ seq: 1, sender_id: ben.id });

    // No friend requests, no finding the blocker.
    expectError(await requestFriend(ann, ben.id), 403, "BLOCKED");
    expect((await requestsOf(ben)).incoming).toEqual([]);
    const annSearch = await callJson(`/api/v1/users/search?q=${encodeURIComponent(ben.email)}`, { token: ann.token });
    expect(annSearch.status).toBe(200);
    expect(annSearch.body.users).toEqual([]);
    const benSearch = await callJson(`/api/v1/users/search?q=${encodeURIComponent(ann.email)}`, { token: ben.token });
    expect(benSearch.body.users.map((u: any) => u.id)).toEqual([ann.id]);

    // Unblock: everything works again.
    const unblocked = await call(`/api/v1/blocks/${ann.id}`, { method: "DELETE", token: ben.token });
    expect(unblocked.status).toBe(204);
    const restored = await sendRest(ann, id, "thanks");
    expect(restored.status).toBe(201);
    expect(restored.body).toMatchObject({ seq: 2, sender_id: ann.id });
    annSocket.send({ type: "message.send", ref: "after-unblock", client_id: "after-unblock", content: "and over the socket" });
    expect((await annSocket.next("message.ack", (f) => f.ref === "after-unblock")).message.seq).toBe(3);
    expect((await history(ben, id)).map((m) => [m.seq, m.sender_id])).toEqual([
      [1, ben.id],
      [2, ann.id],
      [3, ann.id],
    ]);
    const annSearchAgain = await callJson(`/api/v1/users/search?q=${encodeURIComponent(ben.email)}`, { token: ann.token });
    expect(annSearchAgain.body.users.map((u: any) => u.id)).toEqual([ben.id]);

    expectError(await callJson(`/api/v1/blocks/${ann.id}`, { method: "DELETE", token: ben.token }), 404, "NOT_FOUND");
    expectError(await callJson("/api/v1/blocks", { method: "POST", token: ben.token, json: { user_id: ben.id } }), 400, "VALIDATION_ERROR", ["user_id"]);
    expectError(await callJson("/api/v1/blocks", { method: "POST", token: ben.token, json: { user_id: "usr_nobody0000000000000000" } }), 404, "USER_NOT_FOUND");
  });
});

describe("DM_POLICY=friends", () => {
  const friendsOnly = { DM_POLICY: "friends" };

  it("direct conversations need friendship both to start and to send; groups are unaffected", async () => {
    const kim = await login("dm-kim");
    const lou = await login("dm-lou");
    const max = await login("dm-max");
    const existing = await freshDirect(kim, lou, "policy-existing"); // made under the open policy

    expectError(
      await callWith(friendsOnly, "/api/v1/conversations", { method: "POST", token: kim.token, json: { type: "direct", participant_ids: [lou.id], context: uniqueContext("policy-new") } }),
      403,
      "NOT_FRIENDS",
    );

    // Groups do not care about friendship.
    const created = await callWith(friendsOnly, "/api/v1/conversations", { method: "POST", token: kim.token, json: { type: "group", title: "g", participant_ids: [lou.id, max.id] } });
    expect(created.status).toBe(201);
    const inGroup = await callWith(friendsOnly, `/api/v1/conversations/${created.body.id}/messages`, { method: "POST", token: lou.token, json: { content: "group ok" } });
    expect(inGroup.status).toBe(201);
    expect(inGroup.body).toMatchObject({ seq: 1, sender_id: lou.id });

    // Become friends (under the same policy): both paths open.
    const asked = await callWith(friendsOnly, "/api/v1/friends/requests", { method: "POST", token: kim.token, json: { user_id: lou.id } });
    expect(asked.status).toBe(201);
    const accepted = await callWith(friendsOnly, `/api/v1/friends/requests/${asked.body.id}/accept`, { method: "POST", token: lou.token });
    expect(accepted.status).toBe(200);

    const fresh = await callWith(friendsOnly, "/api/v1/conversations", { method: "POST", token: kim.token, json: { type: "direct", participant_ids: [lou.id], context: uniqueContext("policy-after") } });
    expect(fresh.status).toBe(201);
    const sendNew = await callWith(friendsOnly, `/api/v1/conversations/${fresh.body.id}/messages`, { method: "POST", token: lou.token, json: { content: "now we can" } });
    expect(sendNew.status).toBe(201);
    const sendOld = await callWith(friendsOnly, `/api/v1/conversations/${existing}/messages`, { method: "POST", token: kim.token, json: { content: "and here" } });
    expect(sendOld.status).toBe(201);
    expect(sendOld.body).toMatchObject({ seq: 1, sender_id: kim.id });

    // Ending the friendship closes every direct conversation of the pair to sends, both ways.
    expect((await callWith(friendsOnly, `/api/v1/friends/${lou.id}`, { method: "DELETE", token: kim.token })).status).toBeLessThan(300);
    for (const conversation of [fresh.body.id, existing]) {
      for (const sender of [kim, lou]) {
        expectError(await callWith(friendsOnly, `/api/v1/conversations/${conversation}/messages`, { method: "POST", token: sender.token, json: { content: "hi" } }), 403, "NOT_FRIENDS");
      }
    }
    expect((await history(kim, fresh.body.id)).map((m) => m.content)).toEqual(["now we can"]);

    // Still strangers: max and kim.
    expectError(
      await callWith(friendsOnly, "/api/v1/conversations", { method: "POST", token: max.token, json: { type: "direct", participant_ids: [kim.id] } }),
      403,
      "NOT_FRIENDS",
    );
  });
});

describe("inbox socket", () => {
  it("notifications and unread totals across conversations; watching suppresses the notification; reading clears", async () => {
    const uma = await login("in-uma");
    const sam = await login("in-sam");
    const x = await freshDirect(sam, uma, "inbox-x");
    const y = await freshDirect(sam, uma, "inbox-y");
    const inbox = await openInbox(uma);
    expect(inbox.of("hello")[0]).toEqual({ type: "hello", user_id: uma.id, unread_count: 0, conversations: [] });

    const unreadFor = (conversationId: string, count: number) =>
      inbox.next("unread", (f) => f.conversation_id === conversationId && f.unread_count === count);

    const m1 = await sendRest(sam, x, "x one");
    expect(m1.status).toBe(201);
    const n1 = await inbox.next("notification.message", (f) => f.message.id === m1.body.id);
    expect(n1).toMatchObject({ conversation_id: x, message: { seq: 1, sender_id: sam.id, content: "x one" } });
    expect(await unreadFor(x, 1)).toEqual({ type: "unread", conversation_id: x, unread_count: 1, total: 1 });

    const m2 = await sendRest(sam, y, "y one");
    await inbox.next("notification.message", (f) => f.message.id === m2.body.id);
    expect(await unreadFor(y, 1)).toEqual({ type: "unread", conversation_id: y, unread_count: 1, total: 2 });

    const m3 = await sendRest(sam, x, "x two");
    await inbox.next("notification.message", (f) => f.message.id === m3.body.id);
    expect(await unreadFor(x, 2)).toEqual({ type: "unread", conversation_id: x, unread_count: 2, total: 3 });

    // Watching x: the inbox gets neither a notification nor an unread update for x (the
    // message is seen live; reading it updates the inbox).
    const watching = await open(x, uma);
    const m4 = await sendRest(sam, x, "x three, seen live");
    expect(m4.status).toBe(201);
    await watching.next("message.new", (f) => f.message.id === m4.body.id);

    // y is not watched: still notified.
    const m5 = await sendRest(sam, y, "y two");
    await inbox.next("notification.message", (f) => f.message.id === m5.body.id);
    expect(await unreadFor(y, 2)).toEqual({ type: "unread", conversation_id: y, unread_count: 2, total: 4 });
    await barrier(inbox);
    expect(framesOf(inbox, "notification.message", (f) => f.conversation_id === x).map((f) => f.message.seq)).toEqual([1, 2]);
    expect(framesOf(inbox, "unread", (f) => f.conversation_id === x).map((f) => f.unread_count)).toEqual([1, 2]);

    // Read x on another device (a conversation socket's read frame).
    watching.send({ type: "read", up_to_seq: 3 });
    expect(await unreadFor(x, 0)).toEqual({ type: "unread", conversation_id: x, unread_count: 0, total: 2 });

    // And y over REST.
    const read = await callJson(`/api/v1/conversations/${y}/read`, { method: "POST", token: uma.token, json: {} });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ last_read_seq: 2, unread_count: 0 });
    expect(await unreadFor(y, 0)).toEqual({ type: "unread", conversation_id: y, unread_count: 0, total: 0 });

    // A second inbox socket's hello carries the current total.
    const second = await openInbox(uma);
    expect(second.of("hello")[0]).toEqual({ type: "hello", user_id: uma.id, unread_count: 0, conversations: [] });
    expect(inbox.of("error")).toEqual([]);
  });

  it("hello carries the unread total seeded from the conversations", async () => {
    const val = await login("in-val");
    const wes = await login("in-wes");
    const a = await freshDirect(wes, val, "hello-a");
    const b = await freshDirect(wes, val, "hello-b");
    for (const [id, text] of [[a, "a1"], [a, "a2"], [b, "b1"]] as const) expect((await sendRest(wes, id, text)).status).toBe(201);
    await eventually(async () => {
      const { body } = await callJson("/api/v1/unread", { token: val.token });
      return body.unread_count === 3;
    }, { timeoutMs: 4_000, what: "D1 summaries" });

    const inbox = await openInbox(val);
    const hello = inbox.of("hello")[0]!;
    expect(hello).toMatchObject({ type: "hello", user_id: val.id, unread_count: 3 });
    expect(Object.fromEntries(hello.conversations.map((c: any) => [c.id, c.unread_count]))).toEqual({ [a]: 2, [b]: 1 });
  });

  it("conversation.created reaches the other participants' inboxes", async () => {
    const xia = await login("in-xia");
    const yan = await login("in-yan");
    const zed = await login("in-zed");
    const inbox = await openInbox(xia);
    const zedInbox = await openInbox(zed);

    const created = await callJson("/api/v1/conversations", { method: "POST", token: yan.token, json: { type: "direct", participant_ids: [xia.id], context: uniqueContext("created") } });
    expect(created.status).toBe(201);
    const frame = await inbox.next("conversation.created", (f) => f.conversation.id === created.body.id);
    expect(frame.conversation).toMatchObject({ id: created.body.id, type: "direct" });
    expect(frame.conversation.participants.map((p: any) => p.id).sort()).toEqual([xia.id, yan.id].sort());

    const groupId = await group(yan, [xia, zed]);
    await inbox.next("conversation.created", (f) => f.conversation.id === groupId);
    await zedInbox.next("conversation.created", (f) => f.conversation.id === groupId);
    await barrier(zedInbox);
    expect(framesOf(zedInbox, "conversation.created").map((f) => f.conversation.id)).toEqual([groupId]);

    // Getting the existing direct conversation again is not news.
    const again = await callJson("/api/v1/conversations", { method: "POST", token: yan.token, json: { type: "direct", participant_ids: [xia.id], context: created.body.context } });
    expect(again.status).toBe(200);
    await sleep(100);
    await barrier(inbox);
    expect(framesOf(inbox, "conversation.created").map((f) => f.conversation.id)).toEqual([created.body.id, groupId]);
  });

  it("the inbox socket survives hibernation of the user object", async () => {
    const ola = await login("in-ola");
    const pat = await login("in-pat");
    const id = await freshDirect(pat, ola, "hibernate");
    const inbox = await openInbox(ola);
    const first = await sendRest(pat, id, "before");
    await inbox.next("notification.message", (f) => f.message.id === first.body.id);

    await evictDurableObject(env.USERS.get(env.USERS.idFromName(ola.id)) as unknown as DurableObjectStub);
    expect(inbox.closed).toBeNull();

    const second = await sendRest(pat, id, "after hibernation");
    expect(second.status).toBe(201);
    const notified = await inbox.next("notification.message", (f) => f.message.id === second.body.id);
    expect(notified).toMatchObject({ conversation_id: id, message: { seq: 2, content: "after hibernation" } });
    expect(await inbox.next("unread", (f) => f.unread_count === 2)).toEqual({ type: "unread", conversation_id: id, unread_count: 2, total: 2 });
    inbox.send({ type: "ping", ref: "awake" });
    expect(await inbox.next("pong", (f) => f.ref === "awake")).toEqual({ type: "pong", ref: "awake" });
  });

  it("bad frames get an error and the socket stays open; pings are answered", async () => {
    const quin = await login("in-quin");
    const inbox = await openInbox(quin);

    inbox.send("this is not json");
    await inbox.until((f) => f.filter((x) => x.type === "error").length >= 1, 5_000, "first error");
    inbox.send({ type: "message.send", ref: 7, content: "not here" });
    const second = await inbox.next("error", (f) => f.ref === 7);
    expect(second).toMatchObject({ type: "error", ref: 7, code: "VALIDATION_ERROR" });
    inbox.send([1, 2, 3]);
    await inbox.until((f) => f.filter((x) => x.type === "error").length >= 3, 5_000, "third error");
    for (const error of inbox.of("error")) expect(error.code).toBe("VALIDATION_ERROR");
    expect(inbox.closed).toBeNull();

    inbox.send({ type: "ping", ref: 1 });
    expect(await inbox.next("pong", (f) => f.ref === 1)).toEqual({ type: "pong", ref: 1 });
    inbox.send({ type: "ping" });
    await inbox.until((f) => f.some((x) => x.type === "pong" && x.ref === undefined), 5_000, "plain pong");
    expect(inbox.of("pong").find((f) => f.ref === undefined)).toEqual({ type: "pong" });
    expect(inbox.closed).toBeNull();

    // Over 64 KiB: error, then 1009.
    inbox.send({ type: "ping", pad: "x".repeat(70 * 1024) });
    const closed = await inbox.waitClosed();
    expect(closed.code).toBe(1009);
    expect(inbox.of("error").some((f) => f.code === "PAYLOAD_TOO_LARGE")).toBe(true);
  });

  it("the 64 KiB frame limit counts UTF-8 bytes: '€' frames under it in characters but over it in bytes get PAYLOAD_TOO_LARGE, then 1009", async () => {
    const rae = await login("in-rae");
    const inbox = await openInbox(rae);
    const euros = (n: number, ref: string) => JSON.stringify({ type: "ping", ref, pad: "€".repeat(n) });
    const bytes = (frame: string) => new TextEncoder().encode(frame).byteLength;

    // Just under the limit in bytes: read, and refused only for its unknown field.
    const under = euros(21_800, "under");
    expect(bytes(under)).toBeLessThanOrEqual(64 * 1024);
    inbox.send(under);
    expect(await inbox.next("error", (f) => f.ref === "under")).toMatchObject({ code: "VALIDATION_ERROR", details: [{ field: "pad" }] });

    const over = euros(30_000, "over");
    expect(over.length).toBeLessThan(64 * 1024);
    expect(bytes(over)).toBeGreaterThan(64 * 1024);
    inbox.send(over);
    expect(await inbox.next("error", (f) => f.code === "PAYLOAD_TOO_LARGE")).toEqual({ type: "error", code: "PAYLOAD_TOO_LARGE", message: expect.any(String) });
    expect((await inbox.waitClosed()).code).toBe(1009);
    expect(inbox.of("error").map((f) => f.code)).toEqual(["VALIDATION_ERROR", "PAYLOAD_TOO_LARGE"]);
  });
});

describe("presence", () => {
  it("a burst of first sockets reaches D1 in a few batches through the mirror queue, not a request each, and every contact hears of each", async () => {
    const watcher = await login("pr-burst-watcher");
    const admin = await signAdminToken(watcher);
    const comers = await Promise.all(Array.from({ length: 12 }, (_, i) => login(`pr-burst-${i}`)));
    const id = await group(watcher, comers);
    const inbox = await openInbox(watcher);
    const mirror = async () => (await callJson("/api/v1/admin/mirror", { token: admin })).body as { batches: number; messages: number };
    const before = await mirror();
    await Promise.all(comers.map((comer) => open(id, comer)));
    await eventually(async () => framesOf(inbox, "presence", (f) => f.online === true).length, { until: (n) => n === comers.length, what: "every comer announced" });
    const online = await callJson(`/api/v1/presence?user_ids=${comers.map((c) => c.id).join(",")}`, { token: watcher.token });
    expect(online.body.users.map((u: any) => u.online)).toEqual(comers.map(() => true));
    const after = await mirror();
    expect(after.messages - before.messages).toBeGreaterThanOrEqual(comers.length);
    expect(after.batches - before.batches).toBeLessThanOrEqual(comers.length / 3);
  });

  it("online while any socket is open; co-participants and friends hear of it, strangers do not", async () => {
    const pia = await login("pr-pia"); // the one going on and offline
    const rex = await login("pr-rex"); // shares a conversation with pia
    const fin = await login("pr-fin"); // pia's friend
    const stu = await login("pr-stu"); // a stranger
    const id = await freshDirect(rex, pia, "presence");
    await befriend(pia, fin);
    const presenceQuery = (viewer: TestUser, ids: string[]) => callJson(`/api/v1/presence?user_ids=${ids.join(",")}`, { token: viewer.token });

    const rexInbox = await openInbox(rex);
    const finInbox = await openInbox(fin);
    const stuInbox = await openInbox(stu);
    const offlineAtStart = await presenceQuery(rex, [pia.id]);
    expect(offlineAtStart.status).toBe(200);
    expect(offlineAtStart.body.users).toEqual([{ id: pia.id, online: false, last_seen: null }]);

    // A conversation socket makes pia online.
    const piaSocket = await open(id, pia);
    const on = await rexInbox.next("presence", (f) => f.user_id === pia.id);
    expect(on).toEqual({ type: "presence", user_id: pia.id, online: true, last_seen: null });
    expect(await finInbox.next("presence", (f) => f.user_id === pia.id)).toEqual({ type: "presence", user_id: pia.id, online: true, last_seen: null });
    const onNow = await presenceQuery(rex, [pia.id, stu.id]);
    expect(onNow.body.users).toEqual([{ id: pia.id, online: true, last_seen: null }]);
    const listed = await callJson("/api/v1/conversations", { token: rex.token });
    const entry = listed.body.conversations.find((c: any) => c.id === id);
    expect(Object.fromEntries(entry.participants.map((p: any) => [p.id, p.online]))).toEqual({ [pia.id]: true, [rex.id]: true });

    // A stranger learns nothing.
    const strangerView = await presenceQuery(stu, [pia.id, rex.id]);
    expect(strangerView.status).toBe(200);
    expect(strangerView.body.users).toEqual([]);

    // An inbox as well, then the conversation socket closes: still online, no new frames.
    const piaInbox = await openInbox(pia);
    piaSocket.close();
    await piaSocket.waitClosed();
    await sleep(200);
    await barrier(rexInbox);
    expect(framesOf(rexInbox, "presence", (f) => f.user_id === pia.id)).toHaveLength(1);
    expect((await presenceQuery(rex, [pia.id])).body.users[0].online).toBe(true);

    // The last socket closes: offline with last_seen.
    const before = Date.now();
    piaInbox.close();
    const off = await rexInbox.next("presence", (f) => f.user_id === pia.id && f.online === false);
    expect(off).toEqual({ type: "presence", user_id: pia.id, online: false, last_seen: expect.any(String) });
    expect(new Date(off.last_seen).toISOString()).toBe(off.last_seen);
    expect(Date.parse(off.last_seen)).toBeGreaterThanOrEqual(before - 1_000);
    await finInbox.next("presence", (f) => f.user_id === pia.id && f.online === false);
    const offNow = await eventually(async () => {
      const { body } = await presenceQuery(rex, [pia.id]);
      return body.users[0]?.online === false ? body.users[0] : undefined;
    }, { timeoutMs: 4_000, what: "presence offline in D1" });
    expect(offNow).toEqual({ id: pia.id, online: false, last_seen: off.last_seen });
    const friendView = await presenceQuery(fin, [pia.id]);
    expect(friendView.body.users).toEqual([{ id: pia.id, online: false, last_seen: off.last_seen }]);

    await barrier(stuInbox);
    expect(framesOf(stuInbox, "presence", (f) => f.user_id === pia.id)).toEqual([]);
    expect(framesOf(rexInbox, "presence", (f) => f.user_id === pia.id).map((f) => f.online)).toEqual([true, false]);
  });

  it("reconnects within PRESENCE_GRACE_MS (300 ms here) do not flicker; going offline is announced once, after it", async () => {
    const pia = await login("pr-flicker-pia");
    const rex = await login("pr-flicker-rex");
    const id = await freshDirect(rex, pia, "presence-flicker");
    const rexInbox = await openInbox(rex);
    const rexSocket = await open(id, rex);
    const piaFrames = (socket: TestSocket) => framesOf(socket, "presence", (f) => f.user_id === pia.id).map((f) => f.online);

    let piaSocket = await open(id, pia);
    await rexInbox.next("presence", (f) => f.user_id === pia.id && f.online === true);
    await rexSocket.next("presence", (f) => f.user_id === pia.id && f.online === true);
    for (let i = 0; i < 5; i++) {
      piaSocket.close();
      await piaSocket.waitClosed();
      piaSocket = await open(id, pia);
    }
    piaSocket.close();
    await rexSocket.next("presence", (f) => f.user_id === pia.id && f.online === false);
    await rexInbox.next("presence", (f) => f.user_id === pia.id && f.online === false);
    await barrier(rexSocket);
    await barrier(rexInbox);
    expect(piaFrames(rexSocket)).toEqual([true, false]);
    expect(piaFrames(rexInbox)).toEqual([true, false]);
  });

  it("the user object's socket counts and grace timer outlive its eviction: offline is announced once, after the last socket of two conversations", async () => {
    const pia = await login("pr-evict-pia");
    const rex = await login("pr-evict-rex");
    const first = await freshDirect(rex, pia, "presence-evict-1");
    const second = await group(rex, [pia]);
    const rexInbox = await openInbox(rex);
    const userObject = env.USERS.get(env.USERS.idFromName(pia.id)) as unknown as DurableObjectStub;
    const piaFrames = () => framesOf(rexInbox, "presence", (f) => f.user_id === pia.id).map((f) => f.online);

    const inFirst = await open(first, pia);
    const inSecond = await open(second, pia);
    await rexInbox.next("presence", (f) => f.user_id === pia.id && f.online === true);
    await evictDurableObject(userObject);
    // One of two closes after the eviction: still online (the other conversation's count was kept).
    inFirst.close();
    await inFirst.waitClosed();
    await sleep(500); // past the 300 ms grace
    await barrier(rexInbox);
    expect(piaFrames()).toEqual([true]);
    // The last closes, the object is evicted within the grace: its timer still announces offline.
    inSecond.close();
    await inSecond.waitClosed();
    await sleep(50);
    await evictDurableObject(userObject);
    await rexInbox.next("presence", (f) => f.user_id === pia.id && f.online === false);
    await barrier(rexInbox);
    expect(piaFrames()).toEqual([true, false]);
  });

  it("socket-count reports that arrive out of order cannot leave someone online (the newer stamp wins)", async () => {
    const ada = await login("pr-order-ada");
    const conversationId = `cnv_order_${Date.now()}`;
    const inboxOfAda = env.USERS.get(env.USERS.idFromName(ada.id));
    // Opened (stamp 10), then closed (stamp 20); the close report arrives first.
    await inboxOfAda.conversationSockets(ada.id, conversationId, 0, 20);
    await inboxOfAda.conversationSockets(ada.id, conversationId, 1, 10);
    expect(await runInDurableObject(inboxOfAda, (_instance, state) => state.storage.sql.exec("SELECT count FROM conversation_socket_counts").one().count)).toBe(0);
  });

  it("user_ids, when given, names 1 to 100 ids", async () => {
    const viewer = await login("pr-viewer");
    expectError(await callJson("/api/v1/presence?user_ids=", { token: viewer.token }), 400, "VALIDATION_ERROR", ["user_ids"]);
    expectError(await callJson("/api/v1/presence?user_ids=,,", { token: viewer.token }), 400, "VALIDATION_ERROR", ["user_ids"]);
    expectError(await callJson("/api/v1/presence?user_ids=a"), 401, "AUTHENTICATION_REQUIRED");
  });
});

describe("per-IP limits", () => {
  const loginBody = (label: string) => ({ email: `${label}-${crypto.randomUUID()}@example.com`, name: label });

  it("logins over the limit get 429 with Retry-After; another address is unaffected", async () => {
    const ip = uniqueIp();
    const limits = { RATE_LOGINS_PER_MIN_PER_IP: "3" };
    for (let i = 0; i < 3; i++) {
      const ok = await callWith(limits, "/api/v1/auth/login", { method: "POST", json: loginBody(`ip-login-${i}`), ip });
      expect(ok.status).toBe(200);
      expect(typeof ok.body.access_token).toBe("string");
    }
    const refused = await callWith(limits, "/api/v1/auth/login", { method: "POST", json: loginBody("ip-login-over"), ip });
    expectError(refused, 429, "RATE_LIMIT_EXCEEDED");
    const retryAfter = Number(refused.response.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    const other = await callWith(limits, "/api/v1/auth/login", { method: "POST", json: loginBody("ip-login-other"), ip: uniqueIp() });
    expect(other.status).toBe(200);
    // Still refused at the first address.
    expectError(await callWith(limits, "/api/v1/auth/login", { method: "POST", json: loginBody("ip-login-again"), ip }), 429, "RATE_LIMIT_EXCEEDED");
  });

  it("ws-ticket issuance over the connect limit gets 429", async () => {
    const user = await login("ip-ticket");
    const ip = uniqueIp();
    const limits = { RATE_CONNECTS_PER_MIN_PER_IP: "2" };
    for (let i = 0; i < 2; i++) {
      const ok = await callWith(limits, "/api/v1/auth/ws-ticket", { method: "POST", token: user.token, ip });
      expect(ok.status).toBe(200);
      expect(typeof ok.body.ticket).toBe("string");
    }
    const refused = await callWith(limits, "/api/v1/auth/ws-ticket", { method: "POST", token: user.token, ip });
    expectError(refused, 429, "RATE_LIMIT_EXCEEDED");
    expect(Number(refused.response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await callWith(limits, "/api/v1/auth/ws-ticket", { method: "POST", token: user.token, ip: uniqueIp() })).status).toBe(200);
  });

  it("a limit high enough that the Worker leases tokens (120 a minute: two per ask) still allows exactly that many", async () => {
    const user = await login("ip-lease");
    const ip = uniqueIp();
    const limits = { RATE_CONNECTS_PER_MIN_PER_IP: "120" };
    const statuses: number[] = [];
    const started = Date.now();
    // In rounds of 10 at once: concurrent requests share the isolate's lease.
    for (let round = 0; round < 13; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => callWith(limits, "/api/v1/auth/ws-ticket", { method: "POST", token: user.token, ip })));
      statuses.push(...answers.map((a) => a.status));
    }
    // The bucket refills 2 tokens a second while the rounds run.
    const refilled = Math.ceil(((Date.now() - started) * 120) / 60_000);
    const allowed = statuses.filter((s) => s === 200).length;
    expect(allowed).toBeGreaterThanOrEqual(120);
    expect(allowed).toBeLessThanOrEqual(120 + refilled);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
  });

  it("conversation and inbox socket connects over the limit get 429", async () => {
    const ana = await login("ip-ana");
    const bo = await login("ip-bo");
    const id = await freshDirect(ana, bo, "ip-connect");
    const ip = uniqueIp();
    const limits = { RATE_CONNECTS_PER_MIN_PER_IP: "2" };
    const socketAt = (path: string, address: string) =>
      fetchWith(limits, `${path}?token=${encodeURIComponent(ana.token)}`, { headers: { upgrade: "websocket" }, ip: address });
    const accept = (response: Response) => {
      expect(response.status).toBe(101);
      response.webSocket!.accept();
      return track(new TestSocket(response.webSocket!));
    };

    const conv = accept(await socketAt(`/api/v1/conversations/${id}/ws`, ip));
    await conv.next("hello");
    const inbox = accept(await socketAt("/api/v1/ws", ip));
    await inbox.next("hello");

    const refusedConv = await socketAt(`/api/v1/conversations/${id}/ws`, ip);
    expect(refusedConv.status).toBe(429);
    expect(refusedConv.webSocket).toBeNull();
    expect(Number(refusedConv.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await refusedConv.json()).toEqual({ error: { code: "RATE_LIMIT_EXCEEDED", message: expect.any(String), details: [] } });
    const refusedInbox = await socketAt("/api/v1/ws", ip);
    expect(refusedInbox.status).toBe(429);
    expect(((await refusedInbox.json()) as any).error.code).toBe("RATE_LIMIT_EXCEEDED");

    // Another address connects fine.
    const elsewhere = accept(await socketAt("/api/v1/ws", uniqueIp()));
    await elsewhere.next("hello");
  });
});
