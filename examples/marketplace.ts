// A marketplace: a buyer asks a seller about a product with one call (send to a person), makes an
// offer, the seller counters, the buyer accepts — while the seller's app follows the chat over
// one socket (client.connect() + subscribe). Guide: docs/guides/marketplace.md.
import type { Message } from "edge-chat/client";
import { check, login, run, RUN, step, within } from "./lib/app.ts";

run("marketplace", async () => {
  const buyer = await login("Bea Buyer");
  const seller = await login("Sam Seller");
  const product = { type: "product", id: `bike-${RUN}`, title: "Road bike", price: 450, currency: "EUR" };

  // The seller's app: one socket for the inbox and every conversation it follows.
  const sellerConnection = seller.client.connect();
  await within("the seller's connection", sellerConnection.next("hello"));
  const firstNotification = within("the seller's notification", sellerConnection.next("notification.message"));

  step("buyer asks about the bike: POST /api/v1/messages creates the product's conversation and sends");
  const sent = await buyer.client.sendToPerson({
    to_user_id: seller.user.id,
    content: "Hi! Is the road bike still available?",
    context: product,
    roles: { [buyer.user.id]: "buyer", [seller.user.id]: "seller" },
    client_id: `ask-${RUN}`,
  });
  check(sent.created_conversation, "a new conversation for this product");
  const conversationId = sent.conversation_id;
  const { message: note } = await firstNotification;
  step(`seller's inbox: notification.message "${note.content}" from ${note.sender?.name}`);

  step("seller opens the chat: subscribe on the same socket, from the start");
  const chat = sellerConnection.subscribe(conversationId, { afterSeq: 0 });
  const seen: Message[] = [];
  chat.on("message", (m) => {
    seen.push(m);
    console.log(`    [seller sees] #${m.seq} ${m.type}: ${m.content}`);
  });
  await within("the replay", chat.next("synced"));
  await chat.send("Yes, it is! Serviced last month.");

  step("buyer offers 400 EUR: an offer message with data.status pending");
  const offer = await buyer.client.makeOffer(conversationId, { amount: 400, currency: "EUR", product_id: product.id, message: "Would you take 400?" });
  const offerId = String(offer.data?.offer_id);
  check(offer.type === "offer" && offer.data?.status === "pending", "a pending offer");

  step("seller counters with 430 over the socket (offer.respond)");
  const countered = within("the counter", chat.next("message", (m) => m.type === "offer_response"));
  chat.respondToOffer(offerId, { action: "counter", counter_amount: 430, message: "Meet me at 430?" });
  const counterOfferId = String((await countered).data?.counter_offer_id);

  step("buyer accepts the counter offer");
  const accepted = within("offer.updated accepted", chat.next("offer.updated", ({ offer: o }) => o.id === counterOfferId && o.status === "accepted"));
  await buyer.client.respondToOffer(conversationId, counterOfferId, { action: "accept" });
  const { offer: deal } = await accepted;
  step(`deal: ${deal.amount} ${deal.currency} for ${deal.product_id}`);

  const conversation = await buyer.client.getConversation(conversationId);
  const sellerSide = conversation.participants.find((p) => p.id === seller.user.id);
  step(`the conversation: context ${conversation.context?.type}/${conversation.context?.id}, seller's role ${sellerSide?.role}, seller unread ${sellerSide?.unread_count}`);
  check(seen.some((m) => m.type === "system"), "the system message of the accepted offer");
  sellerConnection.close();
});
