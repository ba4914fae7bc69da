import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { deliver } from "../../src/webhooks/deliver";
import { makeEvent, type WebhookEvent } from "../../src/webhooks/events";
import type { WebhookJob } from "../../src/webhooks/jobs";
import { MAX_ATTEMPTS } from "../../src/webhooks/retry";
import { callJson, freshDirect, login, sendRest, signAdminToken } from "../helpers/api";
import { WEBHOOK_HOST } from "../helpers/webhook-receiver";
import { delivered, received, receiverRule } from "../helpers/webhooks";
import { eventually } from "../helpers/wait";

const target = { url: `http://${WEBHOOK_HOST}/hooks/chat`, secret: env.WEBHOOK_SECRET! };

/** A conversation id no other test uses (events of consumer-level tests need no real conversation). */
const fakeConversation = () => `cnv_test${crypto.randomUUID().replaceAll("-", "")}`;

function textEvent(conversationId: string, seq: number): WebhookEvent {
  const message = { id: `msg_${seq}`, conversation_id: conversationId, seq, content: `m${seq}` } as never;
  return makeEvent("message.new", { conversation_id: conversationId, message });
}

/** Runs the queue handler on a hand-made batch of the webhooks queue and returns what it acked and retried. */
async function consume(jobs: { job: WebhookJob; attempts?: number }[]) {
  const batch = createMessageBatch<WebhookJob>(
    "edge-chat-webhooks",
    jobs.map(({ job, attempts }, i) => ({ id: `q${i}`, timestamp: new Date(), attempts: attempts ?? 1, body: job })),
  );
  await worker.queue(batch as MessageBatch<unknown>, env);
  return getQueueResult(batch, createExecutionContext());
}

describe("webhook delivery", () => {
  it("a receiver that fails twice still gets the event, with the same id", async () => {
    const [a, b] = await Promise.all([login("wh-a"), login("wh-b")]);
    const id = await freshDirect(a, b, "wh-retry");
    await delivered(id, "conversation.created");
    await receiverRule(id, { fail_first: 2 });
    const sent = await sendRest(a, id, "eventually");
    const ok = await delivered(id, "message.new", () => true, 15_000);
    const attempts = (await received(id)).filter((d) => d.event.type === "message.new");
    expect(attempts.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(new Set(attempts.map((d) => d.event.id))).toEqual(new Set([ok.event.id]));
    expect(ok.event.data.message.id).toBe(sent.body.id);
    // Backoff: the second retry waited longer than the first.
    const [first, second, third] = attempts.map((d) => d.at);
    expect(third! - second!).toBeGreaterThan(second! - first!);
  });

  it("a slow receiver never slows a send", async () => {
    const [a, b] = await Promise.all([login("wh-a"), login("wh-b")]);
    const id = await freshDirect(a, b, "wh-slow");
    await receiverRule(id, { delay_ms: 4_000 });
    await sendRest(a, id, "wakes the receiver");
    await eventually(() => received(id), { until: (list) => list.length > 0, what: "the slow receiver to be busy" });
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      expect((await sendRest(a, id, `while it hangs ${i}`)).status).toBe(201);
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });

  it("a receiver that does not answer in time counts as failed", async () => {
    const conversationId = fakeConversation();
    await receiverRule(conversationId, { delay_ms: 1_000 });
    const result = await deliver(textEvent(conversationId, 1), target, 200);
    expect(result).toEqual({ ok: false, error: "no answer within 200 ms" });
  });

  it("events of one conversation go in order: after a failure, the later ones wait behind it", async () => {
    const conversationId = fakeConversation();
    const other = fakeConversation();
    const events = [1, 2, 3].map((seq) => textEvent(conversationId, seq));
    const elsewhere = textEvent(other, 1);
    await receiverRule(conversationId, { fail_first: 1 });
    // Made in seq order (stamps 1, 2, 3) but handed over out of order.
    const result = await consume([
      { job: { kind: "event", event: events[2]!, stamp: 3 } },
      { job: { kind: "event", event: elsewhere, stamp: 1 } },
      { job: { kind: "event", event: events[0]!, stamp: 1 } },
      { job: { kind: "event", event: events[1]!, stamp: 2 } },
    ]);
    // seq 1 was tried first and failed, so 2 and 3 were not sent ahead of it: all three are retried.
    expect((await received(conversationId)).map((d) => [d.event.id, d.status])).toEqual([[events[0]!.id, 500]]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["q0", "q2", "q3"]);
    // Another conversation's event is not held up.
    expect(result.explicitAcks).toEqual(["q1"]);
    expect((await received(other)).map((d) => d.status)).toEqual([200]);

    // The receiver is back; redelivered (in any order), they go out in seq order.
    await receiverRule(conversationId, {});
    const again = await consume([2, 0, 1].map((i) => ({ job: { kind: "event", event: events[i]!, stamp: i + 1 } as WebhookJob, attempts: 2 })));
    expect(again.retryMessages).toEqual([]);
    expect((await received(conversationId)).filter((d) => d.status === 200).map((d) => d.event.data)).toEqual(events.map((e) => e.data));
  });

  it("end to end, a burst of messages arrives in seq order", async () => {
    const [a, b] = await Promise.all([login("wh-a"), login("wh-b")]);
    const id = await freshDirect(a, b, "wh-order");
    const sends = [];
    for (let i = 1; i <= 8; i++) sends.push(sendRest(a, id, `burst ${i}`));
    await Promise.all(sends);
    const all = await eventually(() => received(id), { until: (list) => list.filter((d) => d.event.type === "message.new").length === 8, what: "8 deliveries" });
    const seqs = all.filter((d) => d.event.type === "message.new").map((d) => (d.event as WebhookEvent<"message.new">).data.message.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("an event that fails its last attempt is recorded for admins, and the queue lets it go", async () => {
    const conversationId = fakeConversation();
    await receiverRule(conversationId, { fail_first: 1_000 });
    const event = textEvent(conversationId, 1);
    const early = await consume([{ job: { kind: "event", event, stamp: 1 }, attempts: MAX_ATTEMPTS - 1 }]);
    expect(early.retryMessages.map((m) => m.msgId)).toEqual(["q0"]);
    const last = await consume([{ job: { kind: "event", event, stamp: 1 }, attempts: MAX_ATTEMPTS }]);
    expect(last.explicitAcks).toEqual(["q0"]);
    expect(last.retryMessages).toEqual([]);

    const admin = await login("wh-admin");
    const list = await callJson("/api/v1/admin/webhook-failures?limit=100", { token: await signAdminToken(admin) });
    expect(list.status).toBe(200);
    const failure = list.body.failures.find((f: { event_id: string }) => f.event_id === event.id);
    expect(failure).toEqual({
      event_id: event.id,
      type: "message.new",
      conversation_id: conversationId,
      attempts: MAX_ATTEMPTS,
      last_error: "HTTP 500",
      event,
      failed_at: expect.any(String),
    });
    const notAdmin = await callJson("/api/v1/admin/webhook-failures", { token: admin.token });
    expect(notAdmin.status).toBe(403);
    const badLimit = await callJson("/api/v1/admin/webhook-failures?limit=0", { token: await signAdminToken(admin) });
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.code).toBe("VALIDATION_ERROR");
  });
});
