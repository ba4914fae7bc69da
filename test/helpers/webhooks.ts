import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { verifyWebhook } from "../../src/client/webhook-signature";
import type { WebhookEvent, WebhookEventType } from "../../src/webhooks/events";
import type { Delivery, Rule } from "./webhook-receiver";
import { eventually } from "./wait";

/** A delivery the fake receiver got, with its body parsed. */
export type Received = Delivery & { event: WebhookEvent };

/** How the receiver answers deliveries of this conversation's events from now on. */
export async function receiverRule(conversationId: string, rule: Rule): Promise<void> {
  const response = await env.WEBHOOK_RECEIVER.fetch(`http://receiver/rules/${conversationId}`, { method: "POST", body: JSON.stringify(rule) });
  expect(response.status).toBe(204);
}

/** Every delivery of this conversation's events so far, in arrival order (retries included). */
export async function received(conversationId: string): Promise<Received[]> {
  const response = await env.WEBHOOK_RECEIVER.fetch(`http://receiver/deliveries/${conversationId}`);
  const deliveries = (await response.json()) as Delivery[];
  return deliveries.map((d) => ({ ...d, event: JSON.parse(d.raw) as WebhookEvent }));
}

/** Waits until the receiver has answered 200 to an event of `type` in the conversation matching `where`, and returns it. */
export async function delivered<T extends WebhookEventType>(
  conversationId: string,
  type: T,
  where: (event: WebhookEvent<T>) => boolean = () => true,
  timeoutMs = 8_000,
): Promise<Received & { event: WebhookEvent<T> }> {
  const match = (d: Received) => d.status === 200 && d.event.type === type && where(d.event as WebhookEvent<T>);
  const all = await eventually(() => received(conversationId), { until: (list) => list.some(match), timeoutMs, what: `${type} delivered for ${conversationId}` });
  return all.find(match) as Received & { event: WebhookEvent<T> };
}

/** The delivery is signed with the test secret, its body is exactly the envelope, and it has only the documented keys. */
export async function expectSignedEnvelope(delivery: Received): Promise<void> {
  expect(await verifyWebhook(env.WEBHOOK_SECRET!, delivery.raw, delivery.signature)).toBe(true);
  expect(Object.keys(delivery.event).sort()).toEqual(["created_at", "data", "id", "type"]);
  expect(delivery.event.id).toMatch(/^evt_[0-9a-f]{32}$/);
  expect(new Date(delivery.event.created_at).toISOString()).toBe(delivery.event.created_at);
}
