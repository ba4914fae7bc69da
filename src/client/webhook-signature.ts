// The webhook signature, defined once: the server signs with it (src/webhooks) and apps verify
// with it (`verifyWebhook`, exported by the SDK). WebCrypto only, so it runs in Workers, browsers
// and Node ≥ 20 alike.

/** The request header that carries the signature. */
export const SIGNATURE_HEADER = "X-Chat-Signature";
/** How old a signature `verifyWebhook` accepts by default (replays of older requests are refused). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const encoder = new TextEncoder();

async function hmacHex(secret: string, payload: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(payload)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export async function signWebhook(secret: string, rawBody: string, timestamp: number): Promise<string> {
  return `t=${timestamp},v1=${await hmacHex(secret, `${timestamp}.${rawBody}`)}`;
}

export interface VerifyOptions {
  /** Oldest (and furthest in the future) signature accepted, in seconds; default 300. */
  toleranceSeconds?: number;
  /** The current time in ms (tests); default Date.now(). */
  now?: number;
}

/** Compares without an early exit, so the time taken says nothing about where they differ. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * True when `signatureHeader` (the `X-Chat-Signature` value) signs exactly `rawBody` (the
 * request body as received, before any JSON parsing) with `secret`, within the tolerance.
 */
export async function verifyWebhook(secret: string, rawBody: string, signatureHeader: string | null | undefined, options: VerifyOptions = {}): Promise<boolean> {
  if (!secret || !signatureHeader) return false;
  const fields = new Map<string, string[]>();
  for (const part of signatureHeader.split(",")) {
    const at = part.indexOf("=");
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    fields.set(name, [...(fields.get(name) ?? []), part.slice(at + 1).trim()]);
  }
  const t = fields.get("t")?.[0] ?? "";
  if (!/^\d{1,12}$/.test(t)) return false;
  const age = Math.abs((options.now ?? Date.now()) / 1000 - Number(t));
  if (age > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = await hmacHex(secret, `${t}.${rawBody}`);
  return (fields.get("v1") ?? []).some((candidate) => sameText(candidate.toLowerCase(), expected));
}
