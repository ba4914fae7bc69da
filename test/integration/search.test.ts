// Full-text search in one conversation (GET …/messages?q=) and across the caller's conversations
// (GET /api/v1/search/messages), through the Worker.
import { describe, expect, it } from "vitest";
import { addParticipant, callJson, freshDirect, group, login, removeParticipant, sendRest, signAdminToken, type TestUser } from "../helpers/api";
import { expectError, expectFieldError } from "../helpers/assertions";
import { SearchIndex } from "../../src/conversation/search-index";
import { migrate, SCHEMA_VERSION, StateStore } from "../../src/conversation/storage";
import { runInside, stubOf } from "../helpers/objects";
import { range } from "../helpers/wait";

type Page = { messages: { id: string; seq: number; content: string | null; conversation_id: string }[]; has_more: boolean };

function search(user: { token: string }, conversationId: string, query: string) {
  return callJson<Page>(`/api/v1/conversations/${conversationId}/messages?${query}`, { token: user.token });
}

/** The contents found for `q` (newest first), asserting a 200. */
async function found(user: { token: string }, conversationId: string, q: string): Promise<(string | null)[]> {
  const res = await search(user, conversationId, `q=${encodeURIComponent(q)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.messages.map((m) => m.content);
}

async function sent(user: TestUser, conversationId: string, content: string) {
  const res = await sendRest(user, conversationId, content);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; seq: number };
}

function searchAll(user: { token: string }, query: string) {
  return callJson<{ results: { conversation_id: string; message: Page["messages"][number] }[] }>(`/api/v1/search/messages?${query}`, { token: user.token });
}

/** The conversation object's search index, looked at from inside. */
type Inside = { chat: { save(): void; log: { lastSeq: number }; search: { pending(lastSeq: number): number } } };
const partsOf = (instance: Record<string, unknown>) => instance.parts as Inside;
const pendingIndex = (conversationId: string) => runInside(stubOf(conversationId), (instance) => partsOf(instance).chat.search.pending(partsOf(instance).chat.log.lastSeq));
const saveNow = (conversationId: string) => runInside(stubOf(conversationId), (instance) => partsOf(instance).chat.save());

async function pair(label: string) {
  const [a, b] = await Promise.all([login(`${label}-a`), login(`${label}-b`)]);
  return { a, b, id: await freshDirect(a, b, label) };
}

describe("search in a conversation", () => {
  it("finds every word, the last one also as a prefix, ignoring case and accents, newest first", async () => {
    const { a, b, id } = await pair("words");
    await sent(a, id, "I love my red bicycle");
    await sent(b, id, "The bike is blue");
    await sent(a, id, "Café au lait at noon?");
    await sent(b, id, "A red bicycle and a blue one");
    expect(await found(b, id, "bicycle")).toEqual(["A red bicycle and a blue one", "I love my red bicycle"]);
    expect(await found(b, id, "bicyc")).toEqual(["A red bicycle and a blue one", "I love my red bicycle"]);
    expect(await found(a, id, "BICYCLE love")).toEqual(["I love my red bicycle"]); // every word, in any order
    expect(await found(a, id, "blue bicycle")).toEqual(["A red bicycle and a blue one"]);
    expect(await found(a, id, "cafe")).toEqual(["Café au lait at noon?"]);
    expect(await found(a, id, "red, blue!")).toEqual(["A red bicycle and a blue one"]);
    expect(await found(a, id, "bicyc red")).toEqual([]); // only the last word is a prefix
    expect(await found(a, id, "train")).toEqual([]);
  });

  it("takes the user's text as words only: operators, quotes and stars are not FTS syntax", async () => {
    const { a, id } = await pair("inject");
    await sent(a, id, "apples or pears");
    await sent(a, id, "NEAR the door");
    expect(await found(a, id, 'apples" OR "zzz')).toEqual([]); // OR is a word here, and "zzz" must match too
    expect(await found(a, id, "apples OR")).toEqual(["apples or pears"]);
    expect(await found(a, id, "NEAR(door")).toEqual(["NEAR the door"]);
    expect(await found(a, id, "pears*) OR (x")).toEqual([]);
    expect(await found(a, id, "-apples ^pears")).toEqual(["apples or pears"]);
    expect(await found(a, id, "col:apples")).toEqual([]);
  });

  it("refuses a text with no word, too many words, after_seq with q, and a limit outside 1–100: 400 VALIDATION_ERROR", async () => {
    const { a, id } = await pair("refused");
    await sent(a, id, "hello");
    for (const q of ["", "   ", '"', "*", "()-:^", "\"'*"]) expectFieldError(await search(a, id, `q=${encodeURIComponent(q)}`), "q");
    expectFieldError(await search(a, id, `q=${range(1, 17).map((n) => `w${n}`).join("+")}`), "q");
    expectFieldError(await search(a, id, `q=${"x".repeat(257)}`), "q");
    expectFieldError(await search(a, id, "q=hello&after_seq=0"), "after_seq");
    expectFieldError(await search(a, id, "q=hello&limit=101"), "limit");
    expectFieldError(await search(a, id, "q=hello&limit=0"), "limit");
    expect((await search(a, id, "q=hello&limit=100")).status).toBe(200);
  });

  it("pages newest first with before_seq = the smallest seq returned", async () => {
    const { a, b, id } = await pair("paging");
    for (const n of range(1, 5)) await sent(n % 2 ? a : b, id, `apple number ${n}`);
    await sent(a, id, "a pear in between");
    await sent(b, id, "apple number 6");
    const seqsOf = (page: Page) => page.messages.map((m) => m.seq);
    const first = await search(a, id, "q=apple&limit=3");
    expect(first.status).toBe(200);
    expect(seqsOf(first.body)).toEqual([7, 5, 4]);
    expect(first.body.has_more).toBe(true);
    const second = await search(a, id, "q=apple&limit=3&before_seq=4");
    expect(seqsOf(second.body)).toEqual([3, 2, 1]);
    expect(second.body.has_more).toBe(false);
    const all = await search(a, id, "q=apple");
    expect(seqsOf(all.body)).toEqual([7, 5, 4, 3, 2, 1]);
    expect(all.body.has_more).toBe(false);
  });

  it("follows edits: the old words no longer match and the new ones do, whether or not the message was indexed yet", async () => {
    const { a, id } = await pair("edits");
    const early = await sent(a, id, "meet at the station");
    expect(await found(a, id, "station")).toEqual(["meet at the station"]); // indexed now
    const late = await sent(a, id, "bring the umbrella");
    expect(await pendingIndex(id)).toBe(1); // a send writes nothing to the index
    for (const [message, content] of [[early, "meet at the airport"], [late, "bring the raincoat"]] as const) {
      const edited = await callJson(`/api/v1/conversations/${id}/messages/${message.id}`, { method: "PATCH", token: a.token, json: { content } });
      expect(edited.status).toBe(200);
    }
    expect(await found(a, id, "station")).toEqual([]);
    expect(await found(a, id, "umbrella")).toEqual([]);
    expect(await found(a, id, "airport")).toEqual(["meet at the airport"]);
    expect(await found(a, id, "raincoat")).toEqual(["bring the raincoat"]);
    expect(await found(a, id, "meet")).toEqual(["meet at the airport"]);
    // Edited again once indexed: still exactly one entry, with the newest words.
    await callJson(`/api/v1/conversations/${id}/messages/${early.id}`, { method: "PATCH", token: a.token, json: { content: "meet at the harbour" } });
    expect(await found(a, id, "airport")).toEqual([]);
    expect(await found(a, id, "meet")).toEqual(["meet at the harbour"]);
  });

  it("never finds a deleted message, indexed or not, also for an admin", async () => {
    const { a, b, id } = await pair("deleted");
    const indexed = await sent(a, id, "secret plan alpha");
    expect(await found(b, id, "secret")).toEqual(["secret plan alpha"]);
    const unindexed = await sent(a, id, "secret plan beta");
    await sent(a, id, "secret plan gamma");
    for (const message of [indexed, unindexed]) {
      expect((await callJson(`/api/v1/conversations/${id}/messages/${message.id}`, { method: "DELETE", token: a.token })).status).toBe(200);
    }
    expect(await found(b, id, "secret")).toEqual(["secret plan gamma"]);
    expect(await found(b, id, "alpha")).toEqual([]);
    expect(await found({ token: await signAdminToken(b) }, id, "beta")).toEqual([]);
  });

  it("is for participants (and admins) only: anyone else gets 403 CHAT_ACCESS_DENIED, for an unknown id too", async () => {
    const { a, b, id } = await pair("access");
    const [outsider, member] = await Promise.all([login("access-outsider"), login("access-member")]);
    await sent(a, id, "private words");
    expectError(await search(outsider, id, "q=private"), 403, "CHAT_ACCESS_DENIED");
    expectError(await search(outsider, "conv_does_not_exist", "q=private"), 403, "CHAT_ACCESS_DENIED");
    const admin = { token: await signAdminToken(outsider) };
    expect(await found(admin, id, "private")).toEqual(["private words"]);
    expectError(await search(admin, "conv_does_not_exist", "q=private"), 404, "CONVERSATION_NOT_FOUND");

    const groupId = await group(a, [b, member]);
    await sent(a, groupId, "group words");
    expect(await found(member, groupId, "group")).toEqual(["group words"]);
    expect((await removeParticipant(a, groupId, member.id)).status).toBe(204);
    expectError(await search(member, groupId, "q=group"), 403, "CHAT_ACCESS_DENIED");
  });

  it("indexes off the send path: sends leave messages waiting, a search or a big enough backlog at the write-behind save indexes them", async () => {
    const { a, b, id } = await pair("batches");
    for (const n of range(1, 3)) await sent(n % 2 ? a : b, id, `early ${n}`);
    await saveNow(id);
    expect(await pendingIndex(id)).toBe(3); // too few to be worth a batch
    expect(await found(a, id, "early")).toHaveLength(3);
    expect(await pendingIndex(id)).toBe(0);
    for (const n of range(1, 64)) await sent(n % 2 ? a : b, id, `later ${n}`);
    expect(await pendingIndex(id)).toBe(64);
    await saveNow(id);
    expect(await pendingIndex(id)).toBe(0);
    expect(await found(a, id, "later")).toHaveLength(50);
  });
});

describe("objects made before search existed", () => {
  it("upgrade their storage with the index table and find their old messages at the first search", async () => {
    const { a, b, id } = await pair("upgrade");
    await sent(a, id, "an old message about lighthouses");
    await sent(b, id, "another old one");
    // Back to the schema before the search step, as an object stored by the previous release has it.
    await runInside(stubOf(id), (instance, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE messages_fts");
      sql.exec("DELETE FROM state WHERE key = 'search_indexed_through_seq'");
      sql.exec("CREATE INDEX messages_sender_seq ON messages(sender_id, seq)"); // dropped by the step after search
      sql.exec("UPDATE state SET value = ? WHERE key = 'schema_version'", String(SCHEMA_VERSION - 3)); // the search step is the third from last
      // What a restart does: migrate, then build the parts over the upgraded storage.
      migrate(sql);
      (partsOf(instance).chat as { search: unknown }).search = new SearchIndex(sql, new StateStore(sql));
      expect(sql.exec<{ value: string }>("SELECT value FROM state WHERE key = 'schema_version'").one().value).toBe(String(SCHEMA_VERSION));
    });
    expect(await pendingIndex(id)).toBe(2);
    expect(await found(b, id, "lighthouse")).toEqual(["an old message about lighthouses"]);
  });
});

describe("storage rows written per message", () => {
  it("stays within budget with the search index: measured over 100 messages and their write-behind save", async () => {
    const [a, b] = await Promise.all([login("rows-a"), login("rows-b")]);
    const id = await freshDirect(a, b, "rows");
    const admin = await signAdminToken(a);
    const rows = async () => (await callJson(`/api/v1/conversations/${id}/stats`, { token: admin })).body.storage_rows_written as number;
    await sent(a, id, "warm-up");
    await saveNow(id);
    const start = await rows();
    for (const n of range(1, 100)) await sent(n % 2 ? a : b, id, `message ${n} about nothing much at all`);
    const sendOnly = (await rows()) - start;
    await saveNow(id);
    const withIndex = (await rows()) - start;
    console.log(`rows written per message: sends ${sendOnly / 100}, sends + save + index ${withIndex / 100}`);
    expect(sendOnly / 100).toBeLessThanOrEqual(1.05);
    expect(withIndex / 100).toBeLessThanOrEqual(2.2);
  });
});

describe("search across the caller's conversations", () => {
  it("merges matches from every conversation of the caller, newest first, and nothing from others'", async () => {
    const [me, friend, stranger, other] = await Promise.all([login("all-me"), login("all-friend"), login("all-stranger"), login("all-other")]);
    const first = await freshDirect(me, friend, "all-1");
    const second = await group(me, [friend, stranger]);
    const notMine = await freshDirect(stranger, other, "all-3");
    await sent(me, first, "zeppelin one");
    await sent(stranger, notMine, "zeppelin secret");
    await sent(friend, second, "zeppelin two");
    await sent(me, first, "zeppelin three");
    await sent(friend, second, "nothing here");
    const res = await searchAll(me, "q=zeppel");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.map((r) => [r.conversation_id, r.message.content])).toEqual([
      [first, "zeppelin three"],
      [second, "zeppelin two"],
      [first, "zeppelin one"],
    ]);
    for (const r of res.body.results) expect(r.message.conversation_id).toBe(r.conversation_id);
    expect((await searchAll(me, "q=zeppelin&limit=2")).body.results.map((r) => r.message.content)).toEqual(["zeppelin three", "zeppelin two"]);
    expect((await searchAll(other, "q=zeppelin")).body.results.map((r) => r.message.content)).toEqual(["zeppelin secret"]);
  });

  it("leaves out a conversation the caller was removed from, and deleted messages", async () => {
    const [owner, leaver] = await Promise.all([login("gone-owner"), login("gone-leaver")]);
    const groupId = await group(owner, [leaver]);
    const direct = await freshDirect(owner, leaver, "gone");
    await sent(owner, groupId, "marmalade in the group");
    const removed = await sent(leaver, direct, "marmalade deleted");
    await sent(owner, direct, "marmalade kept");
    expect((await callJson(`/api/v1/conversations/${direct}/messages/${removed.id}`, { method: "DELETE", token: leaver.token })).status).toBe(200);
    expect((await removeParticipant(owner, groupId, leaver.id)).status).toBe(204);
    const res = await searchAll(leaver, "q=marmalade");
    expect(res.body.results.map((r) => r.message.content)).toEqual(["marmalade kept"]);
    expect((await addParticipant(owner, groupId, leaver.id)).status).toBe(201);
    expect((await searchAll(leaver, "q=marmalade")).body.results.map((r) => r.message.content)).toEqual(["marmalade kept", "marmalade in the group"]);
  });

  it("refuses a text with no word and a limit over 100; needs a token", async () => {
    const me = await login("all-refused");
    expectFieldError(await searchAll(me, "q=%22%2A"), "q");
    expectFieldError(await searchAll(me, "q=x&limit=101"), "limit");
    expectError(await callJson("/api/v1/search/messages?q=x"), 401, "AUTHENTICATION_REQUIRED");
    expect(await searchAll(me, "q=anything")).toMatchObject({ status: 200, body: { results: [] } });
  });
});

describe("the OpenAPI document", () => {
  it("describes both searches, the bound across conversations and the optional voice-note duration", async () => {
    const { body } = await callJson("/openapi.json");
    const inConversation = body.paths["/api/v1/conversations/{id}/messages"].get;
    expect(inConversation.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(["q", "before_seq", "limit"]));
    const across = body.paths["/api/v1/search/messages"].get;
    expect(across.description).toContain("50 most recently active");
    expect(across.responses[200].content["application/json"].schema.$ref).toBe("#/components/schemas/SearchResults");
    const voiceNote = body.paths["/api/v1/conversations/{id}/voice-notes"].post.requestBody.content["multipart/form-data"].schema;
    expect(voiceNote.required).toEqual(["voice_note"]);
  });
});
