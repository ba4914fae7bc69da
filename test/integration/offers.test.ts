import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { callJson, history, login, type TestUser } from "../helpers/api";
import { expectError, expectFieldError } from "../helpers/assertions";
import { barrier, closeAll, framesOf, open } from "../helpers/sockets";

// Marketplace negotiation (DESIGN.md, Offers): a buyer and a seller in a direct conversation
// about a product. A few users are made once; every test gets its own conversation (a direct
// conversation per product context), so seq starts at 1 and rate-limit buckets are fresh.

let buyer: TestUser;
let seller: TestUser;
let outsider: TestUser;

beforeAll(async () => {
  buyer = await login("buyer");
  seller = await login("seller");
  outsider = await login("outsider");
});

let contextCounter = 0;
/** The first conversation is exactly {type:"product", id:"p1"}; later ones are other products of the same pair. */
async function fresh(): Promise<string> {
  const productId = contextCounter++ === 0 ? "p1" : `p1-${Date.now().toString(36)}-${contextCounter}`;
  const { status, body } = await callJson("/api/v1/conversations", {
    method: "POST",
    token: buyer.token,
    json: {
      type: "direct",
      participant_ids: [seller.id],
      context: { type: "product", id: productId, title: "Vintage lamp", price: 150, currency: "USD" },
      roles: { [buyer.id]: "buyer", [seller.id]: "seller" },
    },
  });
  expect(status).toBe(201);
  return body.id as string;
}

const offersPath = (conversationId: string) => `/api/v1/conversations/${conversationId}/offers`;

function makeOffer(user: TestUser, conversationId: string, body: unknown) {
  return callJson(offersPath(conversationId), { method: "POST", token: user.token, json: body });
}

function respond(user: TestUser, conversationId: string, offerId: string, body: unknown) {
  return callJson(`${offersPath(conversationId)}/${encodeURIComponent(offerId)}/respond`, { method: "POST", token: user.token, json: body });
}

/** Makes an offer that must succeed; returns the offer message. */
async function offered(user: TestUser, conversationId: string, body: Record<string, unknown>): Promise<any> {
  const { status, body: message } = await makeOffer(user, conversationId, body);
  expect(status, JSON.stringify(message)).toBe(201);
  expect(message.type).toBe("offer");
  return message;
}

async function lastSeq(conversationId: string): Promise<number> {
  const messages = await history(buyer, conversationId);
  return messages.length ? messages[messages.length - 1].seq : 0;
}

async function messageById(conversationId: string, messageId: string): Promise<any> {
  const found = (await history(buyer, conversationId)).find((m) => m.id === messageId);
  expect(found, `message ${messageId} in history`).toBeDefined();
  return found;
}

afterEach(closeAll);

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe("making an offer over REST", () => {
  it("201 with a pending offer message (currency defaults to USD); every socket gets message.new", async () => {
    const id = await fresh();
    const buyerSocket = await open(id, buyer);
    const buyerSocket2 = await open(id, buyer);
    const sellerSocket = await open(id, seller);

    const { status, body } = await makeOffer(buyer, id, { amount: 125.5, product_id: "p1", message: "Would you take 125.50?" });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      conversation_id: id,
      seq: 1,
      sender_id: buyer.id,
      type: "offer",
      content: "Would you take 125.50?",
      deleted_at: null,
      edited_at: null,
    });
    expect(body.data).toEqual({ offer_id: expect.any(String), status: "pending", amount: 125.5, currency: "USD", product_id: "p1", counter_of: null });
    expect(body.data.offer_id.length).toBeGreaterThan(0);
    expect(body.created_at).toMatch(ISO);

    for (const socket of [buyerSocket, buyerSocket2, sellerSocket]) {
      const frame = await socket.next("message.new", (f) => f.message.id === body.id);
      expect(frame.message).toEqual(body);
      await barrier(socket);
      expect(framesOf(socket, "message.new")).toHaveLength(1);
      // A REST send is acknowledged by the HTTP response, not by a socket ack.
      expect(framesOf(socket, "message.ack")).toHaveLength(0);
    }

    const messages = await history(seller, id);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ id: body.id, seq: 1, type: "offer", data: body.data });
  });

  it("without message or product_id: a non-empty content and product_id null", async () => {
    const id = await fresh();
    const message = await offered(seller, id, { amount: 80 });
    expect(message.sender_id).toBe(seller.id);
    expect(message.data).toEqual({ offer_id: expect.any(String), status: "pending", amount: 80, currency: "USD", product_id: null, counter_of: null });
    expect(message.content.trim().length).toBeGreaterThan(0);
  });

  it("amounts must be positive numbers with at most 2 decimals", async () => {
    const id = await fresh();
    for (const amount of [0, -5, -0.01, 10.001, "10", null]) {
      const result = await makeOffer(buyer, id, { amount });
      expectFieldError(result, "amount");
    }
    expectFieldError(await makeOffer(buyer, id, {}), "amount");
    expect(await lastSeq(id)).toBe(0);

    const a = await offered(buyer, id, { amount: 10.5 });
    expect(a.data).toMatchObject({ amount: 10.5, status: "pending" });
    const b = await offered(buyer, id, { amount: 19.99 });
    expect(b.data).toMatchObject({ amount: 19.99, status: "pending" });
    const c = await offered(buyer, id, { amount: 0.01 });
    expect(c.data).toMatchObject({ amount: 0.01 });
    expect(new Set([a.data.offer_id, b.data.offer_id, c.data.offer_id]).size).toBe(3);
    expect((await history(buyer, id)).map((m) => [m.seq, m.data.amount])).toEqual([
      [1, 10.5],
      [2, 19.99],
      [3, 0.01],
    ]);
  });

  it("currency must be a three-letter upper-case code; EUR is kept", async () => {
    const id = await fresh();
    expectFieldError(await makeOffer(buyer, id, { amount: 10, currency: "usd" }), "currency");
    expectFieldError(await makeOffer(buyer, id, { amount: 10, currency: "EURO" }), "currency");
    expectFieldError(await makeOffer(buyer, id, { amount: 10, currency: "EU" }), "currency");
    expect(await lastSeq(id)).toBe(0);

    const message = await offered(buyer, id, { amount: 10, currency: "EUR" });
    expect(message.data).toMatchObject({ amount: 10, currency: "EUR", status: "pending" });
    expect(await lastSeq(id)).toBe(1);
  });

  it("a non-participant is refused with CHAT_ACCESS_DENIED, for making and for answering", async () => {
    const id = await fresh();
    expectError(await makeOffer(outsider, id, { amount: 10 }), 403, "CHAT_ACCESS_DENIED");
    const offer = await offered(buyer, id, { amount: 10 });
    for (const action of ["accept", "reject", "withdraw"]) {
      expectError(await respond(outsider, id, offer.data.offer_id, { action }), 403, "CHAT_ACCESS_DENIED");
    }
    expectError(await respond(outsider, id, offer.data.offer_id, { action: "counter", counter_amount: 5 }), 403, "CHAT_ACCESS_DENIED");
    const messages = await history(buyer, id);
    expect(messages).toHaveLength(1);
    expect(messages[0].data.status).toBe("pending");
  });

  it("unauthenticated requests are refused", async () => {
    const id = await fresh();
    const result = await callJson(offersPath(id), { method: "POST", json: { amount: 10 } });
    expectError(result, 401, "AUTHENTICATION_REQUIRED");
  });

  it("in a closed conversation: 409 CONVERSATION_CLOSED for making and for answering", async () => {
    const id = await fresh();
    const offer = await offered(buyer, id, { amount: 50 });
    const patched = await callJson(`/api/v1/conversations/${id}`, { method: "PATCH", token: seller.token, json: { status: "closed" } });
    expect(patched.status).toBe(200);
    expect(patched.body.status).toBe("closed");
    const seqAfterClose = await lastSeq(id);

    expectError(await makeOffer(buyer, id, { amount: 60 }), 409, "CONVERSATION_CLOSED");
    expectError(await makeOffer(seller, id, { amount: 60 }), 409, "CONVERSATION_CLOSED");
    expectError(await respond(seller, id, offer.data.offer_id, { action: "accept" }), 409, "CONVERSATION_CLOSED");
    expectError(await respond(seller, id, offer.data.offer_id, { action: "reject" }), 409, "CONVERSATION_CLOSED");
    expectError(await respond(seller, id, offer.data.offer_id, { action: "counter", counter_amount: 70 }), 409, "CONVERSATION_CLOSED");
    expectError(await respond(buyer, id, offer.data.offer_id, { action: "withdraw" }), 409, "CONVERSATION_CLOSED");

    expect(await lastSeq(id)).toBe(seqAfterClose);
    expect((await messageById(id, offer.id)).data.status).toBe("pending");

    // Reopened, the same offer can be answered again.
    const reopened = await callJson(`/api/v1/conversations/${id}`, { method: "PATCH", token: buyer.token, json: { status: "active" } });
    expect(reopened.status).toBe(200);
    const accepted = await respond(seller, id, offer.data.offer_id, { action: "accept" });
    expect(accepted.status).toBe(201);
    expect(accepted.body.data).toMatchObject({ offer_id: offer.data.offer_id, action: "accept", status: "accepted" });
  });

  it("the same client_id twice: 201 then 200 with the first offer, never a second one", async () => {
    const id = await fresh();
    const first = await makeOffer(buyer, id, { amount: 30, client_id: "offer-retry-1" });
    expect(first.status).toBe(201);
    expect(first.body.client_id).toBe("offer-retry-1");
    const second = await makeOffer(buyer, id, { amount: 30, client_id: "offer-retry-1" });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.seq).toBe(1);
    expect(second.body.data.offer_id).toBe(first.body.data.offer_id);

    const messages = await history(buyer, id);
    expect(messages).toHaveLength(1);
    expect(messages.filter((m) => m.type === "offer")).toHaveLength(1);

    // The same client_id from the other party is a different offer.
    const sellers = await makeOffer(seller, id, { amount: 35, client_id: "offer-retry-1" });
    expect(sellers.status).toBe(201);
    expect(sellers.body.id).not.toBe(first.body.id);
    expect(await lastSeq(id)).toBe(2);
  });
});

describe("answering an offer over REST", () => {
  it("accept: offer_response, offer.updated and message.updated to every socket, then a system note with the amount", async () => {
    const id = await fresh();
    const buyerSocket = await open(id, buyer);
    const sellerSocket = await open(id, seller);
    const offer = await offered(buyer, id, { amount: 149.5, product_id: "p1" });
    const offerId = offer.data.offer_id as string;

    const { status, body } = await respond(seller, id, offerId, { action: "accept", message: "Deal!" });
    expect(status).toBe(201);
    expect(body).toMatchObject({ conversation_id: id, seq: 2, sender_id: seller.id, type: "offer_response", content: "Deal!" });
    expect(body.data).toMatchObject({ offer_id: offerId, action: "accept", status: "accepted" });
    expect(body.data.counter_offer_id).toBeUndefined();

    for (const socket of [buyerSocket, sellerSocket]) {
      const updated = await socket.next("offer.updated");
      expect(updated.offer).toMatchObject({
        id: offerId,
        conversation_id: id,
        message_id: offer.id,
        offerer_id: buyer.id,
        amount: 149.5,
        currency: "USD",
        product_id: "p1",
        status: "accepted",
        counter_of: null,
        responded_by: seller.id,
      });
      const changed = await socket.next("message.updated", (f) => f.message.id === offer.id);
      expect(changed.message.data).toEqual({ ...offer.data, status: "accepted" });
      expect(changed.message.seq).toBe(1);
      const response = await socket.next("message.new", (f) => f.message.id === body.id);
      expect(response.message).toEqual(body);
      const note = await socket.next("message.new", (f) => f.message.type === "system");
      expect(note.message.seq).toBe(3);
      await barrier(socket);
      expect(framesOf(socket, "offer.updated")).toHaveLength(1);
      expect(framesOf(socket, "message.updated")).toHaveLength(1);
      expect(framesOf(socket, "message.new").map((f) => f.message.seq)).toEqual([1, 2, 3]);
    }

    const messages = await history(buyer, id);
    expect(messages.map((m) => [m.seq, m.type])).toEqual([
      [1, "offer"],
      [2, "offer_response"],
      [3, "system"],
    ]);
    expect(messages[0].data).toEqual({ offer_id: offerId, status: "accepted", amount: 149.5, currency: "USD", product_id: "p1", counter_of: null });
    expect(messages[2].sender_id).toBeNull();
    expect(messages[2].content).toContain("149.50");
  });

  it("reject: the offer becomes rejected; no system note", async () => {
    const id = await fresh();
    const buyerSocket = await open(id, buyer);
    const offer = await offered(buyer, id, { amount: 20 });
    const { status, body } = await respond(seller, id, offer.data.offer_id, { action: "reject" });
    expect(status).toBe(201);
    expect(body).toMatchObject({ seq: 2, type: "offer_response", sender_id: seller.id });
    expect(body.data).toMatchObject({ offer_id: offer.data.offer_id, action: "reject", status: "rejected" });
    expect(body.content.trim().length).toBeGreaterThan(0);

    const updated = await buyerSocket.next("offer.updated");
    expect(updated.offer).toMatchObject({ id: offer.data.offer_id, status: "rejected", responded_by: seller.id });
    const changed = await buyerSocket.next("message.updated", (f) => f.message.id === offer.id);
    expect(changed.message.data.status).toBe("rejected");

    const messages = await history(seller, id);
    expect(messages.map((m) => m.type)).toEqual(["offer", "offer_response"]);
    expect(messages[0].data.status).toBe("rejected");
  });

  it("withdraw by the offerer: the offer becomes withdrawn", async () => {
    const id = await fresh();
    const sellerSocket = await open(id, seller);
    const offer = await offered(buyer, id, { amount: 20 });
    const { status, body } = await respond(buyer, id, offer.data.offer_id, { action: "withdraw", message: "Never mind" });
    expect(status).toBe(201);
    expect(body).toMatchObject({ seq: 2, type: "offer_response", sender_id: buyer.id, content: "Never mind" });
    expect(body.data).toMatchObject({ offer_id: offer.data.offer_id, action: "withdraw", status: "withdrawn" });

    const updated = await sellerSocket.next("offer.updated");
    expect(updated.offer).toMatchObject({ id: offer.data.offer_id, status: "withdrawn", responded_by: buyer.id });
    const changed = await sellerSocket.next("message.updated", (f) => f.message.id === offer.id);
    expect(changed.message.data.status).toBe("withdrawn");

    const messages = await history(seller, id);
    expect(messages.map((m) => m.type)).toEqual(["offer", "offer_response"]);
    expect(messages[0].data.status).toBe("withdrawn");
  });

  it("counter: a new pending offer linked by counter_of, the original countered; the other side then accepts the counter", async () => {
    const id = await fresh();
    const buyerSocket = await open(id, buyer);
    const sellerSocket = await open(id, seller);
    const original = await offered(buyer, id, { amount: 100, currency: "EUR", product_id: "p1" });
    const originalId = original.data.offer_id as string;

    const countered = await respond(seller, id, originalId, { action: "counter", counter_amount: 120.25 });
    expect(countered.status).toBe(201);
    expect(countered.body).toMatchObject({ type: "offer_response", sender_id: seller.id });
    expect(countered.body.data).toMatchObject({ offer_id: originalId, action: "counter", status: "countered", counter_offer_id: expect.any(String) });
    const counterId = countered.body.data.counter_offer_id as string;
    expect(counterId).not.toBe(originalId);

    let messages = await history(buyer, id);
    expect(messages).toHaveLength(3);
    expect(messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(messages[0].data).toEqual({ offer_id: originalId, status: "countered", amount: 100, currency: "EUR", product_id: "p1", counter_of: null });
    const counterMessage = messages.find((m) => m.type === "offer" && m.data.offer_id === counterId);
    expect(counterMessage).toBeDefined();
    expect(counterMessage.sender_id).toBe(seller.id);
    expect(counterMessage.data).toEqual({ offer_id: counterId, status: "pending", amount: 120.25, currency: "EUR", product_id: "p1", counter_of: originalId });
    expect(messages.filter((m) => m.type === "offer_response")).toHaveLength(1);

    for (const socket of [buyerSocket, sellerSocket]) {
      const updated = await socket.next("offer.updated", (f) => f.offer.id === originalId);
      expect(updated.offer).toMatchObject({ status: "countered", responded_by: seller.id });
      const changed = await socket.next("message.updated", (f) => f.message.id === original.id);
      expect(changed.message.data.status).toBe("countered");
      const counterNew = await socket.next("message.new", (f) => f.message.id === counterMessage.id);
      expect(counterNew.message.data).toEqual(counterMessage.data);
      await socket.next("message.new", (f) => f.message.id === countered.body.id);
    }

    // The original offerer may not answer the original again, but accepts the counter.
    expectError(await respond(buyer, id, originalId, { action: "accept" }), 409, "OFFER_NOT_PENDING");
    // The counter's offerer (the seller) cannot accept their own counter.
    expectError(await respond(seller, id, counterId, { action: "accept" }), 403, "FORBIDDEN");
    expect(await lastSeq(id)).toBe(3);

    const accepted = await respond(buyer, id, counterId, { action: "accept" });
    expect(accepted.status).toBe(201);
    expect(accepted.body).toMatchObject({ seq: 4, type: "offer_response", sender_id: buyer.id });
    expect(accepted.body.data).toMatchObject({ offer_id: counterId, action: "accept", status: "accepted" });

    const updated = await sellerSocket.next("offer.updated", (f) => f.offer.id === counterId);
    expect(updated.offer).toMatchObject({ status: "accepted", offerer_id: seller.id, responded_by: buyer.id, counter_of: originalId, amount: 120.25, currency: "EUR" });

    messages = await history(seller, id);
    expect(messages).toHaveLength(5);
    expect(messages[0].data.status).toBe("countered");
    expect(messages.find((m) => m.id === counterMessage.id).data.status).toBe("accepted");
    expect(messages[4].type).toBe("system");
    expect(messages[4].content).toContain("120.25");
  });

  it("a counter of a counter chains counter_of", async () => {
    const id = await fresh();
    const first = await offered(buyer, id, { amount: 100 });
    const c1 = await respond(seller, id, first.data.offer_id, { action: "counter", counter_amount: 130 });
    expect(c1.status).toBe(201);
    const c2 = await respond(buyer, id, c1.body.data.counter_offer_id, { action: "counter", counter_amount: 115 });
    expect(c2.status).toBe(201);
    const offers = (await history(buyer, id)).filter((m) => m.type === "offer");
    expect(offers.map((m) => [m.data.amount, m.data.status, m.data.counter_of])).toEqual([
      [100, "countered", null],
      [130, "countered", first.data.offer_id],
      [115, "pending", c1.body.data.counter_offer_id],
    ]);
    expect(offers.map((m) => m.sender_id)).toEqual([buyer.id, seller.id, buyer.id]);
  });
});

describe("illegal answers are refused and append nothing", () => {
  it("the offerer may not accept, reject or counter their own offer; the counterparty may not withdraw it", async () => {
    const id = await fresh();
    const sellerSocket = await open(id, seller);
    const offer = await offered(buyer, id, { amount: 40 });
    const offerId = offer.data.offer_id as string;

    expectError(await respond(buyer, id, offerId, { action: "accept" }), 403, "FORBIDDEN");
    expect(await lastSeq(id)).toBe(1);
    expectError(await respond(buyer, id, offerId, { action: "reject" }), 403, "FORBIDDEN");
    expect(await lastSeq(id)).toBe(1);
    expectError(await respond(buyer, id, offerId, { action: "counter", counter_amount: 45 }), 403, "FORBIDDEN");
    expect(await lastSeq(id)).toBe(1);
    expectError(await respond(seller, id, offerId, { action: "withdraw" }), 403, "FORBIDDEN");
    expect(await lastSeq(id)).toBe(1);

    expect((await messageById(id, offer.id)).data.status).toBe("pending");
    await barrier(sellerSocket);
    expect(framesOf(sellerSocket, "offer.updated")).toHaveLength(0);
    expect(framesOf(sellerSocket, "message.updated")).toHaveLength(0);
    expect(framesOf(sellerSocket, "message.new")).toHaveLength(1);

    // The offer is still answerable.
    const ok = await respond(seller, id, offerId, { action: "reject" });
    expect(ok.status).toBe(201);
  });

  it.each([
    ["accept", seller_],
    ["reject", seller_],
    ["counter", seller_],
    ["withdraw", buyer_],
  ] as const)("after %s, every further answer by either side is 409 OFFER_NOT_PENDING", async (first, who) => {
    const id = await fresh();
    const offer = await offered(buyer, id, { amount: 60 });
    const offerId = offer.data.offer_id as string;
    const answered = await respond(who(), id, offerId, first === "counter" ? { action: "counter", counter_amount: 65 } : { action: first });
    expect(answered.status).toBe(201);
    const seq = await lastSeq(id);
    const status = (await messageById(id, offer.id)).data.status;
    expect(status).toBe({ accept: "accepted", reject: "rejected", counter: "countered", withdraw: "withdrawn" }[first]);

    for (const user of [seller, buyer]) {
      for (const body of [{ action: "accept" }, { action: "reject" }, { action: "counter", counter_amount: 70 }, { action: "withdraw" }]) {
        const result = await respond(user, id, offerId, body);
        expectError(result, 409, "OFFER_NOT_PENDING");
      }
    }
    expect(await lastSeq(id)).toBe(seq);
    expect((await messageById(id, offer.id)).data.status).toBe(status);
  });

  it("unknown offer → 404 NOT_FOUND; an offer of another conversation is unknown here too", async () => {
    const id = await fresh();
    const other = await fresh();
    const offer = await offered(buyer, id, { amount: 10 });
    const elsewhere = await offered(buyer, other, { amount: 11 });

    expectError(await respond(seller, id, "ofr_does_not_exist", { action: "accept" }), 404, "NOT_FOUND");
    expectError(await respond(seller, id, elsewhere.data.offer_id, { action: "accept" }), 404, "NOT_FOUND");
    expect(await lastSeq(id)).toBe(1);
    expect(await lastSeq(other)).toBe(1);
    expect((await messageById(other, elsewhere.id)).data.status).toBe("pending");
    expect((await messageById(id, offer.id)).data.status).toBe("pending");
  });

  it("counter without a valid counter_amount → 400 naming counter_amount; a bad action → 400 naming action", async () => {
    const id = await fresh();
    const offer = await offered(buyer, id, { amount: 10 });
    const offerId = offer.data.offer_id as string;

    expectFieldError(await respond(seller, id, offerId, { action: "counter" }), "counter_amount");
    expectFieldError(await respond(seller, id, offerId, { action: "counter", counter_amount: 0 }), "counter_amount");
    expectFieldError(await respond(seller, id, offerId, { action: "counter", counter_amount: -3 }), "counter_amount");
    expectFieldError(await respond(seller, id, offerId, { action: "counter", counter_amount: 1.234 }), "counter_amount");
    expectFieldError(await respond(seller, id, offerId, { action: "counter", counter_amount: "12" }), "counter_amount");
    expectFieldError(await respond(seller, id, offerId, { action: "cancel" }), "action");
    expectFieldError(await respond(seller, id, offerId, { action: "ACCEPT" }), "action");
    expectFieldError(await respond(seller, id, offerId, {}), "action");

    expect(await lastSeq(id)).toBe(1);
    expect((await messageById(id, offer.id)).data.status).toBe("pending");
  });
});

describe("offers over the conversation socket", () => {
  it("offer.send acks with the offer message and reaches every socket; offer.respond acks and broadcasts offer.updated", async () => {
    const id = await fresh();
    const b = await open(id, buyer);
    const s1 = await open(id, seller);
    const s2 = await open(id, seller);

    b.send({ type: "offer.send", ref: "o-1", amount: 42.5, currency: "EUR", product_id: "p1", message: "42.50?", client_id: "sock-offer-1" });
    const ack = await b.next("message.ack", (f) => f.ref === "o-1");
    expect(ack.client_id).toBe("sock-offer-1");
    expect(ack.message).toMatchObject({ conversation_id: id, seq: 1, type: "offer", sender_id: buyer.id, content: "42.50?", client_id: "sock-offer-1" });
    expect(ack.message.data).toEqual({ offer_id: expect.any(String), status: "pending", amount: 42.5, currency: "EUR", product_id: "p1", counter_of: null });
    const offerId = ack.message.data.offer_id as string;
    for (const socket of [b, s1, s2]) {
      const frame = await socket.next("message.new", (f) => f.message.id === ack.message.id);
      expect(frame.message).toEqual(ack.message);
    }
    for (const socket of [s1, s2]) {
      await barrier(socket);
      expect(framesOf(socket, "message.ack")).toHaveLength(0);
    }

    s1.send({ type: "offer.respond", ref: 7, offer_id: offerId, action: "counter", counter_amount: 45 });
    const responseAck = await s1.next("message.ack", (f) => f.ref === 7);
    expect(responseAck.message).toMatchObject({ type: "offer_response", sender_id: seller.id });
    expect(responseAck.message.data).toMatchObject({ offer_id: offerId, action: "counter", status: "countered", counter_offer_id: expect.any(String) });
    const counterId = responseAck.message.data.counter_offer_id as string;

    for (const socket of [b, s1, s2]) {
      const updated = await socket.next("offer.updated", (f) => f.offer.id === offerId);
      expect(updated.offer).toMatchObject({ status: "countered", responded_by: seller.id, amount: 42.5, currency: "EUR" });
      const changed = await socket.next("message.updated", (f) => f.message.id === ack.message.id);
      expect(changed.message.data.status).toBe("countered");
      const counter = await socket.next("message.new", (f) => f.message.type === "offer" && f.message.data.offer_id === counterId);
      expect(counter.message.data).toEqual({ offer_id: counterId, status: "pending", amount: 45, currency: "EUR", product_id: "p1", counter_of: offerId });
      await socket.next("message.new", (f) => f.message.id === responseAck.message.id);
    }
    await barrier(s2);
    expect(framesOf(s2, "message.ack")).toHaveLength(0);
    expect(framesOf(s1, "message.ack")).toHaveLength(1);

    b.send({ type: "offer.respond", ref: "r-accept", offer_id: counterId, action: "accept" });
    const acceptAck = await b.next("message.ack", (f) => f.ref === "r-accept");
    expect(acceptAck.message).toMatchObject({ type: "offer_response", sender_id: buyer.id });
    expect(acceptAck.message.data).toMatchObject({ offer_id: counterId, action: "accept", status: "accepted" });
    for (const socket of [b, s1, s2]) {
      const updated = await socket.next("offer.updated", (f) => f.offer.id === counterId);
      expect(updated.offer).toMatchObject({ status: "accepted", offerer_id: seller.id, responded_by: buyer.id });
      const note = await socket.next("message.new", (f) => f.message.type === "system");
      expect(note.message.content).toContain("45.00");
    }

    const messages = await history(buyer, id);
    expect(messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(messages.filter((m) => m.type === "offer").map((m) => [m.data.offer_id, m.data.status])).toEqual([
      [offerId, "countered"],
      [counterId, "accepted"],
    ]);
  });

  it("illegal answers over the socket: an error frame with the code and ref; nothing appended; the socket stays open", async () => {
    const id = await fresh();
    const b = await open(id, buyer);
    const s = await open(id, seller);
    const offer = await offered(buyer, id, { amount: 99 });
    const offerId = offer.data.offer_id as string;
    await s.next("message.new", (f) => f.message.id === offer.id);

    s.send({ type: "offer.respond", ref: "w-1", offer_id: offerId, action: "withdraw" });
    const withdrawErr = await s.next("error", (f) => f.ref === "w-1");
    expect(withdrawErr.code).toBe("FORBIDDEN");

    b.send({ type: "offer.respond", ref: "a-own", offer_id: offerId, action: "accept" });
    const ownErr = await b.next("error", (f) => f.ref === "a-own");
    expect(ownErr.code).toBe("FORBIDDEN");

    b.send({ type: "offer.respond", ref: "x-unknown", offer_id: "ofr_nope", action: "withdraw" });
    const unknownErr = await b.next("error", (f) => f.ref === "x-unknown");
    expect(unknownErr.code).toBe("NOT_FOUND");

    s.send({ type: "offer.respond", ref: "c-none", offer_id: offerId, action: "counter" });
    const counterErr = await s.next("error", (f) => f.ref === "c-none");
    expect(counterErr.code).toBe("VALIDATION_ERROR");
    expect(counterErr.message).toContain("counter_amount");

    expect(await lastSeq(id)).toBe(1);
    for (const socket of [b, s]) {
      await barrier(socket);
      expect(framesOf(socket, "offer.updated")).toHaveLength(0);
      expect(framesOf(socket, "message.new")).toHaveLength(1);
    }

    s.send({ type: "offer.respond", ref: "a-1", offer_id: offerId, action: "accept" });
    await s.next("message.ack", (f) => f.ref === "a-1");
    const seq = await lastSeq(id);
    expect(seq).toBe(3);

    s.send({ type: "offer.respond", ref: "a-2", offer_id: offerId, action: "accept" });
    const again = await s.next("error", (f) => f.ref === "a-2");
    expect(again.code).toBe("OFFER_NOT_PENDING");
    b.send({ type: "offer.respond", ref: "w-2", offer_id: offerId, action: "withdraw" });
    const late = await b.next("error", (f) => f.ref === "w-2");
    expect(late.code).toBe("OFFER_NOT_PENDING");

    for (const socket of [b, s]) {
      await barrier(socket);
      expect(socket.closed).toBeNull();
      expect(framesOf(socket, "offer.updated")).toHaveLength(1);
    }
    expect(await lastSeq(id)).toBe(seq);
  });

  it("offer.send with invalid fields gets an error frame naming the field; nothing appended", async () => {
    const id = await fresh();
    const b = await open(id, buyer);
    b.send({ type: "offer.send", ref: "bad-amount", amount: 10.001 });
    const amountErr = await b.next("error", (f) => f.ref === "bad-amount");
    expect(amountErr.code).toBe("VALIDATION_ERROR");
    expect(amountErr.message).toContain("amount");
    b.send({ type: "offer.send", ref: "bad-currency", amount: 10, currency: "usd" });
    const currencyErr = await b.next("error", (f) => f.ref === "bad-currency");
    expect(currencyErr.code).toBe("VALIDATION_ERROR");
    expect(currencyErr.message).toContain("currency");
    await barrier(b);
    expect(b.closed).toBeNull();
    expect(framesOf(b, "message.new")).toHaveLength(0);
    expect(await lastSeq(id)).toBe(0);
  });

  it("offer.send retried with the same client_id acks the first offer again and makes no second one", async () => {
    const id = await fresh();
    const b = await open(id, buyer);
    const s = await open(id, seller);
    b.send({ type: "offer.send", ref: "first", amount: 15, client_id: "sock-retry" });
    const first = await b.next("message.ack", (f) => f.ref === "first");
    b.send({ type: "offer.send", ref: "retry", amount: 15, client_id: "sock-retry" });
    const retry = await b.next("message.ack", (f) => f.ref === "retry", 3_000);
    expect(retry.client_id).toBe("sock-retry");
    expect(retry.message.id).toBe(first.message.id);
    expect(retry.message.data.offer_id).toBe(first.message.data.offer_id);
    await barrier(s);
    expect(framesOf(s, "message.new")).toHaveLength(1);
    expect(await lastSeq(id)).toBe(1);
  });
});

function seller_(): TestUser {
  return seller;
}
function buyer_(): TestUser {
  return buyer;
}
