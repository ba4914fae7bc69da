import { afterEach, describe, expect, it } from "vitest";
import { befriend, callJson, freshDirect, login, type TestUser } from "../helpers/api";
import { closeAll, openInbox } from "../helpers/sockets";
import { eventually } from "../helpers/wait";

// DESIGN.md, Users: GET /presence without user_ids lists every contact (friends and people one
// shares a conversation with) who is online now.

afterEach(closeAll);

const presence = (user: TestUser, query = "") => callJson(`/api/v1/presence${query}`, { token: user.token });

describe("GET /api/v1/presence without user_ids", () => {
  it("lists the contacts online now: friends and co-participants, not strangers or contacts offline", async () => {
    const [viewer, friend, partner, quiet, stranger] = await Promise.all([login("pl-viewer"), login("pl-friend"), login("pl-partner"), login("pl-quiet"), login("pl-stranger")]);
    await befriend(viewer, friend);
    await freshDirect(viewer, partner, "presence-list");
    await freshDirect(quiet, viewer, "presence-list");
    await openInbox(friend);
    const partnerInbox = await openInbox(partner);
    await openInbox(stranger);

    const listed = await presence(viewer);
    expect(listed.status).toBe(200);
    expect(listed.body.users.sort((a: any, b: any) => a.id.localeCompare(b.id))).toEqual(
      [friend, partner].map((u) => ({ id: u.id, online: true, last_seen: null })).sort((a, b) => a.id.localeCompare(b.id)),
    );

    // Gone after the grace period.
    partnerInbox.close();
    await eventually(async () => (await presence(viewer)).body.users.map((u: any) => u.id), { until: (ids) => !ids.includes(partner.id) });

    // With user_ids it is as before: the named contacts, online or not.
    const named = await presence(viewer, `?user_ids=${quiet.id},${stranger.id}`);
    expect(named.body.users).toEqual([{ id: quiet.id, online: false, last_seen: null }]);
  });

  it("someone without contacts gets an empty list", async () => {
    const loner = await login("pl-loner");
    expect((await presence(loner)).body).toEqual({ users: [] });
  });
});
