import { afterEach, describe, expect, it } from "vitest";
import { addParticipant, group, login, sendRest } from "../helpers/api";
import { closeAll, open, openInbox } from "../helpers/sockets";
import { sleep } from "../helpers/wait";
import { delivered, expectSignedEnvelope, received } from "../helpers/webhooks";

afterEach(closeAll);

describe("message.unread", () => {
  it("goes, after the grace, only to participants with no socket open anywhere", async () => {
    const [sender, watching, inbox, back, away] = await Promise.all([login("wh-sender"), login("wh-watching"), login("wh-inbox"), login("wh-back"), login("wh-away")]);
    const id = await group(sender, [watching, inbox, back]);
    // Joins last, so its events are the last of each check: once they arrive, the others' would have.
    expect((await addParticipant(sender, id, away.id)).status).toBe(201);
    await open(id, watching);
    await openInbox(inbox);
    // Was here, left just before the messages and comes back within PRESENCE_GRACE_MS.
    (await open(id, back)).close();
    await sleep(50);

    const first = await sendRest(sender, id, "are you there?");
    const second = await sendRest(sender, id, "hello?");
    await openInbox(back);

    const unread = await delivered(id, "message.unread", (e) => e.data.message.id === second.body.id);
    await expectSignedEnvelope(unread);
    expect(unread.event.data).toEqual({ conversation_id: id, user_id: away.id, message: second.body, unread_count: 2 });
    const earlier = await delivered(id, "message.unread", (e) => e.data.message.id === first.body.id);
    expect(earlier.event.data).toEqual({ conversation_id: id, user_id: away.id, message: first.body, unread_count: 1 });
    await sleep(300);
    const recipients = (await received(id)).filter((d) => d.event.type === "message.unread").map((d) => (d.event.data as { user_id: string }).user_id);
    expect(recipients).toEqual([away.id, away.id]);
  });

  it("comes PRESENCE_GRACE_MS after the message, for someone who stays away", async () => {
    const [sender, away] = await Promise.all([login("wh-sender"), login("wh-away")]);
    const id = await group(sender, [away]);
    const sent = await sendRest(sender, id, "later");
    const at = Date.now();
    await delivered(id, "message.new");
    const unread = await delivered(id, "message.unread");
    expect(unread.at - at).toBeGreaterThanOrEqual(300);
    expect(unread.event.data).toMatchObject({ user_id: away.id, message: { id: sent.body.id }, unread_count: 1 });
  });
});
