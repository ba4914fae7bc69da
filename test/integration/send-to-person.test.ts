// POST /api/v1/messages: "message this person" in one call (DESIGN.md, Messages; issue 12).
import { describe, expect, it } from "vitest";
import { callJson, callWith, getConversation, login, uniqueContext, type TestUser } from "../helpers/api";
import { expectError } from "../helpers/assertions";

const sendTo = (from: TestUser, json: Record<string, unknown>) => callJson("/api/v1/messages", { method: "POST", token: from.token, json });

describe("send to a person", () => {
  it("opens the direct conversation once, then appends to it; a retried client_id returns the first message", async () => {
    const [ana, ben] = [await login("ana"), await login("ben")];
    const context = uniqueContext("listing");
    const first = await sendTo(ana, { to_user_id: ben.id, content: "Is it still available?", client_id: "q-1", context, roles: { [ana.id]: "buyer", [ben.id]: "seller" }, metadata: { listing: 7 } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ created_conversation: true, message: { seq: 1, sender_id: ana.id, content: "Is it still available?" } });
    const id = first.body.conversation_id;

    const next = await sendTo(ana, { to_email: ben.email, content: "I can pick it up today", context, roles: { [ana.id]: "member" }, metadata: { listing: 8 } });
    expect(next.status).toBe(201);
    expect(next.body).toMatchObject({ conversation_id: id, created_conversation: false, message: { seq: 2 } });
    const retry = await sendTo(ana, { to_user_id: ben.id, content: "Is it still available?", client_id: "q-1", context });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ conversation_id: id, created_conversation: false, message: first.body.message });

    // Roles and metadata were applied only when it was created.
    const seen = await getConversation(ben, id);
    expect(seen.body.metadata).toEqual({ listing: 7 });
    expect(seen.body.participants.find((p: any) => p.id === ana.id).role).toBe("buyer");
    // Another context is another conversation.
    const other = await sendTo(ana, { to_user_id: ben.id, content: "And the other one?", context: uniqueContext("listing") });
    expect(other.body.created_conversation).toBe(true);
    expect(other.body.conversation_id).not.toBe(id);
  });

  it("names the person exactly once, and someone who exists other than oneself", async () => {
    const [ana, ben] = [await login("ana"), await login("ben")];
    expectError(await sendTo(ana, { content: "to nobody" }), 400, "VALIDATION_ERROR", "to_user_id");
    expectError(await sendTo(ana, { to_user_id: ben.id, to_email: ben.email, content: "twice" }), 400, "VALIDATION_ERROR", "to_user_id");
    expectError(await sendTo(ana, { to_user_id: "usr_nobody", content: "hello?" }), 404, "USER_NOT_FOUND", "to_user_id");
    expectError(await sendTo(ana, { to_email: "nobody-here@example.com", content: "hello?" }), 404, "USER_NOT_FOUND", "to_email");
    expectError(await sendTo(ana, { to_user_id: ana.id, content: "me" }), 400, "VALIDATION_ERROR", "to_user_id");
    expectError(await sendTo(ana, { to_user_id: ben.id, content: "" }), 400, "VALIDATION_ERROR", "content");
  });

  it("keeps every rule of creating and sending", async () => {
    const [ana, ben] = [await login("ana"), await login("ben")];
    expect((await callJson("/api/v1/blocks", { method: "POST", token: ben.token, json: { user_id: ana.id } })).status).toBeLessThan(300);
    expectError(await sendTo(ana, { to_user_id: ben.id, content: "let me in" }), 403, "BLOCKED");
    const carla = await login("carla");
    const friendsOnly = await callWith({ DM_POLICY: "friends" }, "/api/v1/messages", { method: "POST", token: ana.token, json: { to_user_id: carla.id, content: "hi stranger" } });
    expectError(friendsOnly, 403, "NOT_FRIENDS");
  });
});
