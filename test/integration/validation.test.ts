import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { callJson, freshDirect, history, login, sendRest, uniqueContext, uniqueEmail, type TestUser } from "../helpers/api";
import { expectFieldError } from "../helpers/assertions";
import { barrier, closeAll, open, openInbox } from "../helpers/sockets";

// DESIGN.md, Conventions: unknown fields in a JSON body or a socket frame are refused (query
// strings, forms and multipart parts are not held to this), and messages say what is wrong in words.

let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  alice = await login("val-alice");
  bob = await login("val-bob");
});
afterEach(closeAll);

const post = (path: string, user: TestUser, json: unknown) => callJson(path, { method: "POST", token: user.token, json });
const detail = (body: any, field: string) => body.error.details.find((d: { field: string }) => d.field === field)?.message;

describe("unknown fields in JSON bodies", () => {
  it("conversation creation: a top-level or a context field it does not know is named and nothing is created", async () => {
    const context = uniqueContext("val");
    const refused = await post("/api/v1/conversations", alice, { type: "direct", participant_ids: [bob.id], context_type: "product", context: { ...context, colour: "red" } });
    expectFieldError(refused, "context_type");
    expect(refused.body.error.details).toEqual(
      expect.arrayContaining([
        { field: "context_type", message: "is not a known field" },
        { field: "context.colour", message: "is not a known field" },
      ]),
    );
    const list = await callJson(`/api/v1/conversations?context_type=${context.type}&context_id=${context.id}`, { token: alice.token });
    expect(list.body.conversations).toEqual([]);
  });

  it("metadata and message data stay free-form", async () => {
    const created = await post("/api/v1/conversations", alice, { type: "direct", participant_ids: [bob.id], context: uniqueContext("val"), metadata: { any: { key: 1 } } });
    expect(created.status).toBe(201);
    expect(created.body.metadata).toEqual({ any: { key: 1 } });
    const sent = await sendRest(alice, created.body.id, "hi", { type: "product", data: { product_id: "p1", extra: true } });
    expect(sent.status).toBe(201);
    expect(sent.body.data).toEqual({ product_id: "p1", extra: true });
  });

  it("sending, editing, reading, offers and people endpoints refuse a field they do not know; nothing is written", async () => {
    const id = await freshDirect(alice, bob, "val");
    const first = await sendRest(alice, id, "first");
    const base = `/api/v1/conversations/${id}`;
    expectFieldError(await sendRest(alice, id, "hi", { author_id: bob.id }), "author_id");
    expectFieldError(await callJson(`${base}/messages/${first.body.id}`, { method: "PATCH", token: alice.token, json: { content: "x", pinned: true } }), "pinned");
    expectFieldError(await post(`${base}/read`, alice, { up_to_seq: 1, all: true }), "all");
    expectFieldError(await post(`${base}/offers`, alice, { amount: 10, discount: 1 }), "discount");
    expectFieldError(await post("/api/v1/friends/requests", alice, { user_id: bob.id, note: "hi" }), "note");
    expectFieldError(await post("/api/v1/blocks", alice, { user_id: bob.id, reason: "spam" }), "reason");
    expect((await history(alice, id)).map((m) => m.content)).toEqual(["first"]);
  });

  it("login refuses unknown JSON fields but a form may carry extra fields", async () => {
    const json = await callJson("/api/v1/auth/login", { method: "POST", json: { email: uniqueEmail("val"), password: "x" } });
    expectFieldError(json, "password");
    const form = await callJson("/api/v1/auth/login", { method: "POST", body: new URLSearchParams({ email: uniqueEmail("val"), submit: "Log in" }) });
    expect(form.status).toBe(200);
  });

  it("query strings are not held to their fields", async () => {
    const id = await freshDirect(alice, bob, "val");
    const page = await callJson(`/api/v1/conversations/${id}/messages?limit=5&utm_source=x`, { token: alice.token });
    expect(page.status).toBe(200);
  });
});

describe("messages in plain words", () => {
  it("query parameters: a number, bounds, choices", async () => {
    const id = await freshDirect(alice, bob, "val");
    const notNumber = await callJson(`/api/v1/conversations/${id}/messages?limit=abc`, { token: alice.token });
    expectFieldError(notNumber, "limit");
    expect(detail(notNumber.body, "limit")).toBe("must be a number");
    expect(detail((await callJson(`/api/v1/conversations/${id}/messages?limit=101`, { token: alice.token })).body, "limit")).toBe("must be at most 100");
    expect(detail((await callJson("/api/v1/conversations?status=archived", { token: alice.token })).body, "status")).toBe("must be one of: active, closed");
  });

  it("bodies: choices, required fields, lengths; the message summarises the details", async () => {
    const refused = await post("/api/v1/conversations", alice, { type: "channel", title: "x".repeat(201) });
    expect(refused.body.error.details).toEqual(
      expect.arrayContaining([
        { field: "type", message: "must be one of: direct, group" },
        { field: "title", message: "must be at most 200 characters" },
      ]),
    );
    expect(refused.body.error.message).toContain("type: must be one of: direct, group");
    expect(detail((await post("/api/v1/blocks", alice, {})).body, "user_id")).toBe("is required");
    expect(detail((await post("/api/v1/conversations", alice, { type: "group", participant_ids: 5 })).body, "participant_ids")).toBe("must be a list");
  });
});

describe("unknown fields in socket frames", () => {
  it("the conversation socket answers an error naming each unknown field and stays open; nothing is sent", async () => {
    const id = await freshDirect(alice, bob, "val");
    const socket = await open(id, alice);
    socket.send({ type: "message.send", ref: "u1", client_id: "c1", content: "hi", conversation_id: id, colour: "red" });
    const error = await socket.next("error", (f) => f.ref === "u1");
    expect(error).toMatchObject({ code: "VALIDATION_ERROR" });
    expect(error.details).toEqual(
      expect.arrayContaining([
        { field: "conversation_id", message: "is not a known field" },
        { field: "colour", message: "is not a known field" },
      ]),
    );
    socket.send({ type: "read", ref: "u2", up_to_seq: "1" });
    expect((await socket.next("error", (f) => f.ref === "u2")).details).toEqual([{ field: "up_to_seq", message: "must be a number" }]);
    await barrier(socket);
    expect(socket.closed).toBeNull();
    expect(await history(alice, id)).toEqual([]);
  });

  it("the inbox socket answers an error naming the unknown field and stays open", async () => {
    const inbox = await openInbox(alice);
    inbox.send({ type: "ping", ref: "p1", conversation_id: "x" });
    const error = await inbox.next("error", (f) => f.ref === "p1");
    expect(error).toMatchObject({ code: "VALIDATION_ERROR", details: [{ field: "conversation_id", message: "is not a known field" }] });
    await barrier(inbox);
    expect(inbox.closed).toBeNull();
  });
});
