import { newId, nowIso } from "../lib/ids";
import type { Message } from "../schemas/messages";
import type { CreateOfferInput, Offer, RespondOfferInput } from "../schemas/offers";
import { fail, invalidField, ok, type Actor, type Conversation, type Origin, type Result } from "./conversation";
import { offerData, type OfferBook } from "./offer-book";
import { nextOfferState, toMinorUnits } from "./offer-rules";

const formatAmount = (minor: number, currency: string) => `${(minor / 100).toFixed(2)} ${currency}`;

const RESPONSE_TEXT = { accept: "Accepted the offer", reject: "Declined the offer", counter: "Countered the offer", withdraw: "Withdrew the offer" } as const;

/** Marketplace negotiation: offers as messages, their status enforced by the pure offer rules. */
export class OfferDesk {
  constructor(
    private readonly conversation: Conversation,
    private readonly book: OfferBook,
  ) {}

  create(actor: Actor, input: CreateOfferInput, origin: Origin | null): Result<{ message: Message; created: boolean }> {
    const c = this.conversation;
    const denied = c.requireParticipant(actor);
    if (denied) return denied;
    if (input.client_id) {
      const existing = c.retried(actor, input.client_id, origin);
      if (existing) return ok({ message: existing, created: false });
    }
    const refused = c.requireMaySend(actor) ?? c.requireOpen();
    if (refused) return refused;
    const minor = toMinorUnits(input.amount);
    if (minor === null) return invalidField("amount", "must be positive with at most 2 decimals");
    const currency = input.currency ?? c.config.defaultCurrency;
    const result = c.spend(actor, "messages", () =>
      this.appendOffer(actor.id, { minor, currency, productId: input.product_id?.toWellFormed() ?? null, counterOf: null, text: input.message, clientId: input.client_id ?? null }),
    );
    if (!result.ok) return result;
    c.publish([result.value], origin);
    return ok({ message: result.value, created: true });
  }

  respond(actor: Actor, offerId: string, input: RespondOfferInput, origin: Origin | null): Result<Message> {
    const c = this.conversation;
    const denied = c.requireParticipant(actor);
    if (denied) return denied;
    const offer = this.book.get(offerId);
    if (!offer) return fail("NOT_FOUND", "no such offer in this conversation");
    const transition = nextOfferState({ status: offer.status, offererId: offer.offerer_id }, input.action, actor.id);
    if (!transition.ok) return fail(transition.code, transition.message);
    const refused = c.requireMaySend(actor) ?? c.requireOpen();
    if (refused) return refused;
    let counterMinor: number | null = null;
    if (input.action === "counter") {
      counterMinor = toMinorUnits(input.counter_amount ?? NaN);
      if (counterMinor === null) return invalidField("counter_amount", "a counter needs a positive amount with at most 2 decimals");
    }
    const result = c.spend(actor, "messages", () => {
      const at = nowIso();
      const updated = this.book.setStatus(offer.id, transition.status, actor.id, at);
      const offerMessage = c.log.byId(offer.message_id);
      if (offerMessage) c.log.setData(offerMessage.seq, offerData(updated));
      const counter =
        counterMinor !== null
          ? this.appendOffer(actor.id, { minor: counterMinor, currency: offer.currency, productId: offer.product_id, counterOf: offer.id, text: undefined, clientId: null })
          : null;
      const counterOfferId = (counter?.data?.offer_id as string | undefined) ?? null;
      const response = c.append({
        senderId: actor.id,
        type: "offer_response",
        content: input.message || RESPONSE_TEXT[input.action],
        data: { offer_id: offer.id, action: input.action, status: transition.status, ...(counterOfferId && { counter_offer_id: counterOfferId, amount: counterMinor! / 100 }) },
        replyTo: offer.message_id,
        clientId: null,
      });
      const outcome =
        input.action === "accept"
          ? c.appendSystem(`Offer accepted: ${formatAmount(Math.round(offer.amount * 100), offer.currency)}`, { action: "offer.accepted", offer_id: offer.id, actor_id: actor.id })
          : null;
      return { updated, offerMessageSeq: offerMessage?.seq ?? null, response, counter, outcome };
    });
    if (!result.ok) return result;
    const { updated, offerMessageSeq, response, counter, outcome } = result.value;
    c.hub.broadcast({ type: "offer.updated", offer: updated });
    c.webhooks.emit("offer.updated", { conversation_id: c.id, offer: updated });
    if (offerMessageSeq !== null) c.publishUpdate(c.log.bySeq(offerMessageSeq)!);
    // The counter offer is appended before the response that names it: fan out in seq order.
    const appended = [response, ...(counter ? [counter] : []), ...(outcome ? [outcome] : [])].sort((a, b) => a.seq - b.seq);
    c.publish(appended, origin, response);
    return ok(response);
  }

  offer(offerId: string): Offer | null {
    return this.book.get(offerId);
  }

  /** Inside a transaction: the offer message and its row. */
  private appendOffer(
    offererId: string,
    o: { minor: number; currency: string; productId: string | null; counterOf: string | null; text: string | undefined; clientId: string | null },
  ): Message {
    const c = this.conversation;
    const offerId = newId("ofr");
    const pending: Offer = {
      id: offerId,
      conversation_id: "",
      message_id: "",
      offerer_id: offererId,
      amount: o.minor / 100,
      currency: o.currency,
      product_id: o.productId,
      status: "pending",
      counter_of: o.counterOf,
      responded_by: null,
      created_at: "",
      updated_at: "",
    };
    const message = c.append({
      senderId: offererId,
      type: "offer",
      content: o.text || `Offer: ${formatAmount(o.minor, o.currency)}`,
      data: offerData(pending),
      replyTo: null,
      clientId: o.clientId,
    });
    this.book.create({ id: offerId, messageId: message.id, offererId, amountMinor: o.minor, currency: o.currency, productId: o.productId, counterOf: o.counterOf, at: message.created_at });
    return message;
  }
}
