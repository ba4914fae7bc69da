// The conversation object owns its membership, status and refusals (DESIGN.md: Architecture,
// Conversations, "Users, friends, blocks", Guarantees "Membership is ordered"; issues 9 and 13).
// Everything goes through the Worker (REST and real socket upgrades); the object's insides are
// read only where they are the point (its membership version, the tables an unknown id must not get).
//
// Test files share D1 and blocks are global, so every test makes its own people and conversations.
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import {
  addParticipant,
  callJson,
  callWith,
  conversationList,
  freshDirect,
  getConversation,
  group,
  history,
  listMessages,
  login,
  patchConversation,
  removeParticipant,
  sendRest,
  signAdminToken,
  type TestUser,
} from "../helpers/api";
import { expectError } from "../helpers/assertions";
import { countingD1, runInside, storageTables, stubOf } from "../helpers/objects";
import { barrier, closeAll, framesOf, open, openInbox, upgrade } from "../helpers/sockets";
import { attachmentRows, expectNothingStored, fileForm, OGG, storedKeys, uploadWhile, wav } from "../helpers/uploads";
import { eventually, range, sleep } from "../helpers/wait";

afterEach(closeAll);

// ── shared steps ──

/** Runs `work` over `items`, `width` at a time: a few hundred requests without flooding the runtime. */
async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    range(1, width).map(async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** N of T as a tuple, so `const [a, b] = await people(2, …)` gives users rather than possibly-undefined ones. */
type Tuple<N extends number, T, Acc extends T[] = []> = Acc["length"] extends N ? Acc : Tuple<N, T, [...Acc, T]>;

/** `n` new users. */
async function people<N extends number>(n: N, label: string): Promise<Tuple<N, TestUser>> {
  const made: TestUser[] = new Array(n);
  await inParallel(range(0, n - 1), 25, async (i) => {
    made[i] = await login(`${label}-${i + 1}`);
  });
  return made as Tuple<N, TestUser>;
}

/** `moderator`'s identity as an admin (roles:["admin"]), for the calls that take `{ token }`. */
async function asAdmin(moderator: TestUser): Promise<{ token: string }> {
  return { token: await signAdminToken(moderator) };
}

async function block(blocker: TestUser, blocked: TestUser): Promise<void> {
  const res = await callJson("/api/v1/blocks", { method: "POST", token: blocker.token, json: { user_id: blocked.id } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** The participant ids of a conversation as `viewer` GETs it, sorted. */
async function participantIds(viewer: { token: string }, conversationId: string): Promise<string[]> {
  const res = await getConversation(viewer, conversationId);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.participants.map((p: { id: string }) => p.id).sort();
}

const idsOf = (...users: TestUser[]) => users.map((u) => u.id).sort();

const listedIds = async (user: TestUser) => (await conversationList(user)).map((c) => c.id as string);

/** Expects a change request to be answered with `status`, showing the body when it is not. */
function expectAnswered(res: { status: number; body: unknown }, status: number, what = "change"): void {
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
}

// ════════════════════════════════════════════════════════════════════════════════════════════
// 1. A slow upload cannot undo a removal, close or block (issue 9, "Membership is ordered")
// ════════════════════════════════════════════════════════════════════════════════════════════

/** Both upload paths admit before reading the body, and must decide again once it is stored. */
const UPLOADS = [
  {
    what: "a voice note",
    path: (id: string) => `/api/v1/conversations/${id}/voice-notes`,
    form: () => fileForm("voice_note", wav(4000), "memo.wav", "audio/wav", { duration: "2", client_id: "held-voice-note" }),
    /** Messages a stored upload of this kind sends. */
    sends: 1,
  },
  {
    what: "an attachment",
    path: (id: string) => `/api/v1/conversations/${id}/attachments`,
    form: () => fileForm("file", OGG, "clip.ogg", "audio/ogg"),
    sends: 0,
  },
] as const;

/** A conversation ready for a race: who uploads, the change that lands meanwhile, and what must hold afterwards. */
interface Stage {
  id: string;
  sender: TestUser;
  /** A participant who can still read the history once the change landed. */
  reader: TestUser;
  /** Made, and answered, while the upload's body is held back. */
  change: () => Promise<void>;
  /** What else must hold once the upload was refused. */
  afterwards: () => Promise<void>;
}

interface Race {
  change: string;
  status: number;
  code: string;
  stage: () => Promise<Stage>;
}

/**
 * (a) The group's creator removes the uploader. The uploader watches the conversation and has an
 * inbox open, and so does a third member (inbox only): had the upload put the stale member list
 * back, later messages would reach the removed uploader's inbox (issue 9).
 */
async function senderRemovedFromGroup(): Promise<Stage> {
  const [owner, sender, other] = await people(3, "race-remove");
  const id = await group(owner, [sender, other]);
  const senderSocket = await open(id, sender);
  const [senderInbox, otherInbox] = await Promise.all([openInbox(sender), openInbox(other)]);
  return {
    id,
    sender,
    reader: owner,
    change: async () => expectAnswered(await removeParticipant(owner, id, sender.id), 204, "removal"),
    afterwards: async () => {
      expect((await senderSocket.waitClosed()).code).toBe(4003);
      expectError(await listMessages(sender, id), 403, "CHAT_ACCESS_DENIED");
      const reconnect = await upgrade(`/api/v1/conversations/${id}/ws?token=${encodeURIComponent(sender.token)}`);
      expect(reconnect.status).toBe(403);
      expect(await participantIds(owner, id)).toEqual(idsOf(owner, other));
      expect(await listedIds(sender)).not.toContain(id);

      // The second message is announced only after the inbox round carrying the first has
      // finished (rounds do not overlap), so once `other` has it, any call to the removed
      // sender's inbox for either message has been made; the barrier flushes its socket.
      for (const content of ["after the race", "and once more"]) {
        const sent = await sendRest(owner, id, content);
        expect(sent.status).toBe(201);
        await otherInbox.next("notification.message", (f) => f.message.id === sent.body.id);
      }
      await barrier(senderInbox);
      expect(framesOf(senderInbox, "notification.message", (f) => f.conversation_id === id)).toEqual([]);
    },
  };
}

/** (b) The other participant closes the conversation. */
async function conversationClosed(): Promise<Stage> {
  const [sender, other] = await people(2, "race-close");
  const id = await freshDirect(sender, other, "race-close");
  return {
    id,
    sender,
    reader: other,
    change: async () => expectAnswered(await patchConversation(other, id, { status: "closed" }), 200, "close"),
    afterwards: async () => {
      expect((await getConversation(sender, id)).body.status).toBe("closed");
      expectError(await sendRest(sender, id, "still closed?"), 409, "CONVERSATION_CLOSED");
    },
  };
}

/** (c) In a direct conversation, the recipient blocks the uploader. */
async function senderBlocked(): Promise<Stage> {
  const [sender, recipient] = await people(2, "race-block");
  const id = await freshDirect(sender, recipient, "race-block");
  return {
    id,
    sender,
    reader: recipient,
    change: () => block(recipient, sender),
    afterwards: async () => expectError(await sendRest(sender, id, "let me in"), 403, "BLOCKED"),
  };
}

const RACES: Race[] = [
  { change: "the sender is removed from the group", status: 403, code: "CHAT_ACCESS_DENIED", stage: senderRemovedFromGroup },
  { change: "the conversation is closed", status: 409, code: "CONVERSATION_CLOSED", stage: conversationClosed },
  { change: "the recipient blocks the sender", status: 403, code: "BLOCKED", stage: senderBlocked },
];

describe("a slow upload cannot undo a removal, close or block", () => {
  for (const upload of UPLOADS) {
    describe(upload.what, () => {
      // The control: the held-back body is a valid upload, so each refusal below is the change's doing.
      it("with its body held back and nothing changing meanwhile, is stored", async () => {
        const [sender, other] = await people(2, "race-control");
        const id = await freshDirect(sender, other, "race-control");
        const res = await uploadWhile(sender, upload.path(id), upload.form(), async () => {});
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        expect(await storedKeys(id)).toHaveLength(1);
        expect(await attachmentRows(id)).toBe(1);
        expect(await history(other, id)).toHaveLength(upload.sends);
      });

      for (const race of RACES) {
        it(`is refused with ${race.status} ${race.code} when ${race.change} while its body arrives, and leaves nothing`, async () => {
          const stage = await race.stage();
          const res = await uploadWhile(stage.sender, upload.path(stage.id), upload.form(), stage.change);
          expectError(res, race.status, race.code);
          await expectNothingStored(stage.id);
          expect(await history(stage.reader, stage.id)).toEqual([]);
          await stage.afterwards();
        });
      }
    });
  }
});

// ════════════════════════════════════════════════════════════════════════════════════════════
// 2. Membership versions only grow, across eviction too
// ════════════════════════════════════════════════════════════════════════════════════════════

type Internals = { parts: { chat: { membership: { version: number } } } | null };

/** The membership version, as the live instance of the conversation's object holds it. */
function versionOf(conversationId: string): Promise<number> {
  return runInside(stubOf(conversationId), (instance) => (instance as unknown as Internals).parts!.chat.membership.version);
}

describe("membership versions", () => {
  it("grow with every add, remove, close and reopen, and an evicted object resumes from where it was", async () => {
    const [owner, member, joiner] = await people(3, "version");
    const id = await group(owner, [member]);
    const seen = [await versionOf(id)];
    const last = () => seen[seen.length - 1]!;

    /** One round of changes, each answered before the version is read; every one must raise it. */
    const changeAll = async (when: string) => {
      const changes: [string, () => Promise<{ status: number; body: unknown }>, number][] = [
        ["add", () => addParticipant(owner, id, joiner.id), 201],
        ["remove", () => removeParticipant(owner, id, joiner.id), 204],
        ["close", () => patchConversation(member, id, { status: "closed" }), 200],
        ["reopen", () => patchConversation(member, id, { status: "active" }), 200],
      ];
      for (const [what, request, status] of changes) {
        expectAnswered(await request(), status, `${what} ${when}`);
        const version = await versionOf(id);
        expect(version, `${what} ${when}, after versions ${seen.join(" → ")}`).toBeGreaterThan(last());
        seen.push(version);
      }
    };

    await changeAll("before eviction");

    // Mark the live instance, evict it, and make sure the version is read from a new one.
    await runInside(stubOf(id), (instance) => {
      instance.__evictionMark = true;
    });
    await evictDurableObject(stubOf(id));
    expect(await runInside(stubOf(id), (instance) => instance.__evictionMark)).toBeUndefined();
    const resumed = await versionOf(id);
    expect(resumed, `after eviction, versions were ${seen.join(" → ")}`).toBeGreaterThanOrEqual(last());
    seen.push(resumed);

    await changeAll("after eviction");
  });
});

// ════════════════════════════════════════════════════════════════════════════════════════════
// 3. Who may reopen (issue 13, finding 7)
// ════════════════════════════════════════════════════════════════════════════════════════════

describe("reopening a closed conversation", () => {
  it("closed by an admin: a participant's reopen is 403 FORBIDDEN and sends stay 409; the admin reopens it", async () => {
    const [alice, bob, moderator] = await people(3, "reopen-admin");
    const admin = await asAdmin(moderator);
    const id = await freshDirect(alice, bob, "reopen-admin");
    const closed = await patchConversation(admin, id, { status: "closed" });
    expectAnswered(closed, 200, "admin close");
    expect(closed.body.status).toBe("closed");

    const socket = await open(id, alice);
    for (const participant of [alice, bob]) {
      expectError(await patchConversation(participant, id, { status: "active" }), 403, "FORBIDDEN");
      expectError(await sendRest(participant, id, "are we open?"), 409, "CONVERSATION_CLOSED");
    }
    socket.send({ type: "message.send", ref: "while-closed", client_id: "while-closed", content: "over the socket" });
    expect((await socket.next("error", (f) => f.ref === "while-closed")).code).toBe("CONVERSATION_CLOSED");
    expect((await getConversation(bob, id)).body.status).toBe("closed");

    const reopened = await patchConversation(admin, id, { status: "active" });
    expectAnswered(reopened, 200, "admin reopen");
    expect(reopened.body.status).toBe("active");
    expect((await sendRest(alice, id, "open again")).status).toBe(201);

    // The hold ends with the admin's reopen: a later close by a participant is a participant's to undo.
    expectAnswered(await patchConversation(bob, id, { status: "closed" }), 200, "participant close");
    expectAnswered(await patchConversation(alice, id, { status: "active" }), 200, "participant reopen");
  });

  it("closed by a participant: another participant reopens it and sends work again", async () => {
    const [alice, bob] = await people(2, "reopen-participant");
    const id = await freshDirect(alice, bob, "reopen-participant");
    expectAnswered(await patchConversation(alice, id, { status: "closed" }), 200, "close");
    expectError(await sendRest(bob, id, "closed?"), 409, "CONVERSATION_CLOSED");
    const reopened = await patchConversation(bob, id, { status: "active" });
    expectAnswered(reopened, 200, "reopen");
    expect(reopened.body.status).toBe("active");
    expect((await sendRest(bob, id, "open again")).status).toBe(201);
  });
});

// ════════════════════════════════════════════════════════════════════════════════════════════
// 4. Blocks and groups (DESIGN "Users, friends, blocks"; issue 13, finding 2)
// ════════════════════════════════════════════════════════════════════════════════════════════

describe("blocks and groups", () => {
  it("a user blocked by B cannot create a group including B: 403 BLOCKED, and nothing is created", async () => {
    const [blocked, blocker, third] = await people(3, "block-create");
    await block(blocker, blocked);
    const everyone = [blocked, blocker, third];
    const before = await Promise.all(everyone.map(listedIds));

    const create = (naming: Record<string, unknown>) =>
      callJson("/api/v1/conversations", { method: "POST", token: blocked.token, json: { type: "group", title: "with you", ...naming } });
    expectError(await create({ participant_ids: [third.id, blocker.id] }), 403, "BLOCKED");
    expectError(await create({ participant_ids: [third.id], participant_emails: [blocker.email] }), 403, "BLOCKED");

    expect(await Promise.all(everyone.map(listedIds))).toEqual(before);
    const created = await env.DB.prepare("SELECT count(*) AS n FROM conversations WHERE created_by = ?").bind(blocked.id).first<{ n: number }>();
    expect(created!.n).toBe(0);
  });

  it("a user blocked by B cannot add B to a group: 403 BLOCKED; a group both were already in goes on", async () => {
    const [blocked, blocker, third] = await people(3, "block-add");
    const shared = await group(third, [blocked, blocker]);
    const own = await group(blocked, [third]);
    await block(blocker, blocked);

    expectError(await addParticipant(blocked, own, blocker.id), 403, "BLOCKED");
    expect(await participantIds(blocked, own)).toEqual(idsOf(blocked, third));
    expect(await listedIds(blocker)).not.toContain(own);
    expectError(await getConversation(blocker, own), 403, "CHAT_ACCESS_DENIED");

    expect((await sendRest(blocked, shared, "still talking here")).status).toBe(201);
  });

  it("an outsider adding anyone gets 403 CHAT_ACCESS_DENIED, not BLOCKED or USER_NOT_FOUND", async () => {
    const [owner, member, outsider, stranger, blockerOfOutsider] = await people(5, "block-outsider");
    const id = await group(owner, [member]);
    await block(blockerOfOutsider, outsider);
    // Someone who exists, someone who blocked the outsider, no one at all, and the outsider themselves.
    for (const userId of [stranger.id, blockerOfOutsider.id, "usr_doesnotexist", outsider.id]) {
      expectError(await addParticipant(outsider, id, userId), 403, "CHAT_ACCESS_DENIED");
    }
    expect(await participantIds(owner, id)).toEqual(idsOf(owner, member));
  });
});

// ════════════════════════════════════════════════════════════════════════════════════════════
// 5. An unknown conversation id writes nothing
// ════════════════════════════════════════════════════════════════════════════════════════════

describe("an unknown conversation id", () => {
  it("answers an admin 404 CONVERSATION_NOT_FOUND and a user 403 CHAT_ACCESS_DENIED, and its object has no tables", async () => {
    const [user, moderator] = await people(2, "unknown");
    const admin = await asAdmin(moderator);
    expectError(await getConversation(admin, "cnv_doesnotexist"), 404, "CONVERSATION_NOT_FOUND");
    expectError(await getConversation(user, "cnv_doesnotexist"), 403, "CHAT_ACCESS_DENIED");
    expect(await storageTables("cnv_doesnotexist")).toEqual([]);
  });

  it("writes nothing anywhere, whatever an admin or a user attempts on it", async () => {
    const [user, moderator] = await people(2, "unknown-writes");
    const admin = await asAdmin(moderator);
    const id = `cnv_unknown_${crypto.randomUUID()}`;
    const base = `/api/v1/conversations/${id}`;
    const attempts: [string, { token: string }, string, RequestInit & { json?: unknown }][] = [
      ["admin closes", admin, base, { method: "PATCH", json: { status: "closed" } }],
      ["admin retitles", admin, base, { method: "PATCH", json: { title: "mine now" } }],
      ["admin adds", admin, `${base}/participants`, { method: "POST", json: { user_id: user.id } }],
      ["admin removes", admin, `${base}/participants/${user.id}`, { method: "DELETE" }],
      ["admin reads stats", admin, `${base}/stats`, {}],
      ["user joins", user, `${base}/participants`, { method: "POST", json: { user_id: user.id } }],
      ["user sends", user, `${base}/messages`, { method: "POST", json: { content: "hello?" } }],
      ["user reads", user, `${base}/read`, { method: "POST", json: {} }],
      ["user reopens", user, base, { method: "PATCH", json: { status: "active" } }],
      ["user uploads", user, `${base}/attachments`, { method: "POST", body: fileForm("file", OGG, "clip.ogg", "audio/ogg") }],
    ];
    for (const [what, actor, path, init] of attempts) {
      const res = await callJson(path, { ...init, token: actor.token });
      const [status, code] = actor === admin ? [404, "CONVERSATION_NOT_FOUND"] : [403, "CHAT_ACCESS_DENIED"];
      expect({ what, status: res.status, code: res.body?.error?.code }).toEqual({ what, status, code });
    }
    for (const [actor, status] of [[user, 403], [admin, 404]] as const) {
      const socket = await upgrade(`${base}/ws?token=${encodeURIComponent(actor.token)}`);
      expect(socket.status).toBe(status);
    }

    expect(await storageTables(id)).toEqual([]);
    for (const table of ["conversations", "participants", "attachments"]) {
      const column = table === "conversations" ? "id" : "conversation_id";
      const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`).bind(id).first<{ n: number }>();
      expect({ table, rows: row!.n }).toEqual({ table, rows: 0 });
    }
    expect(await storedKeys(id)).toEqual([]);
  });
});

// ════════════════════════════════════════════════════════════════════════════════════════════
// 6. D1's participant rows are mirrors, written before the change is answered
// ════════════════════════════════════════════════════════════════════════════════════════════

describe("the D1 mirror of membership", () => {
  it("an added user lists the conversation once the add is answered; a removed one no longer does, and their socket closes with 4003", async () => {
    const [owner, member, joiner] = await people(3, "mirror");
    const id = await group(owner, [member]);
    expect(await listedIds(joiner)).not.toContain(id);

    expectAnswered(await addParticipant(owner, id, joiner.id, "provider"), 201, "add");
    // No waiting anywhere below: an answered change is already in D1.
    expect(await listedIds(joiner)).toContain(id);
    const listedByMember = async () => (await conversationList(member)).find((c) => c.id === id);
    expect((await listedByMember()).participants.find((p: { id: string }) => p.id === joiner.id)?.role).toBe("provider");

    const socket = await open(id, joiner);
    expectAnswered(await removeParticipant(owner, id, joiner.id), 204, "remove");
    expect(await listedIds(joiner)).not.toContain(id);
    expect((await listedByMember()).participants.map((p: { id: string }) => p.id).sort()).toEqual(idsOf(owner, member));
    expect((await socket.waitClosed()).code).toBe(4003);

    // Leaving is mirrored the same way.
    expectAnswered(await removeParticipant(member, id, member.id), 204, "leave");
    expect(await listedIds(member)).not.toContain(id);
  });
});

// ════════════════════════════════════════════════════════════════════════════════════════════
// 7. A membership change is O(1): counted by the object's own meter, not timed
// ════════════════════════════════════════════════════════════════════════════════════════════

type Counters = Record<string, number>;

/** Every counter the admin stats endpoint reports, except last_seq (a position, not a cost). */
async function counters(admin: { token: string }, conversationId: string): Promise<Counters> {
  const { status, body } = await callJson(`/api/v1/conversations/${conversationId}/stats`, { token: admin.token });
  expect(status, JSON.stringify(body)).toBe(200);
  const { last_seq: _position, ...costs } = body as Counters;
  return costs;
}

/** Counters once they stand still: the mirror rounds of concurrent adds may end after the last answer. */
async function settledCounters(admin: { token: string }, conversationId: string): Promise<Counters> {
  const [, now] = await eventually(
    async () => {
      const earlier = await counters(admin, conversationId);
      await sleep(50);
      return [earlier, await counters(admin, conversationId)] as const;
    },
    { until: ([earlier, now]) => JSON.stringify(earlier) === JSON.stringify(now), timeoutMs: 5_000, what: "the counters to stand still" },
  );
  return now;
}

const delta = (after: Counters, before: Counters): Counters => Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));

describe("membership changes cost O(1)", () => {
  it("an add costs the Worker one D1 request (the person's facts and the answer's names together), in a group of 3 as past the 100 it lists", async () => {
    const [owner, member, smallJoiner, largeJoiner, ...fillers] = await people(124, "o1-d1");
    const small = await group(owner, [member]);
    const large = await group(owner, fillers.slice(0, 99)); // the most a creation names
    await inParallel(fillers.slice(99), 8, async (filler) => expectAnswered(await addParticipant(owner, large, filler.id), 201, "filler add"));
    for (const [id, joiner, size] of [[small, smallJoiner, 3], [large, largeJoiner, 122]] as const) {
      const d1 = countingD1(env.DB);
      const answer = await callWith({ DB: d1.db } as never, `/api/v1/conversations/${id}/participants`, { method: "POST", token: owner.token, json: { user_id: joiner.id } });
      expect(answer.status, answer.text).toBe(201);
      expect(d1.requests()).toBe(1);
      const listed = (await getConversation(owner, id)).body;
      expect(answer.body.participant_count).toBe(size);
      expect(answer.body.participants.map((p: { id: string; name: string }) => [p.id, p.name])).toEqual(listed.participants.map((p: { id: string; name: string }) => [p.id, p.name]));
      expect(answer.body.participants.every((p: { name: string }) => p.name !== "")).toBe(true);
    }
  });

  it("one add and one remove cost the same storage rows, D1 statements and frames in a group of 3 as in a group of 300", async () => {
    const [owner, first, second, smallJoiner, largeJoiner, ...fillers] = await people(302, "o1");
    expect(fillers).toHaveLength(297);
    const admin = await asAdmin(owner);
    const id = await group(owner, [first, second]);

    /** What adding `joiner` and then removing them costs the object, from settled counters. */
    const costOfAddAndRemove = async (joiner: TestUser) => {
      const before = await settledCounters(admin, id);
      expectAnswered(await addParticipant(owner, id, joiner.id), 201, "measured add");
      const added = await counters(admin, id);
      expectAnswered(await removeParticipant(owner, id, joiner.id), 204, "measured remove");
      const removed = await counters(admin, id);
      return { add: delta(added, before), remove: delta(removed, added) };
    };

    const small = await costOfAddAndRemove(smallJoiner);
    // The counters measure something: each change writes the object's storage and D1's mirror.
    for (const change of [small.add, small.remove]) {
      expect(change.storage_rows_written).toBeGreaterThan(0);
      expect(change.d1_statements).toBeGreaterThan(0);
    }

    await inParallel(fillers, 8, async (filler) => expectAnswered(await addParticipant(owner, id, filler.id), 201, "filler add"));
    expect((await getConversation(owner, id)).body.participant_count).toBe(300);

    const large = await costOfAddAndRemove(largeJoiner);
    expect(large, `at 3 members: ${JSON.stringify(small)}`).toEqual(small);
  }, 120_000);
});
