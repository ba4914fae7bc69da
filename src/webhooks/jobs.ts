import type { Message } from "../schemas/messages";
import type { WebhookEvent } from "./events";

/** One message.unread candidate: the event id is fixed when the check is made, so a retried check repeats it. */
export interface UnreadCandidate {
  user_id: string;
  unread_count: number;
  event_id: string;
}

/**
 * What the WEBHOOKS queue carries: an event to POST, or a delayed check of who among some
 * participants still has no socket open (each of those gets a message.unread event).
 */
export type WebhookJob =
  | {
      kind: "event";
      event: WebhookEvent;
      /** Orders one conversation's events: microseconds since the epoch, growing within a producer. */
      stamp: number;
    }
  | { kind: "unread-check"; conversation_id: string; message: Message; created_at: string; candidates: UnreadCandidate[] };

/** Cloudflare Queues: at most 100 messages and 256 KB per sendBatch, 128 KB per message. */
const MAX_BATCH_MESSAGES = 100;
const MAX_BATCH_BYTES = 250 * 1024;
const MAX_MESSAGE_BYTES = 120 * 1024;

/**
 * Pure: the sends in order, cut into sendBatch calls within the queue's limits. A message the
 * queue could never take is left out (and logged), so it cannot block the ones behind it.
 */
export function queueBatches<T>(sends: MessageSendRequest<T>[]): MessageSendRequest<T>[][] {
  const batches: MessageSendRequest<T>[][] = [];
  let current: MessageSendRequest<T>[] = [];
  let bytes = 0;
  for (const send of sends) {
    const size = JSON.stringify(send.body).length;
    if (size > MAX_MESSAGE_BYTES) {
      console.error(`a webhook job of ${size} bytes is over the queue's message limit; dropped`);
      continue;
    }
    if (current.length > 0 && (current.length === MAX_BATCH_MESSAGES || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(send);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Sends in order, one batch after the other (a later batch never overtakes an earlier one). */
export async function sendJobs(queue: Queue<WebhookJob>, sends: MessageSendRequest<WebhookJob>[]): Promise<void> {
  for (const batch of queueBatches(sends)) await queue.sendBatch(batch);
}
