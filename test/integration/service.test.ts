// The app's backend (DESIGN.md: "The app's backend (service role)"; issue 11): a token whose roles
// hold `service` acts on any conversation without being a participant. Each capability is shown
// for the service and refused to participants. Through the Worker and real socket upgrades.
import { afterEach, describe, expect, it } from "vitest";
import {
  addParticipant,
  call,
  callJson,
  getConversation,
  listMessages,
  login,
  patchConversation,
  removeParticipant,
  sendRest,
  serviceToken,
  uniqueContext,
  type TestUser,
} from "../helpers/api";
import { expectError } from "../helpers/assertions";
import { closeAll, open, upgrade } from "../helpers/sockets";

afterEach(closeAll);

const SERVICE = { token: "" };
const service = async () => (SERVICE.token ||= await serviceToken("svc:shop"));

async function asService(path: string, init: { method?: string; json?: unknown } = {}) {
  return callJson(path, { ...init, token: await service() });
}

/** A booking's chat, made by the backend for `client` and `provider` with trusted roles. */
async function bookingChat(client: TestUser, provider: TestUser, type: "direct" | "group" = "group") {
  const created = await asService("/api/v1/conversations", {
    method: "POST",
    json: {
      type,
      participant_ids: [client.id, provider.id],
      roles: { [client.id]: "client", [provider.id]: "provider" },
      context: { ...uniqueContext("booking"), type: "booking" },
      metadata: { booking_id: "b-1" },
    },
  });
  expect(created.status).toBe(201);
  return created.body;
}

const roleOf = (conversation: any, userId: string) => conversation.participants.find((p: any) => p.id === userId)?.role;

describe("conversations for others", () => {
  it("creates a conversation with trusted roles and is not a participant of it", async () => {
    const [client, provider] = [await login("client"), await login("provider")];
    const chat = await bookingChat(client, provider);
    expect(chat.participants.map((p: any) => p.id).sort()).toEqual([client.id, provider.id].sort());
    expect(roleOf(chat, client.id)).toBe("client");
    expect(chat.metadata).toEqual({ booking_id: "b-1" });
    // Both see it in their lists at once.
    for (const user of [client, provider]) {
      const list = await callJson("/api/v1/conversations", { token: user.token });
      expect(list.body.conversations.map((c: any) => c.id)).toContain(chat.id);
    }
    // The service is not a participant: it may not act as one.
    expectError(await asService(`/api/v1/conversations/${chat.id}/read`, { method: "POST", json: {} }), 403, "CHAT_ACCESS_DENIED");
  });

  it("keeps create-or-get for a direct pair", async () => {
    const [a, b] = [await login("a"), await login("b")];
    const context = uniqueContext("pair");
    const body = { type: "direct", participant_ids: [a.id, b.id], context };
    const first = await asService("/api/v1/conversations", { method: "POST", json: body });
    const again = await asService("/api/v1/conversations", { method: "POST", json: body });
    const byUser = await callJson("/api/v1/conversations", { method: "POST", token: a.token, json: { type: "direct", participant_ids: [b.id], context } });
    expect([first.status, again.status, byUser.status]).toEqual([201, 200, 200]);
    expect(new Set([first.body.id, again.body.id, byUser.body.id]).size).toBe(1);
    expectError(await asService("/api/v1/conversations", { method: "POST", json: { type: "direct", participant_ids: [a.id] } }), 400, "VALIDATION_ERROR", "participant_ids");
  });

  it("answers 404 for an unknown conversation, as to an admin", async () => {
    expectError(await asService("/api/v1/conversations/cnv_nope"), 404, "CONVERSATION_NOT_FOUND");
  });
});

describe("roles", () => {
  it("a role the service set is changed only by the service or an admin", async () => {
    const [client, provider, guest] = [await login("client"), await login("provider"), await login("guest")];
    const chat = await bookingChat(client, provider);
    // A participant may not relabel a trusted role, neither by re-adding nor by PATCH.
    expectError(await addParticipant(client, chat.id, provider.id, "member"), 403, "FORBIDDEN");
    const patchRole = (token: string, userId: string, role: string) =>
      callJson(`/api/v1/conversations/${chat.id}/participants/${userId}`, { method: "PATCH", token, json: { role } });
    expectError(await patchRole(client.token, provider.id, "client"), 403, "FORBIDDEN");
    expect(roleOf((await getConversation(client, chat.id)).body, provider.id)).toBe("provider");
    // The service changes it.
    const changed = await patchRole(await service(), provider.id, "seller");
    expect(changed.status).toBe(200);
    expect(roleOf(changed.body, provider.id)).toBe("seller");
    expectError(await patchRole(await service(), guest.id, "member"), 404, "USER_NOT_FOUND");
    // A participant added without a role is a member; a participant's own label is not locked.
    expect((await addParticipant(client, chat.id, guest.id)).status).toBe(201);
    expect(roleOf((await getConversation(client, chat.id)).body, guest.id)).toBe("member");
    expect((await addParticipant(client, chat.id, guest.id, "buyer")).status).toBe(200);
    expect(roleOf((await getConversation(client, chat.id)).body, guest.id)).toBe("buyer");
  });
});

describe("messages", () => {
  it("posts system messages that fan out and count as unread", async () => {
    const [client, provider] = [await login("client"), await login("provider")];
    const chat = await bookingChat(client, provider);
    const socket = await open(chat.id, client);
    const posted = await asService(`/api/v1/conversations/${chat.id}/messages`, {
      method: "POST",
      json: { type: "system", content: "Booking confirmed", data: { booking_id: "b-1" }, client_id: "confirm-b-1" },
    });
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ type: "system", sender_id: null, content: "Booking confirmed", data: { booking_id: "b-1" } });
    expect((await socket.next("message.new")).message.id).toBe(posted.body.id);
    const again = await asService(`/api/v1/conversations/${chat.id}/messages`, { method: "POST", json: { type: "system", content: "Booking confirmed", client_id: "confirm-b-1" } });
    expect([again.status, again.body.id]).toEqual([200, posted.body.id]);
    expect((await getConversation(provider, chat.id)).body.unread_count).toBe(1);
    // Users cannot.
    expectError(await sendRest(client, chat.id, "I am the system", { type: "system" }), 400, "VALIDATION_ERROR", "type");
    // Without sender_id, the service sends only system messages.
    expectError(await asService(`/api/v1/conversations/${chat.id}/messages`, { method: "POST", json: { content: "hi" } }), 400, "VALIDATION_ERROR", "sender_id");
  });

  it("sends on behalf of a participant, and only of a participant", async () => {
    const [client, provider, stranger] = [await login("client"), await login("provider"), await login("stranger")];
    const chat = await bookingChat(client, provider);
    const sent = await asService(`/api/v1/conversations/${chat.id}/messages`, { method: "POST", json: { sender_id: provider.id, content: "See you at 10" } });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ sender_id: provider.id, type: "text", content: "See you at 10" });
    expect((await callJson(`/api/v1/conversations/${chat.id}`, { token: provider.token })).body.unread_count).toBe(0);
    expectError(await asService(`/api/v1/conversations/${chat.id}/messages`, { method: "POST", json: { sender_id: stranger.id, content: "x" } }), 400, "VALIDATION_ERROR", "sender_id");
    expectError(await sendRest(client, chat.id, "as provider", { sender_id: provider.id }), 403, "FORBIDDEN");
  });

  it("reads history, receipts and every participant's unread", async () => {
    const [client, provider] = [await login("client"), await login("provider")];
    const chat = await bookingChat(client, provider);
    const sent = await sendRest(client, chat.id, "hello");
    const page = await listMessages({ token: await service() }, chat.id);
    expect(page.body.messages.map((m: any) => m.id)).toEqual([sent.body.id]);
    const receipts = await asService(`/api/v1/conversations/${chat.id}/messages/${sent.body.id}/receipts`);
    expect(receipts.body.receipts).toEqual([expect.objectContaining({ user_id: provider.id, status: "sent" })]);
    const seen = await asService(`/api/v1/conversations/${chat.id}`);
    const unreadOf = (id: string) => seen.body.participants.find((p: any) => p.id === id).unread_count;
    expect([unreadOf(client.id), unreadOf(provider.id)]).toEqual([0, 1]);
  });
});

describe("membership and status", () => {
  it("adds, removes, closes and reopens; a participant cannot reopen what the service closed", async () => {
    const [client, provider, helper] = [await login("client"), await login("provider"), await login("helper")];
    const chat = await bookingChat(client, provider);
    const svc = { token: await service() };
    expect((await addParticipant(svc, chat.id, helper.id, "provider")).status).toBe(201);
    expect((await removeParticipant(svc, chat.id, helper.id)).status).toBe(204);
    expect((await patchConversation(svc, chat.id, { status: "closed", metadata: { booking_id: "b-1", state: "ended" } })).body).toMatchObject({
      status: "closed",
      metadata: { state: "ended" },
    });
    expectError(await patchConversation(client, chat.id, { status: "active" }), 403, "FORBIDDEN");
    // A system message may still say why it closed; participants' sends are refused.
    expect((await asService(`/api/v1/conversations/${chat.id}/messages`, { method: "POST", json: { type: "system", content: "Booking ended" } })).status).toBe(201);
    expectError(await sendRest(client, chat.id, "hello?"), 409, "CONVERSATION_CLOSED");
    expect((await patchConversation(svc, chat.id, { status: "active" })).body.status).toBe("active");
  });
});

describe("users and tokens", () => {
  const appUserId = () => `app-user-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

  it("upserts a profile under the app's id and mints tokens that work", async () => {
    const id = appUserId();
    const created = await asService(`/api/v1/users/${id}`, { method: "PUT", json: { name: "Dana Client", email: `${id}@example.com` } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id, name: "Dana Client", email: `${id}@example.com`, avatar_url: null });
    const admin = await login("admin-searcher");
    const found = await callJson(`/api/v1/users/search?q=clie`, { token: admin.token });
    expect(found.body.users.map((u: any) => u.id)).toContain(id);
    const updated = await asService(`/api/v1/users/${id}`, { method: "PUT", json: { name: "Dana C.", avatar_url: "https://img.example.com/d.png" } });
    expect([updated.status, updated.body.name, updated.body.avatar_url]).toEqual([200, "Dana C.", "https://img.example.com/d.png"]);

    const minted = await asService("/api/v1/auth/token", { method: "POST", json: { user_id: id } });
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({ token_type: "bearer", expires_in: 86400, user: { id } });
    const me = await callJson("/api/v1/users/me", { token: minted.body.access_token });
    expect([me.status, me.body.id, me.body.name]).toEqual([200, id, "Dana C."]);
    const short = await asService("/api/v1/auth/token", { method: "POST", json: { user_id: id, expires_in: 600 } });
    expect(short.body.expires_in).toBe(600);
  });

  it("refuses what is out of bounds", async () => {
    const [user, other] = [await login("user"), await login("other")];
    expectError(await asService("/api/v1/auth/token", { method: "POST", json: { user_id: "nobody-here" } }), 404, "USER_NOT_FOUND");
    expectError(await asService("/api/v1/auth/token", { method: "POST", json: { user_id: user.id, expires_in: 31 * 24 * 3600 } }), 400, "VALIDATION_ERROR", "expires_in");
    expectError(await asService(`/api/v1/users/${appUserId()}`, { method: "PUT", json: { name: "Copycat", email: other.email } }), 400, "VALIDATION_ERROR", "email");
  });

  it("participants can do none of it", async () => {
    const [user, other] = [await login("user"), await login("other")];
    expectError(await callJson("/api/v1/auth/token", { method: "POST", token: user.token, json: { user_id: other.id } }), 403, "FORBIDDEN");
    expectError(await callJson(`/api/v1/users/${other.id}`, { method: "PUT", token: user.token, json: { name: "Mallory" } }), 403, "FORBIDDEN");
    const chat = await callJson("/api/v1/conversations", { method: "POST", token: user.token, json: { type: "group", participant_ids: [other.id], roles: { [other.id]: "seller" } } });
    expectError(await callJson(`/api/v1/conversations/${chat.body.id}/participants/${other.id}`, { method: "PATCH", token: user.token, json: { role: "buyer" } }), 403, "FORBIDDEN");
  });
});

describe("what the service is not", () => {
  it("opens no sockets and has no friends, blocks or inbox", async () => {
    const [client, provider] = [await login("client"), await login("provider")];
    const chat = await bookingChat(client, provider);
    const token = await service();
    expect((await upgrade(`/api/v1/conversations/${chat.id}/ws`, { authorization: `Bearer ${token}` })).status).toBe(403);
    expect((await upgrade("/api/v1/ws", { authorization: `Bearer ${token}` })).status).toBe(403);
    expectError(await asService("/api/v1/friends/requests", { method: "POST", json: { user_id: client.id } }), 403, "FORBIDDEN");
    expectError(await asService("/api/v1/unread"), 403, "FORBIDDEN");
    expect((await call("/api/v1/users/me", { token })).status).toBe(403);
  });
});
