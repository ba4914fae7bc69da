import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { SignJWT, type JWTPayload } from "jose";
import { expect } from "vitest";
import worker from "../../src/index";
import { DEV_JWT_SECRET } from "../../src/lib/dev-defaults";

export const BASE = "http://chat.test";

let counter = 0;
/** A unique email per call: test files share D1, so every test makes its own people. */
export function uniqueEmail(label = "user"): string {
  counter++;
  return `${label}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

export interface TestUser {
  id: string;
  email: string;
  name: string;
  token: string;
}

export type CallInit = RequestInit & { token?: string; json?: unknown };

/** A request to the Worker: `token` becomes a bearer header, `json` a JSON body. */
export function buildRequest(path: string, init: CallInit = {}): Request {
  const { token, json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  let body = rest.body;
  if (json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(json);
  }
  return new Request(`${BASE}${path}`, { ...rest, headers, body });
}

export async function call(path: string, init: CallInit = {}): Promise<Response> {
  return exports.default.fetch(buildRequest(path, init));
}

export async function callJson<T = any>(path: string, init: CallInit = {}): Promise<{ status: number; body: T; response: Response }> {
  const response = await call(path, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T, response };
}

/**
 * Calls the Worker module directly with env overrides (and, with `ip`, a client address in
 * cf-connecting-ip), waiting for its waitUntil work. `target` is a path (built like `call`) or a
 * ready Request.
 */
export async function fetchWith(overrides: Record<string, string | undefined>, target: string | Request, init: CallInit & { ip?: string } = {}): Promise<Response> {
  const { ip, ...rest } = init;
  const request = typeof target === "string" ? buildRequest(target, rest) : target;
  if (ip) request.headers.set("cf-connecting-ip", ip);
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, ...overrides } as typeof env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** `fetchWith`, with the body read as text and parsed as JSON when there is one. */
export async function callWith(overrides: Record<string, string | undefined>, target: string | Request, init: CallInit & { ip?: string } = {}) {
  const response = await fetchWith(overrides, target, init);
  const text = await response.text();
  return { status: response.status, text, body: (text ? JSON.parse(text) : null) as any, response };
}

export async function login(label = "user", name?: string): Promise<TestUser> {
  const email = uniqueEmail(label);
  const { status, body } = await callJson("/api/v1/auth/login", { method: "POST", json: { email, name: name ?? label } });
  if (status !== 200) throw new Error(`login failed: ${status} ${JSON.stringify(body)}`);
  return { id: body.user.id, email, name: body.user.name, token: body.access_token };
}

export async function direct(a: TestUser, b: TestUser, context?: Record<string, unknown>): Promise<string> {
  const { status, body } = await callJson("/api/v1/conversations", {
    method: "POST",
    token: a.token,
    json: { type: "direct", participant_ids: [b.id], ...(context && { context }) },
  });
  if (status !== 201 && status !== 200) throw new Error(`create failed: ${status} ${JSON.stringify(body)}`);
  return body.id;
}

let contextCounter = 0;
/** A conversation context no other conversation of the run has. */
export function uniqueContext(label = "test"): { type: string; id: string } {
  contextCounter++;
  return { type: "test", id: `${label}-${Date.now()}-${contextCounter}-${Math.random().toString(36).slice(2, 8)}` };
}

/** A new direct conversation of `a` and `b` (a unique context): a fresh Durable Object, seq from 1, full rate-limit buckets. */
export function freshDirect(a: TestUser, b: TestUser, label = "test"): Promise<string> {
  return direct(a, b, uniqueContext(label));
}

/** A new group made by `creator` with `others`; `extra` adds to or overrides the body. */
export async function group(creator: TestUser, others: TestUser[], extra: Record<string, unknown> = {}): Promise<string> {
  const { status, body } = await callJson("/api/v1/conversations", {
    method: "POST",
    token: creator.token,
    json: { type: "group", title: "group", participant_ids: others.map((u) => u.id), ...extra },
  });
  expect(status).toBe(201);
  return body.id as string;
}

/** Makes `a` and `b` friends: a request from `a` that `b` accepts. */
export async function befriend(a: TestUser, b: TestUser): Promise<void> {
  const request = await callJson("/api/v1/friends/requests", { method: "POST", token: a.token, json: { user_id: b.id } });
  expect(request.status).toBe(201);
  expect((await callJson(`/api/v1/friends/requests/${request.body.id}/accept`, { method: "POST", token: b.token })).status).toBe(200);
}

export function patchConversation(user: { token: string }, conversationId: string, json: unknown) {
  return callJson(`/api/v1/conversations/${conversationId}`, { method: "PATCH", token: user.token, json });
}

export function getConversation(user: { token: string }, conversationId: string) {
  return callJson(`/api/v1/conversations/${conversationId}`, { token: user.token });
}

/** POST …/participants as `actor` (a user, or `{ token }` of an admin), adding `userId` (with `role` when given). */
export function addParticipant(actor: { token: string }, conversationId: string, userId: string, role?: string) {
  return callJson(`/api/v1/conversations/${conversationId}/participants`, { method: "POST", token: actor.token, json: { user_id: userId, ...(role && { role }) } });
}

/** DELETE …/participants/{userId} as `actor`: leaving (oneself) or removing someone. */
export function removeParticipant(actor: { token: string }, conversationId: string, userId: string) {
  return callJson(`/api/v1/conversations/${conversationId}/participants/${userId}`, { method: "DELETE", token: actor.token });
}

/** The first page (up to 100) of `user`'s conversation list, as D1 lists it. */
export async function conversationList(user: { token: string }): Promise<any[]> {
  const { status, body } = await callJson("/api/v1/conversations?limit=100", { token: user.token });
  expect(status).toBe(200);
  return body.conversations;
}

export async function sendRest(user: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}) {
  return callJson(`/api/v1/conversations/${conversationId}/messages`, {
    method: "POST",
    token: user.token,
    json: { content, ...extra },
  });
}

/** One GET of a conversation's messages, `query` as given (e.g. "?limit=2"). */
export function listMessages(user: { token: string }, conversationId: string, query = "") {
  return callJson(`/api/v1/conversations/${conversationId}/messages${query}`, { token: user.token });
}

/**
 * Every message of a conversation in ascending seq, paging forward 100 at a time, as the log
 * holds it: without the `status` a history page adds to the viewer's own messages (it moves
 * as others read), so it compares equal to what sockets delivered.
 */
export async function history(user: { token: string }, conversationId: string): Promise<any[]> {
  const all: any[] = [];
  let after = 0;
  for (let page = 0; page < 50; page++) {
    const { status, body } = await listMessages(user, conversationId, `?after_seq=${after}&limit=100`);
    expect(status).toBe(200);
    all.push(...body.messages.map(({ status: _status, ...message }: { status?: string }) => message));
    if (!body.has_more) return all;
    after = body.messages[body.messages.length - 1].seq;
  }
  throw new Error("history did not end");
}

// ── self-signed tokens ──

/** The JWT_SECRET of local development (and of these tests). */
export const DEV_SECRET = DEV_JWT_SECRET;
export const secretKey = (secret = DEV_SECRET) => new TextEncoder().encode(secret);
export const nowSec = () => Math.floor(Date.now() / 1000);

/** An HS256 token (typ JWT, iat now) signed with the dev secret or another; exp an hour ahead unless given (null: none). */
export async function hs256(claims: JWTPayload, options: { secret?: string; exp?: number | null; alg?: string } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" }).setIssuedAt();
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? nowSec() + 3600);
  return jwt.sign(secretKey(options.secret));
}

/** `user`'s identity with roles:["admin"]. */
export function signAdminToken(user: TestUser): Promise<string> {
  return hs256({ sub: user.id, email: user.email, roles: ["admin"] });
}

/** A token of the app's backend (roles:["service"]); its `sub` names the backend. */
export function serviceToken(name = "svc:test"): Promise<string> {
  return hs256({ sub: name, roles: ["service"] });
}
