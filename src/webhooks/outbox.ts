import type { Env } from "../env";
import { readConfig, type WebhookSettings } from "../lib/config";
import { nextStamp, nowIso } from "../lib/ids";
import type { Message } from "../schemas/messages";
import { makeEvent, newEventId, type WebhookEventData, type WebhookEventType } from "./events";
import { sendJobs, type UnreadCandidate, type WebhookJob } from "./jobs";

/** Events kept while the queue refuses them; beyond this the oldest are dropped (and logged). */
const MAX_WAITING = 1_000;

/** Candidates per unread check: the consumer asks each one's user object, and a Worker invocation has a bounded number of subrequests. */
export const UNREAD_CANDIDATES_PER_CHECK = 40;

/** What the outbox needs to know of its conversation to pick message.unread candidates. */
export interface Roster {
  participants(): Iterable<string>;
  /** Whether the participant's inbox socket is open (the conversation's inbox watchers). */
  hasInbox(userId: string): boolean;
  unreadOf(userId: string): number;
}

/** Microseconds since the epoch, strictly growing within one producer (and, by the clock, across restarts). */
class Stamps {
  private last = 0;
  next(): number {
    this.last = nextStamp(this.last);
    return this.last;
  }
}

/**
 * A conversation object's webhook events, made where they happen and put on the WEBHOOKS queue
 * after the change has committed, never awaited by the command that made them. Events of one
 * turn go in one sendBatch and turns are sent one after the other, so the queue receives them
 * in the order they were made. With webhooks off (no WEBHOOK_URL) every call returns at once.
 */
export class WebhookOutbox {
  private pending: MessageSendRequest<WebhookJob>[] = [];
  private scheduled = false;
  private sending: Promise<void> = Promise.resolve();
  private readonly stamps = new Stamps();

  constructor(
    private readonly queue: Queue<WebhookJob>,
    private readonly settings: WebhookSettings | null,
    private readonly graceMs: number,
    private readonly roster: Roster,
  ) {}

  emit<T extends WebhookEventType>(type: T, data: WebhookEventData[T]): void {
    if (!this.settings) return;
    this.push({ body: { kind: "event", event: makeEvent(type, data), stamp: this.stamps.next() } });
  }

  /**
   * message.new, and a delayed check for participants who may not see it: not the sender, and
   * with neither a socket on this conversation (`watching`) nor an inbox open. Their unread
   * counts are taken now; the check runs once PRESENCE_GRACE_MS has passed.
   */
  messageNew(message: Message, watching: ReadonlySet<string>): void {
    if (!this.settings) return;
    this.emit("message.new", { conversation_id: message.conversation_id, message });
    const candidates: UnreadCandidate[] = [];
    for (const userId of this.roster.participants()) {
      if (userId === message.sender_id || watching.has(userId) || this.roster.hasInbox(userId)) continue;
      candidates.push({ user_id: userId, unread_count: this.roster.unreadOf(userId), event_id: newEventId() });
    }
    const delaySeconds = Math.ceil(this.graceMs / 1000);
    const createdAt = nowIso();
    for (let i = 0; i < candidates.length; i += UNREAD_CANDIDATES_PER_CHECK) {
      const chunk = candidates.slice(i, i + UNREAD_CANDIDATES_PER_CHECK);
      this.push({ body: { kind: "unread-check", conversation_id: message.conversation_id, message, created_at: createdAt, candidates: chunk }, delaySeconds });
    }
  }

  private push(send: MessageSendRequest<WebhookJob>): void {
    this.pending.push(send);
    if (this.scheduled) return;
    this.scheduled = true;
    // Whatever else this turn makes (an offer's response, counter and note) joins the same batch.
    queueMicrotask(() => {
      this.scheduled = false;
      this.sending = this.sending.then(() => this.send());
    });
  }

  /** A failed send keeps its events first in line for the next one, so nothing overtakes them. */
  private async send(): Promise<void> {
    const sends = this.pending;
    this.pending = [];
    if (sends.length === 0) return;
    try {
      await sendJobs(this.queue, sends);
    } catch (err) {
      console.error("webhook events could not be queued; they go with the next ones", err);
      const waiting = [...sends, ...this.pending];
      if (waiting.length > MAX_WAITING) console.error(`webhook outbox full: ${waiting.length - MAX_WAITING} oldest events dropped`);
      this.pending = waiting.slice(-MAX_WAITING);
    }
  }
}

const workerStamps = new Stamps();

/** For events the Worker itself makes (conversation.created / updated): queued after the answer, via waitUntil. */
export function emitFromWorker<T extends WebhookEventType>(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, type: T, data: WebhookEventData[T]): void {
  if (!readConfig(env).webhooks) return;
  const job: WebhookJob = { kind: "event", event: makeEvent(type, data), stamp: workerStamps.next() };
  ctx.waitUntil(env.WEBHOOKS.send(job).catch((err: unknown) => console.error("webhook event could not be queued", err)));
}
