import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, callJson, callWith, DEV_SECRET, direct, hs256, login, nowSec, secretKey, signAdminToken, uniqueEmail } from "../helpers/api";
import { expectError, fieldsOf } from "../helpers/assertions";
import { TestSocket, upgrade } from "../helpers/sockets";
import { sleep } from "../helpers/wait";

function b64url(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

describe("dev login", () => {
  it("logs in with a JSON body and returns a bearer token and the user", async () => {
    const email = uniqueEmail("json");
    const { status, body } = await callJson("/api/v1/auth/login", { method: "POST", json: { email, name: "Jason", avatar_url: "https://img.example/j.png" } });
    expect(status).toBe(200);
    expect(body.token_type).toBe("bearer");
    expect(body.expires_in).toBe(86400);
    expect(body.access_token.split(".")).toHaveLength(3);
    expect(body.user).toMatchObject({ email, name: "Jason", avatar_url: "https://img.example/j.png" });
    expect(typeof body.user.id).toBe("string");
    expect(new Date(body.user.created_at).toISOString()).toBe(body.user.created_at);
    const me = await callJson("/api/v1/users/me", { token: body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(body.user.id);
  });

  it("logs in with a form-encoded body", async () => {
    const email = uniqueEmail("form");
    const { status, body } = await callJson("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email, name: "Formal" }).toString(),
    });
    expect(status).toBe(200);
    expect(body.token_type).toBe("bearer");
    expect(body.user).toMatchObject({ email, name: "Formal", avatar_url: null });
    const me = await callJson("/api/v1/users/me", { token: body.access_token });
    expect(me.body.email).toBe(email);
  });

  it("gives the same user id for the same email (any case), refreshing the name", async () => {
    const email = uniqueEmail("twice");
    const first = await callJson("/api/v1/auth/login", { method: "POST", json: { email, name: "First" } });
    const second = await callJson("/api/v1/auth/login", { method: "POST", json: { email } });
    const third = await callJson("/api/v1/auth/login", { method: "POST", json: { email: email.toUpperCase(), name: "Third" } });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(third.status).toBe(200);
    expect(second.body.user.id).toBe(first.body.user.id);
    expect(second.body.user.name).toBe("First");
    expect(third.body.user.id).toBe(first.body.user.id);
    expect(third.body.user.email).toBe(email);
    expect(third.body.user.name).toBe("Third");
    const other = await callJson("/api/v1/auth/login", { method: "POST", json: { email: uniqueEmail("twice") } });
    expect(other.body.user.id).not.toBe(first.body.user.id);
  });

  it("rejects an invalid email with VALIDATION_ERROR naming email", async () => {
    const result = await callJson("/api/v1/auth/login", { method: "POST", json: { email: "not-an-email" } });
    expectError(result, 400, "VALIDATION_ERROR");
    expect(fieldsOf(result.body)).toContain("email");
  });

  it("rejects an invalid email in a form body naming email", async () => {
    const result = await callJson("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "email=nope",
    });
    expectError(result, 400, "VALIDATION_ERROR");
    expect(fieldsOf(result.body)).toContain("email");
  });

  it("rejects a missing email naming email", async () => {
    const result = await callJson("/api/v1/auth/login", { method: "POST", json: { name: "Nobody" } });
    expectError(result, 400, "VALIDATION_ERROR");
    expect(fieldsOf(result.body)).toEqual(["email"]);
  });

  it("rejects a bad avatar_url naming avatar_url", async () => {
    const result = await callJson("/api/v1/auth/login", { method: "POST", json: { email: uniqueEmail("av"), avatar_url: "javascript:alert(1)" } });
    expectError(result, 400, "VALIDATION_ERROR");
    expect(fieldsOf(result.body)).toEqual(["avatar_url"]);
  });

  it("rejects malformed JSON with VALIDATION_ERROR", async () => {
    const result = await callJson("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"email": "broken@example.com"',
    });
    expectError(result, 400, "VALIDATION_ERROR");
    expect(result.body.error.details).toHaveLength(1);
  });
});

describe("REST token verification", () => {
  it("accepts a valid HS256 token (and a lower-case bearer scheme)", async () => {
    const user = await login("valid");
    const ok = await callJson("/api/v1/users/me", { token: user.token });
    expect(ok.status).toBe(200);
    expect(ok.body.id).toBe(user.id);
    const lower = await callJson("/api/v1/users/me", { headers: { authorization: `bearer ${user.token}` } });
    expect(lower.status).toBe(200);
    expect(lower.body.id).toBe(user.id);
  });

  it("requires a token: 401 AUTHENTICATION_REQUIRED", async () => {
    expectError(await callJson("/api/v1/users/me"), 401, "AUTHENTICATION_REQUIRED");
    expectError(await callJson("/api/v1/conversations"), 401, "AUTHENTICATION_REQUIRED");
    expectError(await callJson("/api/v1/users/me", { headers: { authorization: "Basic dXNlcjpwYXNz" } }), 401, "AUTHENTICATION_REQUIRED");
  });

  it("rejects a garbage token: 401 INVALID_TOKEN", async () => {
    expectError(await callJson("/api/v1/users/me", { token: "garbage" }), 401, "INVALID_TOKEN");
    expectError(await callJson("/api/v1/users/me", { token: "a.b.c" }), 401, "INVALID_TOKEN");
  });

  it("rejects a token signed with another secret", async () => {
    const user = await login("forged");
    const forged = await hs256({ sub: user.id, email: user.email }, { secret: "not-the-server-secret-at-all-0123456789" });
    expectError(await callJson("/api/v1/users/me", { token: forged }), 401, "INVALID_TOKEN");
  });

  it("rejects a token with a tampered payload", async () => {
    const user = await login("tamper");
    const victim = await login("victim");
    const [header, , signature] = user.token.split(".");
    const payload = b64url({ sub: victim.id, exp: nowSec() + 3600, roles: ["admin"] });
    expectError(await callJson("/api/v1/users/me", { token: `${header}.${payload}.${signature}` }), 401, "INVALID_TOKEN");
  });

  it("rejects an alg:none token", async () => {
    const user = await login("none");
    const token = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: user.id, email: user.email, exp: nowSec() + 3600 })}.`;
    expectError(await callJson("/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("rejects an HS512 token signed with the right secret (algorithm pinned)", async () => {
    const user = await login("hs512");
    const token = await hs256({ sub: user.id }, { alg: "HS512" });
    expectError(await callJson("/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("rejects an expired token", async () => {
    const user = await login("expired");
    const token = await hs256({ sub: user.id, email: user.email }, { exp: nowSec() - 60 });
    const result = await callJson("/api/v1/users/me", { token });
    expectError(result, 401, "INVALID_TOKEN");
    expect(result.body.error.message).toMatch(/expired/);
  });

  it("rejects a token without exp", async () => {
    const user = await login("noexp");
    const token = await hs256({ sub: user.id, email: user.email }, { exp: null });
    expectError(await callJson("/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("rejects a token without sub", async () => {
    const token = await hs256({ email: uniqueEmail("nosub") });
    expectError(await callJson("/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("provisions the user of a valid token it has not seen", async () => {
    const sub = `ext-${crypto.randomUUID()}`;
    const email = uniqueEmail("ext");
    const token = await hs256({ sub, email: email.toUpperCase(), name: "Ext Ernal" });
    const me = await callJson("/api/v1/users/me", { token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: sub, email, name: "Ext Ernal", avatar_url: null });
  });
});

describe("external identity provider (JWKS)", () => {
  const ISSUER = "https://idp.example/";
  const AUDIENCE = "chat-api";
  const realFetch = globalThis.fetch;

  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function provider() {
    const jwksUrl = `https://idp.example/${crypto.randomUUID()}/jwks.json`;
    const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "key-1", alg: "RS256", use: "sig" };
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (url === jwksUrl) return Response.json({ keys: [jwk] });
      return realFetch(input, init);
    });
    const overrides = { JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };
    const sign = (claims: JWTPayload, opts: { key?: CryptoKey; kid?: string; iss?: string; aud?: string; exp?: number } = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: opts.kid ?? "key-1", typ: "JWT" })
        .setIssuer(opts.iss ?? ISSUER)
        .setAudience(opts.aud ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(opts.exp ?? nowSec() + 3600)
        .sign(opts.key ?? privateKey);
    return { jwksUrl, jwk, spy, overrides, sign, publicKey };
  }

  const jwksCalls = (spy: { mock: { calls: unknown[][] } }, url: string) =>
    spy.mock.calls.filter(([input]) => (typeof input === "string" ? input : input instanceof URL ? input.href : (input as Request).url) === url).length;

  it("accepts a valid RS256 token and provisions the user from its claims", async () => {
    const idp = await provider();
    const sub = `idp|${crypto.randomUUID()}`;
    const email = uniqueEmail("idp");
    const token = await idp.sign({ sub, email, name: "Ida Provider" });
    const me = await callWith(idp.overrides, "/api/v1/users/me", { token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: sub, email, name: "Ida Provider", avatar_url: null });
    expect(jwksCalls(idp.spy, idp.jwksUrl)).toBeGreaterThanOrEqual(1);
    // The provisioned user is a real user: others find it by id.
    const other = await login("idp-peer");
    const seen = await callJson(`/api/v1/users/${encodeURIComponent(sub)}`, { token: other.token });
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ id: sub, email, name: "Ida Provider" });
  });

  it("rejects a token for another audience", async () => {
    const idp = await provider();
    const token = await idp.sign({ sub: `idp|${crypto.randomUUID()}` }, { aud: "some-other-api" });
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("rejects a token from another issuer", async () => {
    const idp = await provider();
    const token = await idp.sign({ sub: `idp|${crypto.randomUUID()}` }, { iss: "https://evil.example/" });
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("rejects an expired RS256 token", async () => {
    const idp = await provider();
    const token = await idp.sign({ sub: `idp|${crypto.randomUUID()}` }, { exp: nowSec() - 60 });
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("rejects a token signed by another RS256 key (same kid, and unknown kid)", async () => {
    const idp = await provider();
    const { privateKey: otherKey } = await generateKeyPair("RS256", { extractable: true });
    const sameKid = await idp.sign({ sub: `idp|${crypto.randomUUID()}` }, { key: otherKey });
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token: sameKid }), 401, "INVALID_TOKEN");
    const otherKid = await idp.sign({ sub: `idp|${crypto.randomUUID()}` }, { key: otherKey, kid: "key-unknown" });
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token: otherKid }), 401, "INVALID_TOKEN");
  });

  it("refuses RS256 tokens when no JWKS is configured", async () => {
    const idp = await provider();
    const token = await idp.sign({ sub: `idp|${crypto.randomUUID()}` });
    expectError(await callWith({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE }, "/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("still verifies HS256 tokens against JWT_SECRET, with issuer and audience checked", async () => {
    const idp = await provider();
    const sub = `hs|${crypto.randomUUID()}`;
    const good = await new SignJWT({ sub, name: "Hash Man" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(nowSec() + 600)
      .sign(secretKey());
    const me = await callWith(idp.overrides, "/api/v1/users/me", { token: good });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: sub, name: "Hash Man" });

    // A dev-login style token (no iss/aud) no longer passes once issuer and audience are configured.
    const plain = await hs256({ sub });
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token: plain }), 401, "INVALID_TOKEN");

    // Right claims, wrong secret.
    const forged = await new SignJWT({ sub })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(nowSec() + 600)
      .sign(secretKey("another-secret-another-secret-another"));
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token: forged }), 401, "INVALID_TOKEN");
  });

  it("refuses algorithm confusion: HS256 keyed with the provider's public key", async () => {
    const idp = await provider();
    const spki = new TextEncoder().encode(JSON.stringify(idp.jwk));
    const token = await new SignJWT({ sub: `idp|${crypto.randomUUID()}` })
      .setProtectedHeader({ alg: "HS256", kid: "key-1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(nowSec() + 600)
      .sign(spki);
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("refuses an alg:none token with provider claims", async () => {
    const idp = await provider();
    const token = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({
      sub: `idp|${crypto.randomUUID()}`,
      iss: ISSUER,
      aud: AUDIENCE,
      exp: nowSec() + 600,
    })}.`;
    expectError(await callWith(idp.overrides, "/api/v1/users/me", { token }), 401, "INVALID_TOKEN");
  });

  it("takes roles from the provider token", async () => {
    const idp = await provider();
    const a = await login("idp-a");
    const b = await login("idp-b");
    const conversation = await direct(a, b);
    const admin = await idp.sign({ sub: `idp|${crypto.randomUUID()}`, roles: ["admin"] });
    const seen = await callWith(idp.overrides, `/api/v1/conversations/${conversation}`, { token: admin });
    expect(seen.status).toBe(200);
    expect(seen.body.id).toBe(conversation);
    const plain = await idp.sign({ sub: `idp|${crypto.randomUUID()}` });
    expectError(await callWith(idp.overrides, `/api/v1/conversations/${conversation}`, { token: plain }), 403, "CHAT_ACCESS_DENIED");
  });
});

describe("admin role", () => {
  async function scene() {
    const a = await login("adm-a");
    const b = await login("adm-b");
    const outsider = await login("adm-x");
    const conversation = await direct(a, b);
    return { a, b, outsider, conversation, unknown: `cnv_missing_${crypto.randomUUID()}` };
  }

  it("a roles:[admin] token reads any conversation and learns 404 for unknown ids", async () => {
    const { outsider, conversation, unknown } = await scene();
    const adminToken = await signAdminToken(outsider);
    const seen = await callJson(`/api/v1/conversations/${conversation}`, { token: adminToken });
    expect(seen.status).toBe(200);
    expect(seen.body.id).toBe(conversation);
    expect(seen.body.participants).toHaveLength(2);
    expectError(await callJson(`/api/v1/conversations/${unknown}`, { token: adminToken }), 404, "CONVERSATION_NOT_FOUND");
  });

  it("a non-admin gets 403 CHAT_ACCESS_DENIED for someone else's and for an unknown conversation", async () => {
    const { outsider, conversation, unknown } = await scene();
    expectError(await callJson(`/api/v1/conversations/${conversation}`, { token: outsider.token }), 403, "CHAT_ACCESS_DENIED");
    expectError(await callJson(`/api/v1/conversations/${unknown}`, { token: outsider.token }), 403, "CHAT_ACCESS_DENIED");
    const noRoles = await hs256({ sub: outsider.id, roles: ["moderator"] });
    expectError(await callJson(`/api/v1/conversations/${conversation}`, { token: noRoles }), 403, "CHAT_ACCESS_DENIED");
  });

  it("ADMIN_EMAILS makes a user admin", async () => {
    const { outsider, conversation, unknown } = await scene();
    const overrides = { ADMIN_EMAILS: ` someone@example.com , ${outsider.email.toUpperCase()}` };
    const seen = await callWith(overrides, `/api/v1/conversations/${conversation}`, { token: outsider.token });
    expect(seen.status).toBe(200);
    expect(seen.body.id).toBe(conversation);
    expectError(await callWith(overrides, `/api/v1/conversations/${unknown}`, { token: outsider.token }), 404, "CONVERSATION_NOT_FOUND");
    // Another list: not an admin.
    const other = { ADMIN_EMAILS: "someone@example.com" };
    expectError(await callWith(other, `/api/v1/conversations/${conversation}`, { token: outsider.token }), 403, "CHAT_ACCESS_DENIED");
  });
});

/** A deployment: wrangler.toml's [vars] without the .dev.vars that `npm run dev` adds. */
const DEPLOYED = { ENVIRONMENT: undefined, DEV_LOGIN: undefined, JWT_SECRET: undefined };
const REAL_SECRET = "a-real-production-secret-0123456789abcdef";

describe("deployment guard", () => {
  it("refuses to sign with the development secret outside local development: 500 INTERNAL without a stack", async () => {
    const result = await callWith({ ...DEPLOYED, DEV_LOGIN: "true", JWT_SECRET: DEV_SECRET }, "/api/v1/auth/login", {
      method: "POST",
      json: { email: uniqueEmail("prod") },
    });
    expectError(result, 500, "INTERNAL");
    expect(result.body.error.details).toEqual([]);
    expect(result.text).not.toMatch(/\bat\s+\S+\s*\(|stack|\.ts:\d+|Error:/);
  });

  it("refuses to verify with the development secret outside local development", async () => {
    const user = await login("prod-verify");
    const result = await callWith({ ...DEPLOYED, JWT_SECRET: DEV_SECRET }, "/api/v1/users/me", { token: user.token });
    expectError(result, 500, "INTERNAL");
    expect(result.text).not.toMatch(/\bat\s+\S+\s*\(|stack|\.ts:\d+/);
  });

  it("with no JWT_SECRET at all, nothing is signed or verified", async () => {
    const user = await login("prod-nosecret");
    expectError(await callWith({ ...DEPLOYED }, "/api/v1/users/me", { token: user.token }), 500, "INTERNAL");
  });

  it("with a real secret, dev login works only when explicitly enabled", async () => {
    const result = await callWith({ ...DEPLOYED, DEV_LOGIN: "true", JWT_SECRET: REAL_SECRET }, "/api/v1/auth/login", {
      method: "POST",
      json: { email: uniqueEmail("prod-ok") },
    });
    expect(result.status).toBe(200);
    // That token is signed with the production secret, not the development one.
    expectError(await callJson("/api/v1/users/me", { token: result.body.access_token }), 401, "INVALID_TOKEN");
  });

  it("a missing DEV_LOGIN means off, and so does DEV_LOGIN false: login is 404 NOT_FOUND", async () => {
    for (const devLogin of [undefined, "false", "1"]) {
      const result = await callWith({ ...DEPLOYED, DEV_LOGIN: devLogin, JWT_SECRET: REAL_SECRET }, "/api/v1/auth/login", {
        method: "POST",
        json: { email: uniqueEmail("prod-off") },
      });
      expectError(result, 404, "NOT_FOUND");
    }
  });
});

describe("WebSocket authentication", () => {
  async function pair() {
    const a = await login("ws-a");
    const b = await login("ws-b");
    return { a, b, conversation: await direct(a, b) };
  }

  async function open(response: Response): Promise<TestSocket> {
    expect(response.status).toBe(101);
    expect(response.webSocket).toBeTruthy();
    response.webSocket!.accept();
    return new TestSocket(response.webSocket!);
  }

  async function errorOf(response: Response) {
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) };
  }

  it("ws-ticket needs authentication", async () => {
    expectError(await callJson("/api/v1/auth/ws-ticket", { method: "POST" }), 401, "AUTHENTICATION_REQUIRED");
    expectError(await callJson("/api/v1/auth/ws-ticket", { method: "POST", token: "garbage" }), 401, "INVALID_TOKEN");
  });

  it("a ticket opens a conversation socket once", async () => {
    const { a, conversation } = await pair();
    const issued = await callJson("/api/v1/auth/ws-ticket", { method: "POST", token: a.token });
    expect(issued.status).toBe(200);
    expect(issued.body.expires_in).toBe(30);
    expect(typeof issued.body.ticket).toBe("string");
    const path = `/api/v1/conversations/${conversation}/ws?ticket=${encodeURIComponent(issued.body.ticket)}`;

    const socket = await open(await upgrade(path));
    const hello = await socket.next("hello");
    expect(hello.user_id).toBe(a.id);
    expect(hello.conversation_id).toBe(conversation);
    socket.close();

    expectError(await errorOf(await upgrade(path)), 401, "INVALID_TOKEN");
  });

  it("a ticket is refused once the token it was issued under has expired, though the ticket itself has not", async () => {
    const { a, conversation } = await pair();
    const exp = nowSec() + 2;
    const shortLived = await hs256({ sub: a.id, email: a.email, name: "ws-a" }, { exp });
    const ticket = async () => {
      const issued = await callJson("/api/v1/auth/ws-ticket", { method: "POST", token: shortLived });
      expect(issued.status).toBe(200);
      return encodeURIComponent(issued.body.ticket as string);
    };
    const [before, forConversation, forInbox] = [await ticket(), await ticket(), await ticket()];

    const socket = await open(await upgrade(`/api/v1/conversations/${conversation}/ws?ticket=${before}`));
    expect((await socket.next("hello")).user_id).toBe(a.id);
    socket.close();

    await sleep(Math.max(0, exp * 1000 - Date.now()) + 50);
    expectError(await errorOf(await upgrade(`/api/v1/conversations/${conversation}/ws?ticket=${forConversation}`)), 401, "INVALID_TOKEN");
    expectError(await errorOf(await upgrade(`/api/v1/ws?ticket=${forInbox}`)), 401, "INVALID_TOKEN");
  }, 15_000);

  it("an unknown ticket is refused", async () => {
    const { conversation } = await pair();
    expectError(await errorOf(await upgrade(`/api/v1/conversations/${conversation}/ws?ticket=tkt_nope`)), 401, "INVALID_TOKEN");
  });

  it("a ticket does not open someone else's conversation", async () => {
    const { conversation } = await pair();
    const outsider = await login("ws-x");
    const issued = await callJson("/api/v1/auth/ws-ticket", { method: "POST", token: outsider.token });
    const response = await upgrade(`/api/v1/conversations/${conversation}/ws?ticket=${encodeURIComponent(issued.body.ticket)}`);
    expectError(await errorOf(response), 403, "CHAT_ACCESS_DENIED");
  });

  it("authenticates a socket by Authorization header", async () => {
    const { b, conversation } = await pair();
    const socket = await open(await upgrade(`/api/v1/conversations/${conversation}/ws`, { authorization: `Bearer ${b.token}` }));
    const hello = await socket.next("hello");
    expect(hello.user_id).toBe(b.id);
    socket.close();
  });

  it("authenticates a socket by ?token=", async () => {
    const { a, conversation } = await pair();
    const socket = await open(await upgrade(`/api/v1/conversations/${conversation}/ws?token=${encodeURIComponent(a.token)}`));
    const hello = await socket.next("hello");
    expect(hello.user_id).toBe(a.id);
    socket.close();
  });

  it("refuses a socket with a bad token or none", async () => {
    const { a, conversation } = await pair();
    expectError(await errorOf(await upgrade(`/api/v1/conversations/${conversation}/ws?token=garbage`)), 401, "INVALID_TOKEN");
    expectError(
      await errorOf(await upgrade(`/api/v1/conversations/${conversation}/ws`, { authorization: "Bearer not.a.jwt" })),
      401,
      "INVALID_TOKEN",
    );
    const expired = await hs256({ sub: a.id }, { exp: nowSec() - 10 });
    expectError(await errorOf(await upgrade(`/api/v1/conversations/${conversation}/ws?token=${expired}`)), 401, "INVALID_TOKEN");
    expectError(await errorOf(await upgrade(`/api/v1/conversations/${conversation}/ws`)), 401, "AUTHENTICATION_REQUIRED");
  });

  it("refuses a socket to a non-participant", async () => {
    const { conversation } = await pair();
    const outsider = await login("ws-y");
    const response = await upgrade(`/api/v1/conversations/${conversation}/ws?token=${encodeURIComponent(outsider.token)}`);
    expectError(await errorOf(response), 403, "CHAT_ACCESS_DENIED");
  });
});

describe("routing and docs", () => {
  it("unknown routes are 404 NOT_FOUND JSON", async () => {
    const result = await callJson("/api/v1/does-not-exist");
    expectError(result, 404, "NOT_FOUND");
    expect(result.response.headers.get("content-type")).toMatch(/application\/json/);
    expectError(await callJson("/api/v2/users/me"), 404, "NOT_FOUND");
    expectError(await callJson("/api/v1/auth/login"), 404, "NOT_FOUND"); // GET on a POST route
  });

  it("GET /health", async () => {
    const { status, body } = await callJson("/health");
    expect(status).toBe(200);
    expect(body).toEqual({ status: "ok" });
  });

  it("GET /openapi.json describes the API", async () => {
    const { status, body, response } = await callJson("/openapi.json");
    expect(status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    expect(body.openapi).toMatch(/^3\./);
    expect(Object.keys(body.paths)).toContain("/api/v1/conversations");
    expect(Object.keys(body.paths)).toContain("/api/v1/auth/login");
    expect(Object.keys(body.paths)).toContain("/api/v1/users/me");
    expect(body.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("GET /docs is HTML", async () => {
    const response = await call("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain("/openapi.json");
  });
});
