import type { Env } from "./env";
import { consumeMirror } from "./mirror/consumer";
import { consumeWebhooks } from "./webhooks/consumer";
import type { WebhookJob } from "./webhooks/jobs";

/** The Worker's queue handler: one consumer per queue, by the queue names of wrangler.toml. */
export function consumeQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case "edge-chat-mirror":
      return consumeMirror(batch, env);
    case "edge-chat-webhooks":
      return consumeWebhooks(batch as MessageBatch<WebhookJob>, env);
    default:
      console.error(`no consumer for queue ${batch.queue}`);
      batch.retryAll();
      return Promise.resolve();
  }
}
