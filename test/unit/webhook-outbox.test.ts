import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { readConfig } from "../../src/lib/config";
import type { Message } from "../../src/schemas/messages";
import type { WebhookJob } from "../../src/webhooks/jobs";
import { UNREAD_CANDIDATES_PER_CHECK, WebhookOutbox, type Roster } from "../../src/webhooks/outbox";
import { eventually } from "../helpers/wait";

/** A queue that records what it was given. */
function recordingQueue() {
  const sent: MessageSendRequest<WebhookJob>[][] = [];
  const queue = {
    send: async () => {
      throw new Error("the outbox sends in batches");
    },
    sendBatch: async (batch: Iterable<MessageSendRequest<WebhookJob>>) => {
      sent.push([...batch]);
    },
  } as unknown as Queue<WebhookJob>;
  return { queue, sent };
}

const settings = { url: "https://app.example/hooks", secret: "s", retryBaseSeconds: 10 };
const message = { id: "msg_1", conversation_id: "cnv_1", seq: 7, sender_id: "u0" } as Message;

function roster(participants: string[], inboxes: string[] = []): Roster {
  return { participants: () => participants, hasInbox: (id) => inboxes.includes(id), unreadOf: (id) => Number(id.slice(1)) };
}

describe("webhook outbox", () => {
  it("makes nothing and sends nothing while webhooks are off", async () => {
    const { queue, sent } = recordingQueue();
    const outbox = new WebhookOutbox(queue, null, 3000, roster(["u0", "u1"]));
    outbox.messageNew(message, new Set());
    outbox.emit("message.updated", { conversation_id: "cnv_1", message });
    await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sent).toEqual([]);
  });

  it("sends one turn's events in one batch, in the order they were made", async () => {
    const { queue, sent } = recordingQueue();
    const outbox = new WebhookOutbox(queue, settings, 3000, roster(["u0"]));
    outbox.emit("offer.updated", { conversation_id: "cnv_1", offer: {} as never });
    outbox.emit("message.updated", { conversation_id: "cnv_1", message });
    outbox.messageNew(message, new Set());
    await eventually(async () => sent.length === 1);
    const jobs = sent[0]!.map((s) => s.body);
    expect(jobs.map((j) => (j.kind === "event" ? j.event.type : j.kind))).toEqual(["offer.updated", "message.updated", "message.new"]);
    const stamps = jobs.map((j) => (j.kind === "event" ? j.stamp : 0));
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    expect(new Set(stamps).size).toBe(3);
  });

  it("checks, after the grace, the participants who may not see a message, a bounded number per check", async () => {
    const { queue, sent } = recordingQueue();
    const others = Array.from({ length: 100 }, (_, i) => `u${i + 1}`);
    const outbox = new WebhookOutbox(queue, settings, 2500, roster(["u0", ...others], ["u2"]));
    outbox.messageNew(message, new Set(["u1"]));
    await eventually(async () => sent.length === 1);
    const checks = sent[0]!.filter((s) => s.body.kind === "unread-check");
    expect(checks.map((c) => c.delaySeconds)).toEqual([3, 3, 3]);
    const candidates = checks.flatMap((c) => (c.body.kind === "unread-check" ? c.body.candidates : []));
    expect(checks.map((c) => (c.body.kind === "unread-check" ? c.body.candidates.length : 0))).toEqual([UNREAD_CANDIDATES_PER_CHECK, UNREAD_CANDIDATES_PER_CHECK, 18]);
    // Not the sender (u0), not someone watching (u1), not someone with an inbox open (u2).
    expect(candidates.map((c) => c.user_id)).toEqual(others.slice(2));
    expect(candidates[0]).toEqual({ user_id: "u3", unread_count: 3, event_id: expect.stringMatching(/^evt_/) });
  });
});

describe("webhook settings", () => {
  it("are on only with both WEBHOOK_URL and WEBHOOK_SECRET", () => {
    const url = "https://app.example/hooks";
    expect(readConfig({} as Env).webhooks).toBeNull();
    expect(readConfig({ WEBHOOK_URL: url } as Env).webhooks).toBeNull();
    expect(readConfig({ WEBHOOK_SECRET: "s" } as Env).webhooks).toBeNull();
    expect(readConfig({ WEBHOOK_URL: url, WEBHOOK_SECRET: "s" } as Env).webhooks).toEqual({ url, secret: "s", retryBaseSeconds: 10 });
  });
});
