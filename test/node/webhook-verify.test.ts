// The SDK's verifyWebhook as an app's Node backend runs it (the built public/sdk, WebCrypto of
// Node), against signatures made independently with node:crypto.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import type * as Sdk from "edge-chat/client";

const SDK_BUILD = "../../public/sdk/index.js";
const { SIGNATURE_HEADER, verifyWebhook } = (await import(/* @vite-ignore */ SDK_BUILD)) as typeof Sdk;

const secret = "whsec-node";
const body = '{"id":"evt_1","type":"message.new","created_at":"2026-11-30T10:00:00.000Z","data":{}}';
const sign = (t: number, raw = body, key = secret) => `t=${t},v1=${createHmac("sha256", key).update(`${t}.${raw}`).digest("hex")}`;

describe("verifyWebhook in Node", () => {
  it("accepts what node:crypto signs and refuses forged, tampered and stale requests", async () => {
    const t = Math.floor(Date.now() / 1000);
    expect(SIGNATURE_HEADER).toBe("X-Chat-Signature");
    expect(await verifyWebhook(secret, body, sign(t))).toBe(true);
    expect(await verifyWebhook(secret, body, sign(t, body, "other"))).toBe(false);
    expect(await verifyWebhook(secret, body.replace("evt_1", "evt_2"), sign(t))).toBe(false);
    expect(await verifyWebhook(secret, body, sign(t - 600))).toBe(false);
  });
});
