import type { Offer } from "../schemas/offers";
import type { OfferStatus } from "./offer-rules";

type OfferRow = {
  id: string;
  message_id: string;
  offerer_id: string;
  amount_minor: number;
  currency: string;
  product_id: string | null;
  status: OfferStatus;
  counter_of: string | null;
  responded_by: string | null;
  created_at: string;
  updated_at: string;
};

export interface NewOffer {
  id: string;
  messageId: string;
  offererId: string;
  amountMinor: number;
  currency: string;
  productId: string | null;
  counterOf: string | null;
  at: string;
}

/** Offers and their current status; the state machine itself is the pure offer-rules. */
export class OfferBook {
  constructor(
    private readonly sql: SqlStorage,
    private readonly conversationId: () => string,
  ) {}

  create(offer: NewOffer): Offer {
    this.sql.exec(
      `INSERT INTO offers (id, message_id, offerer_id, amount_minor, currency, product_id, status, counter_of, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
      offer.id,
      offer.messageId,
      offer.offererId,
      offer.amountMinor,
      offer.currency,
      offer.productId,
      offer.counterOf,
      offer.at,
      offer.at,
    );
    return this.get(offer.id)!;
  }

  get(id: string): Offer | null {
    const row = this.sql.exec<OfferRow>("SELECT * FROM offers WHERE id = ?", id).toArray()[0];
    return row ? this.toOffer(row) : null;
  }

  setStatus(id: string, status: OfferStatus, respondedBy: string, at: string): Offer {
    this.sql.exec("UPDATE offers SET status = ?, responded_by = ?, updated_at = ? WHERE id = ?", status, respondedBy, at, id);
    return this.get(id)!;
  }

  private toOffer(row: OfferRow): Offer {
    return {
      id: row.id,
      conversation_id: this.conversationId(),
      message_id: row.message_id,
      offerer_id: row.offerer_id,
      amount: row.amount_minor / 100,
      currency: row.currency,
      product_id: row.product_id,
      status: row.status,
      counter_of: row.counter_of,
      responded_by: row.responded_by,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }
}

/** What an offer message's `data` shows: the offer as it stands now. */
export function offerData(offer: Offer): Record<string, unknown> {
  return {
    offer_id: offer.id,
    status: offer.status,
    amount: offer.amount,
    currency: offer.currency,
    product_id: offer.product_id,
    counter_of: offer.counter_of,
  };
}
