import type { ErrorCode } from "../lib/errors";

export type OfferStatus = "pending" | "accepted" | "rejected" | "countered" | "withdrawn";
export type OfferAction = "accept" | "reject" | "counter" | "withdraw";

const OUTCOME: Record<OfferAction, OfferStatus> = {
  accept: "accepted",
  reject: "rejected",
  counter: "countered",
  withdraw: "withdrawn",
};

export type OfferTransition = { ok: true; status: OfferStatus } | { ok: false; code: ErrorCode; message: string };

/**
 * Pure: the offer state machine. pending → accepted | rejected | countered | withdrawn; only
 * the offerer withdraws; only someone else accepts, rejects or counters; nothing moves a
 * non-pending offer.
 */
export function nextOfferState(offer: { status: OfferStatus; offererId: string }, action: OfferAction, actorId: string): OfferTransition {
  if (offer.status !== "pending") return { ok: false, code: "OFFER_NOT_PENDING", message: `the offer is already ${offer.status}` };
  const isOfferer = actorId === offer.offererId;
  if (action === "withdraw" && !isOfferer) return { ok: false, code: "FORBIDDEN", message: "only the offerer may withdraw an offer" };
  if (action !== "withdraw" && isOfferer) return { ok: false, code: "FORBIDDEN", message: `the offerer cannot ${action} their own offer` };
  return { ok: true, status: OUTCOME[action] };
}

/** Amounts are kept in minor units (cents) so arithmetic and equality are exact. */
export function toMinorUnits(amount: number): number | null {
  const minor = Math.round(amount * 100);
  if (!Number.isFinite(amount) || amount <= 0 || minor < 1 || Math.abs(amount * 100 - minor) > 1e-6) return null;
  return minor;
}
