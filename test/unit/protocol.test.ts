import { describe, expect, it } from "vitest";
import { MAX_FRAME_BYTES as CLIENT_MAX_FRAME_BYTES } from "../../src/client/conversation-socket";
import { CLOSE_REMOVED as CLIENT_CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED as CLIENT_CLOSE_TOKEN_EXPIRED } from "../../src/client/socket";
import { CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, EXPIRY_SWEEP_DELAY_MS, expiredSockets, frameBytes, frameTooLarge, MAX_FRAME_BYTES, tokenExpired } from "../../src/lib/protocol";

describe("the SDK's copies of the protocol constants", () => {
  it("equal the server's", () => {
    expect(CLIENT_MAX_FRAME_BYTES).toBe(MAX_FRAME_BYTES);
    expect(CLIENT_CLOSE_TOKEN_EXPIRED).toBe(CLOSE_TOKEN_EXPIRED);
    expect(CLIENT_CLOSE_REMOVED).toBe(CLOSE_REMOVED);
  });
});

describe("frameTooLarge", () => {
  it("decides by length when it can and counts bytes only in between", () => {
    const third = Math.floor(MAX_FRAME_BYTES / 3);
    expect(frameTooLarge("€".repeat(third))).toBe(false);
    expect(frameTooLarge("x".repeat(MAX_FRAME_BYTES + 1))).toBe(true);
    expect(frameTooLarge("€".repeat(third + 1))).toBe(true); // 3 bytes each
    expect(frameTooLarge("x".repeat(MAX_FRAME_BYTES))).toBe(false);
    expect(frameTooLarge(new ArrayBuffer(MAX_FRAME_BYTES + 1))).toBe(true);
    expect(frameTooLarge(new ArrayBuffer(MAX_FRAME_BYTES))).toBe(false);
  });
});

describe("frameBytes", () => {
  it("measures text in UTF-8 bytes, not UTF-16 units", () => {
    expect(frameBytes("")).toBe(0);
    expect(frameBytes("ping")).toBe(4);
    expect(frameBytes("€".repeat(30_000))).toBe(90_000);
    expect(frameBytes("😀".repeat(20_000))).toBe(80_000);
    expect(frameBytes(`é${"x".repeat(MAX_FRAME_BYTES)}`)).toBe(MAX_FRAME_BYTES + 2);
  });

  it("is exact around the limit whichever way it is measured", () => {
    const under = "€".repeat(Math.floor(MAX_FRAME_BYTES / 3));
    expect(frameBytes(under)).toBe(under.length * 3);
    expect(frameBytes(under) <= MAX_FRAME_BYTES).toBe(true);
    expect(frameBytes(`${under}€`) > MAX_FRAME_BYTES).toBe(true);
    expect(frameBytes("x".repeat(MAX_FRAME_BYTES))).toBe(MAX_FRAME_BYTES);
  });

  it("measures binary frames by their length", () => {
    expect(frameBytes(new ArrayBuffer(70_000))).toBe(70_000);
  });
});

describe("token expiry", () => {
  it("a token has expired from its exp second on", () => {
    expect(tokenExpired(1_000, 999_999)).toBe(false);
    expect(tokenExpired(1_000, 1_000_000)).toBe(true);
    expect(tokenExpired(1_000, 2_000_000)).toBe(true);
  });

  it("expiredSockets sorts out the expired and says when to look again: shortly after the earliest expiry of the rest", () => {
    expect(EXPIRY_SWEEP_DELAY_MS).toBeGreaterThan(0);
    expect(EXPIRY_SWEEP_DELAY_MS).toBeLessThanOrEqual(30_000); // closed within 60 s of the expiry, alarm delays included
    const sockets = [
      { name: "a", exp: 100 },
      { name: "b", exp: 300 },
      { name: "c", exp: 50 },
      { name: "d", exp: null },
      { name: "e", exp: 200 },
    ];
    const { expired, nextAt } = expiredSockets(sockets, (s) => s.exp, 100_000);
    expect(expired.map((s) => s.name)).toEqual(["a", "c"]);
    expect(nextAt).toBe(200_000 + EXPIRY_SWEEP_DELAY_MS);
    expect(expiredSockets(sockets, (s) => s.exp, 0)).toEqual({ expired: [], nextAt: 50_000 + EXPIRY_SWEEP_DELAY_MS });
    expect(expiredSockets(sockets, (s) => s.exp, 300_000).nextAt).toBeNull();
    expect(expiredSockets([], () => 1, 0)).toEqual({ expired: [], nextAt: null });
  });
});
