// What every chat screen shows without extra calls (DESIGN.md, Messages; issue 12): the sender's
// profile as it was when sent, and the status of one's own messages in history pages.
import { afterEach, describe, expect, it } from "vitest";
import { callJson, freshDirect, group, listMessages, login, sendRest, serviceToken } from "../helpers/api";
import { runInside, stubOf } from "../helpers/objects";
import { closeAll, open } from "../helpers/sockets";
import { eventually } from "../helpers/wait";

afterEach(closeAll);

const rename = (user: { token: string }, json: Record<string, unknown>) => callJson("/api/v1/users/me", { method: "PATCH", token: user.token, json });

/** The profile the conversation object holds for `userId` (what their next message will carry). */
const heldProfile = (id: string, userId: string) =>
  runInside(stubOf(id), (instance) => (instance.parts as { chat: { membership: { profileOf(id: string): unknown } } }).chat.membership.profileOf(userId));

describe("sender", () => {
  it("carries the sender's profile as it was when sent, on every path", async () => {
    const [ana, ben] = [await login("ana", "Ana Seller"), await login("ben", "Ben Buyer")];
    const id = await freshDirect(ana, ben, "sender");
    const socket = await open(id, ben);
    const first = await sendRest(ana, id, "first");
    expect(first.body.sender).toEqual({ id: ana.id, name: "Ana Seller", avatar_url: null });
    expect((await socket.next("message.new")).message.sender).toEqual(first.body.sender);

    expect((await rename(ana, { name: "Ana S.", avatar_url: "https://img.example.com/ana.png" })).status).toBe(200);
    await eventually(async () => (await heldProfile(id, ana.id)) as { name: string } | null, { until: (p) => p?.name === "Ana S." });
    const second = await sendRest(ana, id, "second");
    expect(second.body.sender).toEqual({ id: ana.id, name: "Ana S.", avatar_url: "https://img.example.com/ana.png" });
    const page = await listMessages(ben, id);
    expect(page.body.messages.map((m: any) => m.sender.name)).toEqual(["Ana Seller", "Ana S."]);
  });

  it("is null on system messages; a participant added later carries their own profile", async () => {
    const [owner, joiner] = [await login("owner", "Olga Owner"), await login("joiner", "Jo Joiner")];
    const id = await group(owner, []);
    await callJson(`/api/v1/conversations/${id}/participants`, { method: "POST", token: owner.token, json: { user_id: joiner.id } });
    expect((await sendRest(joiner, id, "hi all")).body.sender).toEqual({ id: joiner.id, name: "Jo Joiner", avatar_url: null });
    const note = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: await serviceToken(), json: { type: "system", content: "Welcome" } });
    expect(note.body.sender).toBeNull();
  });
});

describe("status of one's own messages in history", () => {
  const statuses = async (viewer: { token: string }, id: string) =>
    (await listMessages(viewer, id)).body.messages.map((m: any) => [m.content, m.status ?? null]);

  it("moves from sent to delivered to read, per message, and only on the viewer's own", async () => {
    const [ana, ben] = [await login("ana"), await login("ben")];
    const id = await freshDirect(ana, ben, "status");
    await sendRest(ana, id, "one");
    await sendRest(ana, id, "two");
    expect(await statuses(ana, id)).toEqual([["one", "sent"], ["two", "sent"]]);

    await listMessages(ben, id); // fetched: delivered
    await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: ben.token, json: { up_to_seq: 1 } });
    expect(await statuses(ana, id)).toEqual([["one", "read"], ["two", "delivered"]]);

    await sendRest(ben, id, "reply"); // replying reads everything before it
    const socket = await open(id, ben);
    await sendRest(ana, id, "three"); // reaches ben's open socket
    await socket.next("message.new", (f) => f.message.content === "three");
    expect(await statuses(ana, id)).toEqual([["one", "read"], ["two", "read"], ["reply", null], ["three", "delivered"]]);
    // Ana's later message read Ben's reply (sending reads everything before it).
    expect((await statuses(ben, id)).find(([content]: string[]) => content === "reply")).toEqual(["reply", "read"]);
  });

  it("in a group, counts every other participant", async () => {
    const [ana, ben, cy] = [await login("ana"), await login("ben"), await login("cy")];
    const id = await group(ana, [ben, cy]);
    await sendRest(ana, id, "hello group");
    await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: ben.token, json: {} });
    expect(await statuses(ana, id)).toEqual([["hello group", "sent"]]);
    await callJson(`/api/v1/conversations/${id}/read`, { method: "POST", token: cy.token, json: {} });
    expect(await statuses(ana, id)).toEqual([["hello group", "read"]]);
  });
});
