import { database } from "../db/client";
import { webhookFailures } from "../db/schema";
import type { Env } from "../env";
import { readConfig, type WebhookSettings } from "../lib/config";
import { nowIso } from "../lib/ids";
import { inboxStub } from "../user/inbox";
import { deliver } from "./deliver";
import { conversationOfEvent, makeEvent } from "./events";
import { sendJobs, type WebhookJob } from "./jobs";
import { isFinalAttempt, retryDelaySeconds } from "./retry";

type EventMessage = Message<Extract<WebhookJob, { kind: "event" }>>;
type CheckMessage = Message<Extract<WebhookJob, { kind: "unread-check" }>>;

/**
 * The WEBHOOKS queue's consumer. Events are POSTed one conversation at a time in the order they
 * were made (by stamp), conversations side by side; once one event of a conversation fails, the
 * later ones of that conversation in this batch are retried with it instead of overtaking it.
 * An event that fails its last attempt is recorded in D1's webhook_failures. Unread checks turn
 * into message.unread events for the candidates who still have no socket open.
 */
export async function consumeWebhooks(batch: MessageBatch<WebhookJob>, env: Env): Promise<void> {
  const settings = readConfig(env).webhooks;
  if (!settings) {
    // Webhooks were turned off while these waited: there is no one to tell.
    batch.ackAll();
    return;
  }
  const byConversation = new Map<string, EventMessage[]>();
  const checks: CheckMessage[] = [];
  for (const message of batch.messages) {
    const body = message.body;
    if (body.kind === "unread-check") {
      checks.push(message as CheckMessage);
      continue;
    }
    const key = conversationOfEvent(body.event);
    byConversation.set(key, [...(byConversation.get(key) ?? []), message as EventMessage]);
  }
  await Promise.all([
    ...[...byConversation.values()].map((messages) => deliverInOrder(messages, settings, env)),
    ...checks.map((check) => runUnreadCheck(check, env, settings)),
  ]);
}

async function deliverInOrder(messages: EventMessage[], settings: WebhookSettings, env: Env): Promise<void> {
  messages.sort((a, b) => a.body.stamp - b.body.stamp);
  let heldBack: number | null = null;
  for (const message of messages) {
    const delaySeconds = retryDelaySeconds(message.attempts, settings.retryBaseSeconds);
    if (heldBack !== null) {
      message.retry({ delaySeconds: heldBack });
      continue;
    }
    const result = await deliver(message.body.event, settings);
    if (result.ok) {
      message.ack();
    } else if (isFinalAttempt(message.attempts) && (await recordFailure(env, message, result.error))) {
      message.ack();
    } else {
      message.retry({ delaySeconds });
      heldBack = delaySeconds;
    }
  }
}

/** Returns false when even the record could not be written (then the event is retried). */
async function recordFailure(env: Env, message: EventMessage, error: string): Promise<boolean> {
  const { event } = message.body;
  const row = { type: event.type, conversationId: conversationOfEvent(event), attempts: message.attempts, lastError: error, event, failedAt: nowIso() };
  try {
    await database(env.DB)
      .insert(webhookFailures)
      .values({ eventId: event.id, ...row })
      .onConflictDoUpdate({ target: webhookFailures.eventId, set: row });
    console.error(`webhook ${event.id} (${event.type}) undeliverable after ${message.attempts} attempts: ${error}`);
    return true;
  } catch (err) {
    console.error("webhook failure could not be recorded", err);
    return false;
  }
}

/** Asks each candidate's user object whether any socket of theirs is open; those with none get message.unread. */
async function runUnreadCheck(check: CheckMessage, env: Env, settings: WebhookSettings): Promise<void> {
  const { conversation_id, message, created_at, candidates } = check.body;
  try {
    const online = await Promise.all(candidates.map((c) => inboxStub(env, c.user_id).hasSockets()));
    const unread = candidates.filter((_, i) => !online[i]);
    const stamp = Date.now() * 1000;
    await sendJobs(
      env.WEBHOOKS,
      unread.map((c, i) => ({
        body: {
          kind: "event",
          event: makeEvent("message.unread", { conversation_id, user_id: c.user_id, message, unread_count: c.unread_count }, c.event_id, created_at),
          stamp: stamp + i,
        },
      })),
    );
    check.ack();
  } catch (err) {
    console.error("message.unread check failed; retrying", err);
    check.retry({ delaySeconds: retryDelaySeconds(check.attempts, settings.retryBaseSeconds) });
  }
}
