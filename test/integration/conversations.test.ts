import { describe, expect, it } from "vitest";
import { call, callJson, direct, group, listMessages, login, patchConversation, sendRest, type TestUser } from "../helpers/api";
import { expectError } from "../helpers/assertions";
import { connect, upgrade } from "../helpers/sockets";
import { eventually, sleep } from "../helpers/wait";

// ── helpers local to this file ──

function createConversation(user: TestUser, json: unknown) {
  return callJson("/api/v1/conversations", { method: "POST", token: user.token, json });
}

function getConversation(user: TestUser, id: string) {
  return callJson(`/api/v1/conversations/${id}`, { token: user.token });
}

function listConversations(user: TestUser, query = "") {
  return callJson(`/api/v1/conversations${query}`, { token: user.token });
}

function markRead(user: TestUser, id: string, json?: unknown) {
  return callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: user.token, ...(json !== undefined && { json }) });
}

function unread(user: TestUser) {
  return callJson("/api/v1/unread", { token: user.token });
}

function unreadOf(body: any, id: string): number | undefined {
  return body.conversations.find((c: { id: string }) => c.id === id)?.unread_count;
}

async function sendMany(user: TestUser, id: string, n: number, prefix = "m"): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const res = await sendRest(user, id, `${prefix}${i}`);
    expect(res.status).toBe(201);
  }
}

// ── create-or-get ──

describe("POST /api/v1/conversations", () => {
  it("direct is create-or-get for the same pair, from either side, by id or email", async () => {
    const alice = await login("alice", "Alice");
    const bob = await login("bob", "Bob");

    const first = await createConversation(alice, { type: "direct", participant_ids: [bob.id] });
    expect(first.status).toBe(201);
    const id = first.body.id;
    expect(typeof id).toBe("string");
    expect(first.body.type).toBe("direct");
    expect(first.body.status).toBe("active");
    expect(first.body.context).toBeNull();
    expect(first.body.last_message).toBeNull();
    expect(first.body.unread_count).toBe(0);
    expect(first.body.participants.map((p: any) => p.id).sort()).toEqual([alice.id, bob.id].sort());
    expect(first.body.participants.find((p: any) => p.id === bob.id)).toMatchObject({ name: "Bob", role: "member" });

    const again = await createConversation(alice, { type: "direct", participant_ids: [bob.id] });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(id);

    const fromBob = await createConversation(bob, { type: "direct", participant_ids: [alice.id] });
    expect(fromBob.status).toBe(200);
    expect(fromBob.body.id).toBe(id);

    const byEmail = await createConversation(alice, { type: "direct", participant_emails: [bob.email] });
    expect(byEmail.status).toBe(200);
    expect(byEmail.body.id).toBe(id);

    const byUpperEmail = await createConversation(bob, { type: "direct", participant_emails: [alice.email.toUpperCase()] });
    expect(byUpperEmail.status).toBe(200);
    expect(byUpperEmail.body.id).toBe(id);
  });

  it("the same pair with different contexts gets distinct conversations, each create-or-get", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const contexts = [
      { type: "product", id: "p1", title: "Bike", price: 120, currency: "EUR" },
      { type: "product", id: "p2" },
      { type: "booking", id: "p1" },
      undefined,
    ];
    const ids: string[] = [];
    for (const context of contexts) {
      const res = await createConversation(alice, { type: "direct", participant_ids: [bob.id], ...(context && { context }) });
      expect(res.status).toBe(201);
      expect(res.body.context).toEqual(context ?? null);
      ids.push(res.body.id);
    }
    expect(new Set(ids).size).toBe(4);
    for (const [i, context] of contexts.entries()) {
      const res = await createConversation(bob, { type: "direct", participant_ids: [alice.id], ...(context && { context }) });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(ids[i]);
    }
    const got = await getConversation(bob, ids[0]!);
    expect(got.status).toBe(200);
    expect(got.body.context).toEqual(contexts[0]);
  });

  it("group conversations are always new", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const body = { type: "group", participant_ids: [bob.id, carol.id], title: "Team" };
    const a = await createConversation(alice, body);
    const b = await createConversation(alice, body);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(a.body.id).not.toBe(b.body.id);
    expect(a.body.type).toBe("group");
    expect(a.body.title).toBe("Team");
    expect(a.body.created_by).toBe(alice.id);
    expect(a.body.participants.map((p: any) => p.id).sort()).toEqual([alice.id, bob.id, carol.id].sort());
  });

  it("stores and returns the roles map", async () => {
    const buyer = await login("buyer");
    const seller = await login("seller");
    const res = await createConversation(buyer, {
      type: "direct",
      participant_ids: [seller.id],
      context: { type: "product", id: "roles-1" },
      roles: { [buyer.id]: "buyer", [seller.id]: "seller" },
    });
    expect(res.status).toBe(201);
    const roleOf = (body: any, id: string) => body.participants.find((p: any) => p.id === id)?.role;
    expect(roleOf(res.body, buyer.id)).toBe("buyer");
    expect(roleOf(res.body, seller.id)).toBe("seller");
    const got = await getConversation(seller, res.body.id);
    expect(roleOf(got.body, buyer.id)).toBe("buyer");
    expect(roleOf(got.body, seller.id)).toBe("seller");
  });

  it("unknown participants are 404 USER_NOT_FOUND", async () => {
    const alice = await login("alice");
    expectError(await createConversation(alice, { type: "direct", participant_ids: ["usr_doesnotexist"] }), 404, "USER_NOT_FOUND");
    expectError(
      await createConversation(alice, { type: "direct", participant_emails: ["nobody-at-all-xyz@example.com"] }),
      404,
      "USER_NOT_FOUND",
    );
    expectError(
      await createConversation(alice, { type: "group", participant_ids: ["usr_doesnotexist"] }),
      404,
      "USER_NOT_FOUND",
    );
  });

  it("a direct conversation needs exactly one other participant", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    expectError(await createConversation(alice, { type: "direct", participant_ids: [alice.id] }), 400, "VALIDATION_ERROR", "participant_ids");
    expectError(
      await createConversation(alice, { type: "direct", participant_ids: [bob.id, carol.id] }),
      400,
      "VALIDATION_ERROR",
      "participant_ids",
    );
    expectError(await createConversation(alice, { type: "direct", participant_ids: [] }), 400, "VALIDATION_ERROR", "participant_ids");
  });

  it("rejects a bad type and roles for non-participants", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    expectError(await createConversation(alice, { type: "channel", participant_ids: [bob.id] }), 400, "VALIDATION_ERROR", "type");
    expectError(
      await createConversation(alice, { type: "direct", participant_ids: [bob.id], roles: { [carol.id]: "seller" } }),
      400,
      "VALIDATION_ERROR",
      /^roles/,
    );
    // Nothing was created by the refused calls.
    const list = await listConversations(alice);
    expect(list.body.conversations).toEqual([]);
  });
});

// ── list ──

describe("GET /api/v1/conversations", () => {
  it("lists newest activity first; a new message moves a conversation to the top", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const dave = await login("dave");
    const c1 = await direct(alice, bob);
    await sleep(5);
    const c2 = await direct(alice, carol);
    await sleep(5);
    const c3 = await direct(alice, dave);

    const before = await listConversations(alice);
    expect(before.status).toBe(200);
    expect(before.body.conversations.map((c: any) => c.id)).toEqual([c3, c2, c1]);
    expect(before.body.next_cursor).toBeNull();
    expect(before.body.conversations[2].last_message).toBeNull();
    expect(before.body.conversations[2].last_message_at).toBeNull();

    await sleep(5);
    const sent = await sendRest(bob, c1, "bump");
    expect(sent.status).toBe(201);
    const after = await eventually(() => listConversations(alice), {
      until: (r) => r.body.conversations[0]?.id === c1,
    });
    expect(after.body.conversations.map((c: any) => c.id)).toEqual([c1, c3, c2]);
    const top = after.body.conversations[0];
    expect(top.last_message).toMatchObject({ content: "bump", seq: 1, sender_id: bob.id, id: sent.body.id });
    expect(top.last_message_at).toBe(sent.body.created_at);
    expect(top.last_seq).toBe(1);
  });

  it("pages with a cursor: every conversation exactly once, next_cursor null at the end", async () => {
    const alice = await login("alice");
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const other = await login(`peer${i}`);
      created.push(await direct(alice, other));
    }
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const res: { status: number; body: any } = await listConversations(alice, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(res.status).toBe(200);
      pageSizes.push(res.body.conversations.length);
      seen.push(...res.body.conversations.map((c: any) => c.id));
      cursor = res.body.next_cursor;
      if (!cursor) break;
    }
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(cursor).toBeNull();
    expect(seen.length).toBe(5);
    expect([...seen].sort()).toEqual([...created].sort());
  });

  it("rejects an invalid cursor and limit", async () => {
    const alice = await login("alice");
    expectError(await listConversations(alice, "?cursor=not-a-cursor!!"), 400, "VALIDATION_ERROR", "cursor");
    expectError(await listConversations(alice, `?cursor=${btoa(JSON.stringify({ a: 1 }))}`), 400, "VALIDATION_ERROR", "cursor");
    expectError(await listConversations(alice, "?limit=0"), 400, "VALIDATION_ERROR", "limit");
  });

  it("filters by status, context_type and context_id", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const p1 = await direct(alice, bob, { type: "product", id: "f-p1" });
    const p2 = await direct(alice, bob, { type: "product", id: "f-p2" });
    const b1 = await direct(alice, bob, { type: "booking", id: "f-p1" });
    const plain = await direct(alice, bob);
    expect((await patchConversation(alice, p2, { status: "closed" })).status).toBe(200);

    const ids = (r: { body: any }) => r.body.conversations.map((c: any) => c.id).sort();
    expect(ids(await listConversations(alice, "?status=closed"))).toEqual([p2]);
    expect(ids(await listConversations(alice, "?status=active"))).toEqual([p1, b1, plain].sort());
    expect(ids(await listConversations(alice, "?context_type=product"))).toEqual([p1, p2].sort());
    expect(ids(await listConversations(alice, "?context_id=f-p1"))).toEqual([p1, b1].sort());
    expect(ids(await listConversations(alice, "?context_type=booking&context_id=f-p1"))).toEqual([b1]);
    expect(ids(await listConversations(alice, "?context_type=product&status=active"))).toEqual([p1]);
    expect(ids(await listConversations(alice, "?context_type=nothing"))).toEqual([]);
    expectError(await listConversations(alice, "?status=archived"), 400, "VALIDATION_ERROR", "status");
  });

  it("unread_count is per viewer: 0 for the sender, N for the recipient", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    await sendMany(bob, id, 3);
    const forAlice = await eventually(() => listConversations(alice), {
      until: (r) => r.body.conversations[0]?.unread_count === 3,
    });
    expect(forAlice.body.conversations[0]).toMatchObject({ id, unread_count: 3, last_seq: 3 });
    const forBob = await listConversations(bob);
    expect(forBob.body.conversations[0]).toMatchObject({ id, unread_count: 0, last_seq: 3 });
  });
});

// ── one conversation ──

describe("GET/PATCH /api/v1/conversations/{id}", () => {
  it("patches title and metadata, visible to every participant", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    const patched = await patchConversation(alice, id, { title: "Bike deal", metadata: { order: "o-1", n: 2 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, title: "Bike deal", metadata: { order: "o-1", n: 2 } });
    const got = await getConversation(bob, id);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, title: "Bike deal", metadata: { order: "o-1", n: 2 }, status: "active" });
    // Any participant may patch.
    const byBob = await patchConversation(bob, id, { title: "Renamed" });
    expect(byBob.status).toBe(200);
    expect(byBob.body.title).toBe("Renamed");
    expect(byBob.body.metadata).toEqual({ order: "o-1", n: 2 });
  });

  it("closing refuses sends with 409 CONVERSATION_CLOSED; reopening allows them again", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    expect((await sendRest(alice, id, "before")).status).toBe(201);
    const closed = await patchConversation(bob, id, { status: "closed" });
    expect(closed.status).toBe(200);
    expect(closed.body.status).toBe("closed");
    expect((await getConversation(alice, id)).body.status).toBe("closed");
    expectError(await sendRest(alice, id, "while closed"), 409, "CONVERSATION_CLOSED");
    expectError(await sendRest(bob, id, "while closed"), 409, "CONVERSATION_CLOSED");
    const reopened = await patchConversation(alice, id, { status: "active" });
    expect(reopened.status).toBe(200);
    expect(reopened.body.status).toBe("active");
    const sent = await sendRest(bob, id, "after");
    expect(sent.status).toBe(201);
    expect(sent.body.seq).toBe(2);
    const log = await listMessages(alice, id);
    expect(log.body.messages.map((m: any) => m.content)).toEqual(["before", "after"]);
  });

  it("rejects an invalid status and unknown fields", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    expectError(await patchConversation(alice, id, { status: "archived" }), 400, "VALIDATION_ERROR", "status");
    expect((await getConversation(alice, id)).body.status).toBe("active");
  });
});

// ── group participants ──

describe("group participants", () => {
  it("adds, re-adds, leaves and removes with the right permissions", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const dave = await login("dave");
    const id = await group(alice, [bob, carol]);
    const path = `/api/v1/conversations/${id}/participants`;

    const added = await callJson(path, { method: "POST", token: bob.token, json: { user_id: dave.id, role: "provider" } });
    expect(added.status).toBe(201);
    expect(added.body.participants.find((p: any) => p.id === dave.id)?.role).toBe("provider");
    const again = await callJson(path, { method: "POST", token: alice.token, json: { user_id: dave.id } });
    expect(again.status).toBe(200);
    expect(again.body.participants.filter((p: any) => p.id === dave.id)).toHaveLength(1);
    expect(again.body.participants.find((p: any) => p.id === dave.id)?.role).toBe("provider");
    expect((await getConversation(dave, id)).status).toBe(200);

    // A non-creator may not remove someone else.
    expectError(await callJson(`${path}/${carol.id}`, { method: "DELETE", token: bob.token }), 403, "FORBIDDEN");
    expect((await getConversation(carol, id)).status).toBe(200);

    // Leaving oneself.
    const left = await call(`${path}/${dave.id}`, { method: "DELETE", token: dave.token });
    expect(left.status).toBe(204);
    expectError(await getConversation(dave, id), 403, "CHAT_ACCESS_DENIED");

    // The creator removes someone.
    const removed = await call(`${path}/${carol.id}`, { method: "DELETE", token: alice.token });
    expect(removed.status).toBe(204);
    expectError(await getConversation(carol, id), 403, "CHAT_ACCESS_DENIED");
    expectError(await sendRest(carol, id, "still here?"), 403, "CHAT_ACCESS_DENIED");

    const remaining = await getConversation(alice, id);
    expect(remaining.body.participants.map((p: any) => p.id).sort()).toEqual([alice.id, bob.id].sort());
  });

  it("participants endpoints refuse a direct conversation with 403 FORBIDDEN", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const id = await direct(alice, bob);
    const path = `/api/v1/conversations/${id}/participants`;
    expectError(await callJson(path, { method: "POST", token: alice.token, json: { user_id: carol.id } }), 403, "FORBIDDEN");
    expectError(await callJson(`${path}/${bob.id}`, { method: "DELETE", token: alice.token }), 403, "FORBIDDEN");
    expectError(await callJson(`${path}/${alice.id}`, { method: "DELETE", token: alice.token }), 403, "FORBIDDEN");
    const got = await getConversation(alice, id);
    expect(got.body.participants.map((p: any) => p.id).sort()).toEqual([alice.id, bob.id].sort());
  });

  it("a removed user's open conversation socket is closed with 4003", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const id = await group(alice, [bob, carol]);
    const carolSocket = await connect(id, carol.token);
    const bobSocket = await connect(id, bob.token);
    const removed = await call(`/api/v1/conversations/${id}/participants/${carol.id}`, { method: "DELETE", token: alice.token });
    expect(removed.status).toBe(204);
    const closed = await carolSocket.waitClosed();
    expect(closed.code).toBe(4003);
    // Others stay connected and still get messages.
    const sent = await sendRest(alice, id, "carol is gone");
    expect(sent.status).toBe(201);
    const frame = await bobSocket.next("message.new", (f) => f.message.id === sent.body.id);
    expect(frame.message.content).toBe("carol is gone");
    expect(bobSocket.closed).toBeNull();
    expect(carolSocket.frames.filter((f) => f.type === "message.new")).toHaveLength(0);
    bobSocket.close();
  });
});

// ── read cursor & unread ──

describe("read cursor and unread counts", () => {
  it("POST read moves the cursor forward only and reports what is left", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    await sendMany(bob, id, 5);

    const partial = await markRead(alice, id, { up_to_seq: 3 });
    expect(partial.status).toBe(200);
    expect(partial.body).toEqual({ last_read_seq: 3, unread_count: 2 });

    const backwards = await markRead(alice, id, { up_to_seq: 1 });
    expect(backwards.status).toBe(200);
    expect(backwards.body).toEqual({ last_read_seq: 3, unread_count: 2 });

    const all = await markRead(alice, id, {});
    expect(all.body).toEqual({ last_read_seq: 5, unread_count: 0 });

    const stillAll = await markRead(alice, id, { up_to_seq: 2 });
    expect(stillAll.body).toEqual({ last_read_seq: 5, unread_count: 0 });

    const beyond = await markRead(alice, id, { up_to_seq: 99 });
    expect(beyond.body).toEqual({ last_read_seq: 5, unread_count: 0 });

    expectError(await markRead(alice, id, { up_to_seq: -1 }), 400, "VALIDATION_ERROR", "up_to_seq");
  });

  it("POST read with no body at all reads everything", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    await sendMany(bob, id, 2);
    const res = await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ last_read_seq: 2, unread_count: 0 });
  });

  it("GET /unread totals per user across conversations and drops at once after a read", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const ab = await direct(alice, bob);
    const ac = await direct(alice, carol);
    await sendMany(bob, ab, 2, "b");
    await sendMany(carol, ac, 3, "c");

    const before = await eventually(() => unread(alice), {
      until: (r) => r.body.unread_count === 5,
    });
    expect(before.status).toBe(200);
    expect(before.body.unread_count).toBe(5);
    expect(unreadOf(before.body, ab)).toBe(2);
    expect(unreadOf(before.body, ac)).toBe(3);
    expect(before.body.conversations).toHaveLength(2);

    // Senders never count their own messages.
    const forBob = await unread(bob);
    expect(forBob.body).toEqual({ unread_count: 0, conversations: [{ id: ab, unread_count: 0 }] });
    const forCarol = await unread(carol);
    expect(forCarol.body).toEqual({ unread_count: 0, conversations: [{ id: ac, unread_count: 0 }] });

    // A read is reflected immediately (no polling).
    expect((await markRead(alice, ab)).body).toEqual({ last_read_seq: 2, unread_count: 0 });
    const afterOne = await unread(alice);
    expect(afterOne.body.unread_count).toBe(3);
    expect(unreadOf(afterOne.body, ab)).toBe(0);
    expect(unreadOf(afterOne.body, ac)).toBe(3);

    expect((await markRead(alice, ac, { up_to_seq: 1 })).body).toEqual({ last_read_seq: 1, unread_count: 2 });
    const afterTwo = await unread(alice);
    expect(afterTwo.body.unread_count).toBe(2);
    expect(unreadOf(afterTwo.body, ac)).toBe(2);
    const listed = await listConversations(alice);
    expect(listed.body.conversations.find((c: any) => c.id === ac)?.unread_count).toBe(2);
    expect(listed.body.conversations.find((c: any) => c.id === ab)?.unread_count).toBe(0);
  });

  it("a sender's own messages never count as unread for them; replying reads what came before", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    await sendMany(bob, id, 2, "b");
    await sendMany(alice, id, 3, "a");
    const forBob = await eventually(() => unread(bob), {
      until: (r) => r.body.unread_count === 3,
    });
    expect(forBob.body).toEqual({ unread_count: 3, conversations: [{ id, unread_count: 3 }] });
    // Alice replied after bob's two messages, so nothing is unread for her.
    const forAlice = await unread(alice);
    expect(forAlice.body).toEqual({ unread_count: 0, conversations: [{ id, unread_count: 0 }] });
    const read = await markRead(alice, id, { up_to_seq: 1 });
    expect(read.body).toEqual({ last_read_seq: 5, unread_count: 0 });
  });
});

// ── isolation ──

describe("isolation", () => {
  it("a non-participant gets 403 CHAT_ACCESS_DENIED on every conversation path and changes nothing", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const mallory = await login("mallory");
    const id = await direct(alice, bob);
    expect((await patchConversation(alice, id, { title: "private" })).status).toBe(200);
    const first = await sendRest(alice, id, "secret");
    expect(first.status).toBe(201);

    const base = `/api/v1/conversations/${id}`;
    const attempts: [string, Promise<{ status: number; body: any }>][] = [
      ["GET", callJson(base, { token: mallory.token })],
      ["PATCH", callJson(base, { method: "PATCH", token: mallory.token, json: { title: "pwned", status: "closed" } })],
      ["POST participants", callJson(`${base}/participants`, { method: "POST", token: mallory.token, json: { user_id: mallory.id } })],
      ["DELETE participants", callJson(`${base}/participants/${bob.id}`, { method: "DELETE", token: mallory.token })],
      ["DELETE self", callJson(`${base}/participants/${mallory.id}`, { method: "DELETE", token: mallory.token })],
      ["POST read", callJson(`${base}/read`, { method: "POST", token: mallory.token, json: { up_to_seq: 1 } })],
      ["GET messages", callJson(`${base}/messages`, { token: mallory.token })],
      ["POST messages", callJson(`${base}/messages`, { method: "POST", token: mallory.token, json: { content: "hi", client_id: "m1" } })],
    ];
    for (const [label, attempt] of attempts) {
      const res = await attempt;
      expect({ label, status: res.status, code: res.body?.error?.code }).toEqual({ label, status: 403, code: "CHAT_ACCESS_DENIED" });
      expectError(res, 403, "CHAT_ACCESS_DENIED");
    }

    const socket = await upgrade(`${base}/ws?token=${encodeURIComponent(mallory.token)}`);
    expect(socket.status).toBe(403);
    expect(socket.webSocket).toBeNull();
    expectError({ status: socket.status, body: await socket.json() }, 403, "CHAT_ACCESS_DENIED");

    // Nothing changed.
    const got = await getConversation(alice, id);
    expect(got.body.title).toBe("private");
    expect(got.body.status).toBe("active");
    expect(got.body.participants.map((p: any) => p.id).sort()).toEqual([alice.id, bob.id].sort());
    const log = await listMessages(bob, id);
    expect(log.body.messages.map((m: any) => [m.seq, m.content, m.sender_id])).toEqual([[1, "secret", alice.id]]);
    expect(log.body.has_more).toBe(false);
    const next = await sendRest(bob, id, "still private");
    expect(next.body.seq).toBe(2);
    expect((await listConversations(mallory)).body.conversations).toEqual([]);
  });

  it("an id that does not exist answers the same 403 CHAT_ACCESS_DENIED on every path", async () => {
    const alice = await login("alice");
    const base = "/api/v1/conversations/cnv_doesnotexist000000000";
    const attempts: [string, Promise<{ status: number; body: any }>][] = [
      ["GET", callJson(base, { token: alice.token })],
      ["PATCH", callJson(base, { method: "PATCH", token: alice.token, json: { title: "x" } })],
      ["POST participants", callJson(`${base}/participants`, { method: "POST", token: alice.token, json: { user_id: alice.id } })],
      ["DELETE participants", callJson(`${base}/participants/${alice.id}`, { method: "DELETE", token: alice.token })],
      ["POST read", callJson(`${base}/read`, { method: "POST", token: alice.token, json: {} })],
      ["GET messages", callJson(`${base}/messages`, { token: alice.token })],
      ["POST messages", callJson(`${base}/messages`, { method: "POST", token: alice.token, json: { content: "hi" } })],
    ];
    for (const [label, attempt] of attempts) {
      const res = await attempt;
      expect({ label, status: res.status, code: res.body?.error?.code }).toEqual({ label, status: 403, code: "CHAT_ACCESS_DENIED" });
      expectError(res, 403, "CHAT_ACCESS_DENIED");
    }
    const socket = await upgrade(`${base}/ws?token=${encodeURIComponent(alice.token)}`);
    expect(socket.status).toBe(403);
    expectError({ status: socket.status, body: await socket.json() }, 403, "CHAT_ACCESS_DENIED");
  });
});

// ── message history ──

describe("GET /conversations/{id}/messages", () => {
  it("an empty conversation has no messages", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    const res = await listMessages(alice, id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ messages: [], has_more: false });
  });

  it("pages by before_seq / after_seq / limit", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    await sendMany(alice, id, 7);
    const page = async (query: string) => {
      const res = await listMessages(bob, id, query);
      expect(res.status).toBe(200);
      return { seqs: res.body.messages.map((m: any) => m.seq), has_more: res.body.has_more };
    };
    expect(await page("")).toEqual({ seqs: [1, 2, 3, 4, 5, 6, 7], has_more: false });
    expect(await page("?limit=3")).toEqual({ seqs: [5, 6, 7], has_more: true });
    expect(await page("?before_seq=5&limit=3")).toEqual({ seqs: [2, 3, 4], has_more: true });
    expect(await page("?before_seq=2")).toEqual({ seqs: [1], has_more: false });
    expect(await page("?before_seq=1")).toEqual({ seqs: [], has_more: false });
    expect(await page("?after_seq=5")).toEqual({ seqs: [6, 7], has_more: false });
    expect(await page("?after_seq=0&limit=3")).toEqual({ seqs: [1, 2, 3], has_more: true });
    expect(await page("?after_seq=7")).toEqual({ seqs: [], has_more: false });
    expect(await page("?limit=7")).toEqual({ seqs: [1, 2, 3, 4, 5, 6, 7], has_more: false });
    expect(await page("?limit=100")).toEqual({ seqs: [1, 2, 3, 4, 5, 6, 7], has_more: false });

    const full = await listMessages(bob, id, "?after_seq=6");
    expect(full.body.messages[0]).toMatchObject({ conversation_id: id, seq: 7, sender_id: alice.id, type: "text", content: "m7" });
  });

  it("rejects out-of-range limits and non-numeric cursors", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    for (const limit of ["0", "101", "-1", "abc"]) {
      expectError(await listMessages(alice, id, `?limit=${limit}`), 400, "VALIDATION_ERROR", "limit");
    }
    expectError(await listMessages(alice, id, "?before_seq=abc"), 400, "VALIDATION_ERROR", "before_seq");
    expectError(await listMessages(alice, id, "?after_seq=xyz"), 400, "VALIDATION_ERROR", "after_seq");
    expectError(await listMessages(alice, id, "?after_seq=1.5"), 400, "VALIDATION_ERROR", "after_seq");
  });
});

// ── send validation ──

describe("POST /conversations/{id}/messages validation", () => {
  it("content must be 1..1000 characters after trimming", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    expectError(await sendRest(alice, id, ""), 400, "VALIDATION_ERROR", "content");
    expectError(await sendRest(alice, id, "   \n\t  "), 400, "VALIDATION_ERROR", "content");
    expectError(await sendRest(alice, id, "x".repeat(1001)), 400, "VALIDATION_ERROR", "content");
    expectError(await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: {} }), 400, "VALIDATION_ERROR", "content");

    const exact = await sendRest(alice, id, "y".repeat(1000));
    expect(exact.status).toBe(201);
    expect(exact.body.content).toHaveLength(1000);
    expect(exact.body.seq).toBe(1);

    const padded = await sendRest(alice, id, `  ${"z".repeat(1000)}  `);
    expect(padded.status).toBe(201);
    expect(padded.body.content).toBe("z".repeat(1000));

    // Characters, not UTF-16 units or bytes.
    const emoji = await sendRest(alice, id, "😀".repeat(1000));
    expect(emoji.status).toBe(201);
    expectError(await sendRest(alice, id, "😀".repeat(1001)), 400, "VALIDATION_ERROR", "content");

    // Nothing of the refused sends was stored.
    const log = await listMessages(alice, id);
    expect(log.body.messages.map((m: any) => m.seq)).toEqual([1, 2, 3]);
  });

  it("malformed JSON is 400 VALIDATION_ERROR; an oversized body is 413 PAYLOAD_TOO_LARGE", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    const malformed = await callJson(`/api/v1/conversations/${id}/messages`, {
      method: "POST",
      token: alice.token,
      headers: { "content-type": "application/json" },
      body: '{"content": "oops"',
    });
    expectError(malformed, 400, "VALIDATION_ERROR");

    const huge = await sendRest(alice, id, "x".repeat(300 * 1024));
    expectError(huge, 413, "PAYLOAD_TOO_LARGE");

    const log = await listMessages(alice, id);
    expect(log.body).toEqual({ messages: [], has_more: false });
  });

  it("reply_to must name a message of this conversation", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const ab = await direct(alice, bob);
    const ac = await direct(alice, carol);
    const elsewhere = await sendRest(alice, ac, "in another conversation");
    expect(elsewhere.status).toBe(201);
    const original = await sendRest(bob, ab, "original");
    expect(original.status).toBe(201);

    expectError(await sendRest(alice, ab, "reply", { reply_to: elsewhere.body.id }), 400, "VALIDATION_ERROR", "reply_to");
    expectError(await sendRest(alice, ab, "reply", { reply_to: "msg_doesnotexist" }), 400, "VALIDATION_ERROR", "reply_to");

    const reply = await sendRest(alice, ab, "reply", { reply_to: original.body.id });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ seq: 2, reply_to: original.body.id, content: "reply" });
    const log = await listMessages(bob, ab);
    expect(log.body.messages.map((m: any) => [m.seq, m.reply_to])).toEqual([
      [1, null],
      [2, original.body.id],
    ]);
  });

  it("clients may not send system or offer messages", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    for (const type of ["system", "offer", "offer_response", "bogus"]) {
      expectError(await sendRest(alice, id, "forged", { type }), 400, "VALIDATION_ERROR", "type");
    }
    const text = await sendRest(alice, id, "plain", { type: "text" });
    expect(text.status).toBe(201);
    expect(text.body.type).toBe("text");
    expect(text.body.seq).toBe(1);
  });
});

// ── idempotency ──

describe("idempotent sends over REST", () => {
  it("the same client_id from the same sender returns the first message", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    const first = await sendRest(alice, id, "once", { client_id: "cid-1" });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ seq: 1, client_id: "cid-1", content: "once", sender_id: alice.id });
    const retry = await sendRest(alice, id, "once", { client_id: "cid-1" });
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    expect(retry.body.seq).toBe(1);
    expect(retry.body.created_at).toBe(first.body.created_at);

    const fromBob = await sendRest(bob, id, "mine", { client_id: "cid-1" });
    expect(fromBob.status).toBe(201);
    expect(fromBob.body.id).not.toBe(first.body.id);
    expect(fromBob.body).toMatchObject({ seq: 2, sender_id: bob.id, client_id: "cid-1" });
    const bobRetry = await sendRest(bob, id, "mine", { client_id: "cid-1" });
    expect(bobRetry.status).toBe(200);
    expect(bobRetry.body.id).toBe(fromBob.body.id);

    const log = await listMessages(alice, id);
    expect(log.body.messages.map((m: any) => [m.seq, m.sender_id, m.content])).toEqual([
      [1, alice.id, "once"],
      [2, bob.id, "mine"],
    ]);
  });

  it("a retry gets the first message even after the conversation closed or the sender reached the limit; a new send does not", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    const first = await sendRest(alice, id, "before", { client_id: "cid-closed" });
    expect(first.status).toBe(201);
    expect((await patchConversation(alice, id, { status: "closed" })).status).toBe(200);
    const retry = await sendRest(alice, id, "before", { client_id: "cid-closed" });
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    expectError(await sendRest(alice, id, "new", { client_id: "cid-new" }), 409, "CONVERSATION_CLOSED");
    expect((await patchConversation(alice, id, { status: "active" })).status).toBe(200);

    // The limit here is 120 a minute (vitest.config.ts): spend it, then retry the first.
    const sends = await Promise.all(Array.from({ length: 125 }, (_, i) => sendRest(alice, id, `flood ${i}`)));
    expect(sends.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    const overLimit = await sendRest(alice, id, "before", { client_id: "cid-closed" });
    expect(overLimit.status).toBe(200);
    expect(overLimit.body.id).toBe(first.body.id);
  });
});
