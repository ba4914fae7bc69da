import { describe, expect, it } from "vitest";
import { addParticipant, callJson, freshDirect, getConversation, group, login, patchConversation, removeParticipant, sendRest } from "../helpers/api";
import { delivered, expectSignedEnvelope, received } from "../helpers/webhooks";

/** Each event type's envelope, signature and data (DESIGN.md, Webhooks); WEBHOOK_URL points at the fake receiver. */
describe("webhook events", () => {
  it("message.new carries the message as the API answered it", async () => {
    const [a, b] = await Promise.all([login("wh-a"), login("wh-b")]);
    const id = await freshDirect(a, b, "wh-new");
    const sent = await sendRest(a, id, "hello hooks");
    expect(sent.status).toBe(201);
    const got = await delivered(id, "message.new");
    await expectSignedEnvelope(got);
    expect(got.event.data).toEqual({ conversation_id: id, message: sent.body });
  });

  it("message.updated follows an edit and a delete (content withheld)", async () => {
    const [a, b] = await Promise.all([login("wh-a"), login("wh-b")]);
    const id = await freshDirect(a, b, "wh-upd");
    const sent = await sendRest(a, id, "first words");
    const path = `/api/v1/conversations/${id}/messages/${sent.body.id}`;
    const edited = await callJson(path, { method: "PATCH", token: a.token, json: { content: "better words" } });
    expect(edited.status).toBe(200);
    const edit = await delivered(id, "message.updated", (e) => e.data.message.deleted_at === null);
    await expectSignedEnvelope(edit);
    expect(edit.event.data).toEqual({ conversation_id: id, message: edited.body });
    expect(edit.event.data.message).toMatchObject({ content: "better words", edited_at: expect.any(String) });

    const deleted = await callJson(path, { method: "DELETE", token: a.token });
    expect(deleted.status).toBe(200);
    const removal = await delivered(id, "message.updated", (e) => e.data.message.deleted_at !== null);
    await expectSignedEnvelope(removal);
    expect(removal.event.data).toEqual({ conversation_id: id, message: deleted.body });
    expect(removal.event.data.message.content).not.toBe("better words");
    expect(removal.event.id).not.toBe(edit.event.id);
  });

  it("offer.updated and the offer message's message.updated follow an accepted offer", async () => {
    const [buyer, seller] = await Promise.all([login("wh-buyer"), login("wh-seller")]);
    const id = await freshDirect(buyer, seller, "wh-offer");
    const offer = await callJson(`/api/v1/conversations/${id}/offers`, { method: "POST", token: buyer.token, json: { amount: 40, currency: "EUR" } });
    expect(offer.status).toBe(201);
    const offerId = offer.body.data.offer_id as string;
    const answer = await callJson(`/api/v1/conversations/${id}/offers/${offerId}/respond`, { method: "POST", token: seller.token, json: { action: "accept" } });
    expect(answer.status).toBe(201);

    const updated = await delivered(id, "offer.updated");
    await expectSignedEnvelope(updated);
    expect(updated.event.data).toEqual({
      conversation_id: id,
      offer: expect.objectContaining({ id: offerId, status: "accepted", amount: 40, currency: "EUR", offerer_id: buyer.id, responded_by: seller.id }),
    });
    const offerMessage = await delivered(id, "message.updated", (e) => e.data.message.id === offer.body.id);
    expect(offerMessage.event.data.message.data).toMatchObject({ offer_id: offerId, status: "accepted" });
    const response = await delivered(id, "message.new", (e) => e.data.message.id === answer.body.id);
    expect(response.event.data.message).toEqual(answer.body);
  });

  it("conversation.created and conversation.updated carry the conversation", async () => {
    const [a, b] = await Promise.all([login("wh-a"), login("wh-b")]);
    const id = await group(a, [b], { title: "before" });
    const created = await delivered(id, "conversation.created");
    await expectSignedEnvelope(created);
    expect(created.event.data.conversation).toMatchObject({ id, type: "group", title: "before", status: "active" });
    expect(created.event.data.conversation.participants.map((p) => p.id).sort()).toEqual([a.id, b.id].sort());

    const patched = await patchConversation(a, id, { title: "after", status: "closed" });
    expect(patched.status).toBe(200);
    const updated = await delivered(id, "conversation.updated");
    await expectSignedEnvelope(updated);
    expect(updated.event.data).toEqual({ conversation: patched.body });
    expect(updated.event.data.conversation).toMatchObject({ title: "after", status: "closed" });
  });

  it("participant.added and participant.removed name the user and their role", async () => {
    const [a, b, c] = await Promise.all([login("wh-a"), login("wh-b"), login("wh-c")]);
    const id = await group(a, [b]);
    expect((await addParticipant(a, id, c.id, "seller")).status).toBe(201);
    const added = await delivered(id, "participant.added");
    await expectSignedEnvelope(added);
    expect(added.event.data).toEqual({ conversation_id: id, user_id: c.id, role: "seller" });

    expect((await removeParticipant(a, id, c.id)).status).toBe(204);
    const removed = await delivered(id, "participant.removed");
    await expectSignedEnvelope(removed);
    expect(removed.event.data).toEqual({ conversation_id: id, user_id: c.id, role: "seller" });
  });

  it("a refused change makes no event", async () => {
    const [a, b, outsider] = await Promise.all([login("wh-a"), login("wh-b"), login("wh-out")]);
    const id = await freshDirect(a, b, "wh-refused");
    expect((await sendRest(outsider, id, "let me in")).status).toBe(403);
    expect((await patchConversation(outsider, id, { title: "mine" })).status).toBe(403);
    await sendRest(a, id, "marker");
    await delivered(id, "message.new");
    expect((await getConversation(a, id)).body.title).toBeNull();
    const types = (await received(id)).map((d) => d.event.type);
    expect(types).toEqual(["conversation.created", "message.new"]);
  });
});
