import { exports } from "cloudflare:workers";

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

export async function call(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers, body }));
}

export async function callJson<T = any>(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<{ status: number; body: T; response: Response }> {
  const response = await call(path, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T, response };
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

export async function sendRest(user: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}) {
  return callJson(`/api/v1/conversations/${conversationId}/messages`, {
    method: "POST",
    token: user.token,
    json: { content, ...extra },
  });
}
