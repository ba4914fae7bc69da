import { describe, expect, it } from "vitest";
import { nextOfferState, toMinorUnits, type OfferAction, type OfferStatus } from "../../src/conversation/offer-rules";

const OFFERER = "usr_offerer";
const OTHER = "usr_other";

const STATUSES: OfferStatus[] = ["pending", "accepted", "rejected", "countered", "withdrawn"];
const ACTIONS: OfferAction[] = ["accept", "reject", "counter", "withdraw"];

/** What DESIGN.md (Offers) says each combination must give. */
function expected(status: OfferStatus, action: OfferAction, actorIsOfferer: boolean): { ok: true; status: OfferStatus } | { ok: false; code: string } {
  if (status !== "pending") return { ok: false, code: "OFFER_NOT_PENDING" };
  if (action === "withdraw") return actorIsOfferer ? { ok: true, status: "withdrawn" } : { ok: false, code: "FORBIDDEN" };
  if (actorIsOfferer) return { ok: false, code: "FORBIDDEN" };
  return { ok: true, status: ({ accept: "accepted", reject: "rejected", counter: "countered" } as const)[action] };
}

describe("nextOfferState: every status × action × actor", () => {
  const cases = STATUSES.flatMap((status) => ACTIONS.flatMap((action) => [true, false].map((isOfferer) => ({ status, action, isOfferer }))));

  it("covers 5 statuses × 4 actions × 2 actors", () => {
    expect(cases).toHaveLength(40);
  });

  it.each(cases)("$status + $action by offerer=$isOfferer", ({ status, action, isOfferer }) => {
    const result = nextOfferState({ status, offererId: OFFERER }, action, isOfferer ? OFFERER : OTHER);
    const want = expected(status, action, isOfferer);
    if (want.ok) {
      expect(result).toEqual({ ok: true, status: want.status });
    } else {
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.code).toBe(want.code);
      expect(typeof result.message).toBe("string");
      expect(result.message.length).toBeGreaterThan(0);
    }
  });

  it("the legal moves, spelled out", () => {
    const pending = { status: "pending" as const, offererId: OFFERER };
    expect(nextOfferState(pending, "accept", OTHER)).toEqual({ ok: true, status: "accepted" });
    expect(nextOfferState(pending, "reject", OTHER)).toEqual({ ok: true, status: "rejected" });
    expect(nextOfferState(pending, "counter", OTHER)).toEqual({ ok: true, status: "countered" });
    expect(nextOfferState(pending, "withdraw", OFFERER)).toEqual({ ok: true, status: "withdrawn" });
  });

  it("a non-pending offer answers OFFER_NOT_PENDING even to a move that would be forbidden anyway", () => {
    expect(nextOfferState({ status: "accepted", offererId: OFFERER }, "withdraw", OTHER)).toMatchObject({ ok: false, code: "OFFER_NOT_PENDING" });
    expect(nextOfferState({ status: "withdrawn", offererId: OFFERER }, "accept", OFFERER)).toMatchObject({ ok: false, code: "OFFER_NOT_PENDING" });
  });
});

describe("toMinorUnits", () => {
  it.each([
    [0.01, 1],
    [0.1, 10],
    [1, 100],
    [10.5, 1050],
    [19.99, 1999],
    [0.29, 29],
    [1.15, 115],
    [123456.78, 12345678],
  ])("%s → %s", (amount, minor) => {
    expect(toMinorUnits(amount)).toBe(minor);
  });

  it.each([
    [0],
    [-0],
    [-1],
    [-0.01],
    [1.005],
    [10.001],
    [0.001],
    [0.004],
    [NaN],
    [Infinity],
    [-Infinity],
  ])("%s → null", (amount) => {
    expect(toMinorUnits(amount)).toBeNull();
  });
});
