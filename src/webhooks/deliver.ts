import { SIGNATURE_HEADER, signWebhook } from "../client/webhook-signature";
import type { WebhookEvent } from "./events";

/** A receiver that has not answered within this is treated as failed (and retried). */
export const DELIVERY_TIMEOUT_MS = 10_000;

export type DeliveryResult = { ok: true } | { ok: false; error: string };

/** One signed POST of one event; never throws. */
export async function deliver(event: WebhookEvent, target: { url: string; secret: string }, timeoutMs = DELIVERY_TIMEOUT_MS): Promise<DeliveryResult> {
  const body = JSON.stringify(event);
  const signature = await signWebhook(target.secret, body, Math.floor(Date.now() / 1000));
  try {
    const response = await fetch(target.url, {
      method: "POST",
      headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature, "user-agent": "edge-chat-webhooks" },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The answer's body is of no use: not reading it frees the connection.
    await response.body?.cancel();
    return response.ok ? { ok: true } : { ok: false, error: `HTTP ${response.status}` };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return { ok: false, error: timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
