/**
 * A stand-in for the app's backend, run by vitest.config.ts in Node (not in workerd): the
 * Worker's outbound requests to WEBHOOK_HOST reach `receive` (Miniflare's outboundService);
 * tests steer it and read what it got through the WEBHOOK_RECEIVER service binding (`control`).
 * Rules are per conversation, so test files and tests never disturb each other.
 */
export const WEBHOOK_HOST = "webhooks.test";

export interface Rule {
  /** Answer 500 to the first N deliveries of each event (by event id). */
  fail_first?: number;
  /** Wait this long before answering. */
  delay_ms?: number;
}

export interface Delivery {
  raw: string;
  signature: string | null;
  /** What the receiver answered. */
  status: number;
  at: number;
}

const conversationOf = (event: any): string | null => event?.data?.conversation_id ?? event?.data?.conversation?.id ?? null;

export function webhookReceiver() {
  const rules = new Map<string, Rule>();
  const deliveries: (Delivery & { conversation: string | null })[] = [];
  const seen = new Map<string, number>();

  async function receive(request: Request): Promise<Response> {
    if (new URL(request.url).host !== WEBHOOK_HOST) return fetch(request);
    const raw = await request.text();
    let event: any = null;
    try {
      event = JSON.parse(raw);
    } catch {
      // recorded as it came
    }
    const conversation = conversationOf(event);
    const rule = (conversation && rules.get(conversation)) || {};
    const n = (seen.get(event?.id) ?? 0) + 1;
    seen.set(event?.id, n);
    const status = n <= (rule.fail_first ?? 0) ? 500 : 200;
    deliveries.push({ raw, signature: request.headers.get("x-chat-signature"), status, at: Date.now(), conversation });
    if (rule.delay_ms) await new Promise((resolve) => setTimeout(resolve, rule.delay_ms));
    return new Response(status === 200 ? "ok" : "failing on purpose", { status });
  }

  /** POST /rules/<conversation id> {Rule}; GET /deliveries/<conversation id> → Delivery[] in arrival order. */
  async function control(request: Request): Promise<Response> {
    const [, kind, id] = new URL(request.url).pathname.split("/");
    if (kind === "rules" && id && request.method === "POST") {
      rules.set(id, (await request.json()) as Rule);
      return new Response(null, { status: 204 });
    }
    if (kind === "deliveries" && id) {
      return Response.json(deliveries.filter((d) => d.conversation === id).map(({ conversation: _c, ...d }) => d));
    }
    return new Response("unknown control request", { status: 404 });
  }

  return { receive, control };
}
