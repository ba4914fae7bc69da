import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhook } from "../../src/client/webhook-signature";

const secret = "whsec-unit";
const body = JSON.stringify({ id: "evt_1", type: "message.new", created_at: "2026-11-30T10:00:00.000Z", data: { conversation_id: "cnv_1" } });
const now = Date.UTC(2026, 10, 30, 10, 0, 0);
const t = Math.floor(now / 1000);

describe("webhook signature", () => {
  it("signs as t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>", async () => {
    const header = await signWebhook(secret, body, t);
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${t}.${body}`)));
    expect(header).toBe(`t=${t},v1=${Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("")}`);
  });

  it("accepts a good signature, also one a few minutes old", async () => {
    const header = await signWebhook(secret, body, t);
    expect(await verifyWebhook(secret, body, header, { now })).toBe(true);
    expect(await verifyWebhook(secret, body, header, { now: now + 299_000 })).toBe(true);
  });

  it("accepts any of several v1 values (a secret being rotated)", async () => {
    const header = await signWebhook(secret, body, t);
    const other = (await signWebhook("old-secret", body, t)).split(",")[1];
    expect(await verifyWebhook(secret, body, `${header.split(",")[0]},${other},${header.split(",")[1]}`, { now })).toBe(true);
  });

  it("refuses a forged signature (another secret)", async () => {
    expect(await verifyWebhook(secret, body, await signWebhook("not-the-secret", body, t), { now })).toBe(false);
  });

  it("refuses a tampered body or timestamp", async () => {
    const header = await signWebhook(secret, body, t);
    expect(await verifyWebhook(secret, body.replace("cnv_1", "cnv_2"), header, { now })).toBe(false);
    expect(await verifyWebhook(secret, body, header.replace(`t=${t}`, `t=${t + 1}`), { now })).toBe(false);
  });

  it("refuses a stale or future signature beyond the tolerance, which can be widened", async () => {
    const header = await signWebhook(secret, body, t);
    expect(await verifyWebhook(secret, body, header, { now: now + 301_000 })).toBe(false);
    expect(await verifyWebhook(secret, body, header, { now: now - 301_000 })).toBe(false);
    expect(await verifyWebhook(secret, body, header, { now: now + 301_000, toleranceSeconds: 600 })).toBe(true);
  });

  it("refuses missing or malformed headers and an empty secret", async () => {
    const header = await signWebhook(secret, body, t);
    for (const bad of [null, undefined, "", "v1=abc", `t=${t}`, `t=soon,${header.split(",")[1]}`, header.toUpperCase().replace("T=", "x=")]) {
      expect(await verifyWebhook(secret, body, bad, { now })).toBe(false);
    }
    expect(await verifyWebhook("", body, header, { now })).toBe(false);
  });
});
