import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { searchUsersQuery } from "../../src/db/users";
import { callJson, hs256, login, uniqueEmail } from "../helpers/api";
import { expectError, fieldsOf } from "../helpers/assertions";

/** A short prefix no other user in this run shares. */
const uniquePrefix = (label: string) => `${label}${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;

async function loginAs(email: string, name: string) {
  const { status, body } = await callJson("/api/v1/auth/login", { method: "POST", json: { email, name } });
  expect(status).toBe(200);
  return { id: body.user.id as string, email: body.user.email as string, name: body.user.name as string, token: body.access_token as string };
}

async function search(token: string, q: string | null, extra = "") {
  const query = q === null ? extra : `q=${encodeURIComponent(q)}${extra}`;
  return callJson(`/api/v1/users/search${query ? `?${query}` : ""}`, { token });
}

describe("GET /api/v1/users/me", () => {
  it("returns the caller", async () => {
    const me = await login("me", "Mia Me");
    const { status, body } = await callJson("/api/v1/users/me", { token: me.token });
    expect(status).toBe(200);
    expect(body).toEqual({ id: me.id, email: me.email, name: "Mia Me", avatar_url: null, created_at: expect.any(String) });
    expect(new Date(body.created_at).toISOString()).toBe(body.created_at);
  });

  it("needs a valid token", async () => {
    expectError(await callJson("/api/v1/users/me"), 401, "AUTHENTICATION_REQUIRED");
    expectError(await callJson("/api/v1/users/me", { token: "nope" }), 401, "INVALID_TOKEN");
  });
});

describe("PATCH /api/v1/users/me", () => {
  it("changes name and avatar_url, and they persist", async () => {
    const me = await login("patch", "Before");
    const patched = await callJson("/api/v1/users/me", {
      method: "PATCH",
      token: me.token,
      json: { name: "  After Name  ", avatar_url: "https://cdn.example/a.png" },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: me.id, email: me.email, name: "After Name", avatar_url: "https://cdn.example/a.png" });
    const again = await callJson("/api/v1/users/me", { token: me.token });
    expect(again.body).toMatchObject({ name: "After Name", avatar_url: "https://cdn.example/a.png" });
  });

  it("changes only what is sent, and null clears the avatar", async () => {
    const me = await login("patch-one", "Keep Me");
    const avatar = await callJson("/api/v1/users/me", { method: "PATCH", token: me.token, json: { avatar_url: "http://cdn.example/b.jpg" } });
    expect(avatar.status).toBe(200);
    expect(avatar.body).toMatchObject({ name: "Keep Me", avatar_url: "http://cdn.example/b.jpg" });
    const name = await callJson("/api/v1/users/me", { method: "PATCH", token: me.token, json: { name: "Renamed" } });
    expect(name.body).toMatchObject({ name: "Renamed", avatar_url: "http://cdn.example/b.jpg" });
    const cleared = await callJson("/api/v1/users/me", { method: "PATCH", token: me.token, json: { avatar_url: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ name: "Renamed", avatar_url: null });
    const seen = await callJson(`/api/v1/users/${me.id}`, { token: (await login("patch-peer")).token });
    expect(seen.body).toMatchObject({ name: "Renamed", avatar_url: null });
  });

  it("rejects an invalid avatar_url naming avatar_url", async () => {
    const me = await login("patch-bad", "Unchanged");
    for (const avatar_url of ["not a url", "javascript:alert(1)", "ftp://files.example/a.png", 42]) {
      const result = await callJson("/api/v1/users/me", { method: "PATCH", token: me.token, json: { avatar_url } });
      expectError(result, 400, "VALIDATION_ERROR");
      expect(fieldsOf(result.body)).toEqual(["avatar_url"]);
    }
    const after = await callJson("/api/v1/users/me", { token: me.token });
    expect(after.body.avatar_url).toBeNull();
  });

  it("rejects an empty name naming name", async () => {
    const me = await login("patch-empty", "Still Here");
    const result = await callJson("/api/v1/users/me", { method: "PATCH", token: me.token, json: { name: "   " } });
    expectError(result, 400, "VALIDATION_ERROR");
    expect(fieldsOf(result.body)).toEqual(["name"]);
    const tooLong = await callJson("/api/v1/users/me", { method: "PATCH", token: me.token, json: { name: "x".repeat(101) } });
    expectError(tooLong, 400, "VALIDATION_ERROR");
    expect(fieldsOf(tooLong.body)).toEqual(["name"]);
    expect((await callJson("/api/v1/users/me", { token: me.token })).body.name).toBe("Still Here");
  });

  it("rejects an unknown field with 400 and names it", async () => {
    const me = await login("patch-unknown", "Plain");
    const result = await callJson("/api/v1/users/me", { method: "PATCH", token: me.token, json: { name: "Sneaky", email: "hijack@example.com" } });
    expectError(result, 400, "VALIDATION_ERROR");
    // DESIGN.md: VALIDATION_ERROR details name the fields — the unknown key itself, not just "body".
    expect(fieldsOf(result.body)).toContain("email");
    const after = await callJson("/api/v1/users/me", { token: me.token });
    expect(after.body).toMatchObject({ name: "Plain", email: me.email });
  });

  it("rejects malformed JSON and needs a token", async () => {
    const me = await login("patch-json");
    const broken = await callJson("/api/v1/users/me", {
      method: "PATCH",
      token: me.token,
      headers: { "content-type": "application/json" },
      body: "{name:",
    });
    expectError(broken, 400, "VALIDATION_ERROR");
    expectError(await callJson("/api/v1/users/me", { method: "PATCH", json: { name: "x" } }), 401, "AUTHENTICATION_REQUIRED");
  });
});

describe("GET /api/v1/users/{id}", () => {
  it("returns another user", async () => {
    const me = await login("getter");
    const other = await login("gotten", "Gotten One");
    const { status, body } = await callJson(`/api/v1/users/${other.id}`, { token: me.token });
    expect(status).toBe(200);
    expect(body).toEqual({ id: other.id, email: other.email, name: "Gotten One", avatar_url: null, created_at: expect.any(String) });
  });

  it("answers 404 USER_NOT_FOUND for an unknown id", async () => {
    const me = await login("getter-404");
    expectError(await callJson(`/api/v1/users/usr_${crypto.randomUUID()}`, { token: me.token }), 404, "USER_NOT_FOUND");
  });

  it("needs a token", async () => {
    const other = await login("gotten-anon");
    expectError(await callJson(`/api/v1/users/${other.id}`), 401, "AUTHENTICATION_REQUIRED");
  });
});

describe("GET /api/v1/users/search", () => {
  it("finds users by email prefix, case-insensitively, excluding the caller", async () => {
    const prefix = uniquePrefix("em");
    const me = await loginAs(`${prefix}-me@example.com`, "Searcher");
    const ann = await loginAs(`${prefix}-ann@example.com`, "Ann");
    const bob = await loginAs(`${prefix}-bob@example.com`, "Bob");
    await login("unrelated");

    const all = await search(me.token, prefix);
    expect(all.status).toBe(200);
    expect(all.body.users.map((u: any) => u.id).sort()).toEqual([ann.id, bob.id].sort());
    expect(all.body.users.find((u: any) => u.id === ann.id)).toEqual({
      id: ann.id,
      email: ann.email,
      name: "Ann",
      avatar_url: null,
      created_at: expect.any(String),
    });

    const upper = await search(me.token, `${prefix}-A`.toUpperCase());
    expect(upper.status).toBe(200);
    expect(upper.body.users.map((u: any) => u.id)).toEqual([ann.id]);

    const exact = await search(me.token, `  ${bob.email} `);
    expect(exact.body.users.map((u: any) => u.id)).toEqual([bob.id]);

    // The caller matches the prefix too but is never listed.
    const self = await search(me.token, `${prefix}-me`);
    expect(self.status).toBe(200);
    expect(self.body.users).toEqual([]);
  });

  it("finds users by name prefix, case-insensitively", async () => {
    const tag = uniquePrefix("Zx");
    const me = await login("name-searcher");
    const carla = await loginAs(uniqueEmail("c"), `${tag} Carla`);
    const dora = await loginAs(uniqueEmail("d"), `${tag.toLowerCase()}dora`);
    const byName = await search(me.token, tag.toUpperCase());
    expect(byName.status).toBe(200);
    expect(byName.body.users.map((u: any) => u.id).sort()).toEqual([carla.id, dora.id].sort());
    const narrower = await search(me.token, `${tag.toLowerCase()} ca`);
    expect(narrower.body.users.map((u: any) => u.id)).toEqual([carla.id]);
    // Prefix of a word, not substring.
    const middle = await search(me.token, "arla");
    expect(middle.body.users.map((u: any) => u.id)).not.toContain(carla.id);
    const none = await search(me.token, `${tag}-nobody`);
    expect(none.body.users).toEqual([]);
  });

  it("finds users by the prefix of any word of their name, case-insensitively, not by the inside of a word", async () => {
    const tag = uniquePrefix("w");
    const me = await login("word-searcher");
    const seller = await loginAs(uniqueEmail("s"), `Alice ${tag}Seller`);
    const middle = await loginAs(uniqueEmail("m"), `Mary ${tag}Ann Smith`);
    const hyphen = await loginAs(uniqueEmail("h"), `Jean-${tag}Luc`);
    const ids = async (q: string) => (await search(me.token, q)).body.users.map((u: any) => u.id).sort();
    expect(await ids(`${tag}SELL`)).toEqual([seller.id]);
    expect(await ids(`${tag}ann`)).toEqual([middle.id]);
    expect(await ids(`${tag}luc`)).toEqual([hyphen.id]);
    expect(await ids(tag)).toEqual([seller.id, middle.id, hyphen.id].sort());
    expect(await ids(tag.slice(1))).toEqual([]);
  });

  it("words follow renames (PATCH /users/me and login with a new name) and exclude people who blocked the caller", async () => {
    const tag = uniquePrefix("r");
    const me = await login("rename-searcher");
    const renamed = await loginAs(uniqueEmail("r"), `Old ${tag}Before`);
    await callJson("/api/v1/users/me", { method: "PATCH", token: renamed.token, json: { name: `New ${tag}After` } });
    expect((await search(me.token, `${tag}before`)).body.users).toEqual([]);
    expect((await search(me.token, `${tag}after`)).body.users.map((u: any) => u.name)).toEqual([`New ${tag}After`]);
    await loginAs(renamed.email, `Third ${tag}Again`);
    expect((await search(me.token, `${tag}after`)).body.users).toEqual([]);
    expect((await search(me.token, `${tag}again`)).body.users.map((u: any) => u.id)).toEqual([renamed.id]);

    await callJson("/api/v1/blocks", { method: "POST", token: renamed.token, json: { user_id: me.id } });
    expect((await search(me.token, `${tag}again`)).body.users).toEqual([]);
  });

  it("users of an external identity provider are found by the words of their name claim", async () => {
    const tag = uniquePrefix("x");
    const me = await login("idp-searcher");
    const token = await hs256({ sub: `ext-${tag}`, email: uniqueEmail("ext"), name: `Provided ${tag}Person` });
    expect((await callJson("/api/v1/users/me", { token })).status).toBe(200);
    expect((await search(me.token, `${tag}pers`)).body.users.map((u: any) => u.id)).toEqual([`ext-${tag}`]);
  });

  it("users who existed before the name-word index are found once the migration's backfill has run", async () => {
    const tag = uniquePrefix("b");
    const me = await login("backfill-searcher");
    const id = `usr_old_${tag}`;
    const now = new Date().toISOString();
    // A row written the way it was before the index existed: no words.
    await env.DB.prepare("INSERT INTO users (id, email, name, name_lower, created_at, updated_at) VALUES (?, NULL, ?, ?, ?, ?)")
      .bind(id, `Élodie ${tag}-Dupont`, `élodie ${tag}-dupont`, now, now)
      .run();
    expect((await search(me.token, "dupont")).body.users.map((u: any) => u.id)).not.toContain(id);
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.includes("user_name_words"))!;
    await env.DB.prepare(migration.queries.at(-1)!).run();
    expect((await search(me.token, `${tag}`)).body.users.map((u: any) => u.id)).toEqual([id]);
    expect((await search(me.token, "dupon")).body.users.map((u: any) => u.id)).toContain(id);
  });

  it("every part of the search is a range scan over an index, never a scan of users or of the words", async () => {
    const { sql, params } = searchUsersQuery(database(env.DB), "sell", "usr_me", 20).toSQL();
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .bind(...params)
      .all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail);
    expect(details.some((d) => /user_name_words.*\(word>\? AND word<\?\)/.test(d)), details.join("\n")).toBe(true);
    expect(details.filter((d) => /^SCAN (users|user_name_words)\b/.test(d)), details.join("\n")).toEqual([]);
  });

  it("finds a user by a non-ASCII name prefix in any case", async () => {
    const tag = uniquePrefix("");
    const me = await login("intl-searcher");
    const elodie = await loginAs(uniqueEmail("e"), `Élodie${tag}`);
    const exact = await search(me.token, `Élodie${tag}`);
    expect(exact.status).toBe(200);
    expect(exact.body.users.map((u: any) => u.id)).toEqual([elodie.id]);
    const lower = await search(me.token, `élodie${tag}`);
    expect(lower.body.users.map((u: any) => u.id)).toEqual([elodie.id]);
  });

  it("honours limit", async () => {
    const prefix = uniquePrefix("lim");
    const me = await login("limiter");
    for (const n of [1, 2, 3]) await loginAs(`${prefix}-${n}@example.com`, `L${n}`);
    const limited = await search(me.token, prefix, "&limit=2");
    expect(limited.status).toBe(200);
    expect(limited.body.users).toHaveLength(2);
    const bad = await search(me.token, prefix, "&limit=0");
    expectError(bad, 400, "VALIDATION_ERROR");
    expect(fieldsOf(bad.body)).toEqual(["limit"]);
  });

  it("needs q: missing or blank is 400 naming q", async () => {
    const me = await login("no-q");
    const missing = await search(me.token, null);
    expectError(missing, 400, "VALIDATION_ERROR");
    expect(fieldsOf(missing.body)).toEqual(["q"]);
    const blank = await search(me.token, "   ");
    expectError(blank, 400, "VALIDATION_ERROR");
    expect(fieldsOf(blank.body)).toEqual(["q"]);
  });

  it("needs a token", async () => {
    expectError(await search("", "anything"), 401, "AUTHENTICATION_REQUIRED");
  });
});
