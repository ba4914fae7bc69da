// The fan-out load, shared by `fanout`, `inbox-fanout` and `webhooks`: one sender sends at a
// fixed rate and every listener's send→receive latency is measured; every listener must get
// every message once, in order. The sender stops early once the server is more than
// LAG_LIMIT_MS behind (the latency target is lost by then, and piling on only lengthens the
// backlog), and the run waits at most DRAIN_MS for the rest; whatever has not arrived by then is
// reported as missing.
import type { ChatSocket, Frame, WireMessage } from "./client.ts";
import { round, roundSummary, Samples, summarize, type Summary } from "./stats.ts";
import { until } from "./util.ts";

export const LAG_LIMIT_MS = 5_000;
export const DRAIN_MS = 20_000;
/** Unmeasured messages everyone must see before the measured phase. */
const WARM_UP = 20;

/** Which frames carry a listener's deliveries: a conversation socket's every message.new, or an inbox socket's for one subscribed conversation. */
export type DeliveryFilter = (frame: Frame) => boolean;

export const everyMessageNew: DeliveryFilter = (frame) => frame.type === "message.new";

export function subscribedMessageNew(conversationId: string): DeliveryFilter {
  return (frame) => frame.type === "message.new" && frame.conversation_id === conversationId;
}

interface ListenerState {
  received: Uint8Array;
  count: number;
  lastSeq: number;
  outOfOrder: number;
  duplicates: number;
  latency: Samples;
}

/** What a finished run measured. */
export interface FanoutFigures {
  listeners: number;
  planned: number;
  sent: number;
  acked: number;
  sendSeconds: number;
  achievedRate: number;
  stoppedEarlyAt: number | null;
  drained: boolean;
  latency: Summary;
  perListener: Summary[];
  worstP99: number;
  ack: Summary;
  missing: number;
  outOfOrder: number;
  duplicates: number;
  errors: Record<string, number>;
  /** drained, nothing missing, out of order or duplicated */
  clean: boolean;
}

/** The fields of a run the JSON keeps (per-listener detail included). */
export function runJson(f: FanoutFigures): Record<string, unknown> {
  return {
    listeners: f.listeners,
    planned: f.planned,
    sent: f.sent,
    acked: f.acked,
    send_seconds: f.sendSeconds,
    achieved_rate_per_s: f.achievedRate,
    sender_stopped_early_at_s: f.stoppedEarlyAt,
    drained: f.drained,
    latency_ms_all_listeners: roundSummary(f.latency),
    latency_ms_per_listener: f.perListener.map((s) => roundSummary(s)),
    worst_listener_p99_ms: f.worstP99,
    median_listener_p99_ms: summarize(f.perListener.map((s) => s.p99)).p50,
    ack_latency_ms: roundSummary(f.ack),
    missing_at_cutoff: f.missing,
    out_of_order: f.outOfOrder,
    duplicates: f.duplicates,
    errors: f.errors,
  };
}

/** Notes for a run that stopped early or did not drain. */
export function runNotes(label: string, f: FanoutFigures): string[] {
  const notes: string[] = [];
  if (f.stoppedEarlyAt !== null) notes.push(`${label}: the sender stopped after ${round(f.stoppedEarlyAt, 1)} s (${f.sent} of ${f.planned} sent): the server was more than ${LAG_LIMIT_MS / 1000} s behind`);
  if (!f.drained) {
    const received = f.sent * f.listeners - f.missing;
    notes.push(`${label}: ${DRAIN_MS / 1000} s after the last send, acked ${f.acked}/${f.sent} and listeners had ${received}/${f.sent * f.listeners}; counted as missing, the server was stopped with its backlog`);
  }
  return notes;
}

/**
 * One sender and its listeners, wired up: `warmUp()`, then `run(rate, seconds)` (inside a
 * measured phase), then `figures()`. Client ids carry `prefix`, so frames of other runs are ignored.
 */
export class FanoutRun {
  private readonly total: number;
  private readonly sendAt: Float64Array;
  private readonly acked: Uint8Array;
  private readonly ackLatency = new Samples();
  private readonly errors: Record<string, number> = {};
  private readonly states: ListenerState[];
  private ackCount = 0;
  private oldestUnacked = 0;
  private sent = 0;
  private sendSeconds = 0;
  private drained = false;
  private stoppedEarlyAt: number | null = null;
  private readonly sender: ChatSocket;
  private readonly prefix: string;
  private readonly content: string;

  constructor(sender: ChatSocket, listeners: ChatSocket[], prefix: string, content: string, rate: number, seconds: number, deliveries: DeliveryFilter = everyMessageNew) {
    this.sender = sender;
    this.prefix = prefix;
    this.content = content;
    this.total = Math.max(1, Math.round(rate * seconds));
    this.sendAt = new Float64Array(this.total);
    this.acked = new Uint8Array(this.total);
    sender.on((frame, at) => {
      if (frame.type === "message.ack") {
        const i = this.indexOf(frame.client_id);
        if (i === null || this.acked[i]) return;
        this.acked[i] = 1;
        this.ackCount++;
        this.ackLatency.push(at - this.sendAt[i]!);
        while (this.oldestUnacked < this.total && this.acked[this.oldestUnacked]) this.oldestUnacked++;
      } else if (frame.type === "error") this.errors[String(frame.code)] = (this.errors[String(frame.code)] ?? 0) + 1;
    });
    this.states = listeners.map((socket) => this.listen(socket, deliveries));
  }

  /** Unmeasured messages every listener must see (in this conversation's seq order); false when they did not within 30 s. */
  warmUp(): Promise<boolean> {
    for (let i = 0; i < WARM_UP; i++) this.sender.send({ type: "message.send", client_id: `${this.prefix}warm-${i}`, content: this.content });
    return until(() => this.states.every((s) => s.lastSeq >= WARM_UP), 30_000);
  }

  /** Sends at `rate` until the planned count (or the lag limit), then waits (bounded) for every ack and delivery. */
  async run(rate: number): Promise<void> {
    const start = performance.now();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        if (this.oldestUnacked < this.sent && now - this.sendAt[this.oldestUnacked]! > LAG_LIMIT_MS) {
          this.stoppedEarlyAt = (now - start) / 1000;
          return resolve();
        }
        const due = Math.min(this.total, Math.floor(((now - start) / 1000) * rate) + 1);
        while (this.sent < due) {
          this.sendAt[this.sent] = performance.now();
          this.sender.send(`{"type":"message.send","client_id":"${this.prefix}${this.sent}","content":"${this.content}"}`);
          this.sent++;
        }
        if (this.sent >= this.total) return resolve();
        setTimeout(tick, Math.max(0, start + (this.sent / rate) * 1000 - performance.now()));
      };
      tick();
    });
    this.sendSeconds = (performance.now() - start) / 1000;
    this.drained = await until(() => this.ackCount === this.sent && this.states.every((s) => s.count === this.sent), DRAIN_MS, 10);
  }

  /** When the measured message a client id names left the client (performance.now()), for other observers of it (a webhook receiver); null for other ids. */
  sentAt(clientId: string): number | null {
    const i = this.indexOf(clientId);
    return i === null || i >= this.sent ? null : this.sendAt[i]!;
  }

  figures(): FanoutFigures {
    const all = new Samples();
    const perListener: Summary[] = [];
    for (const st of this.states) {
      const v = st.latency.values();
      for (let i = 0; i < v.length; i++) all.push(v[i]!);
      perListener.push(summarize(v));
    }
    const missing = this.states.reduce((a, s) => a + (this.sent - s.count), 0);
    const outOfOrder = this.states.reduce((a, s) => a + s.outOfOrder, 0);
    const duplicates = this.states.reduce((a, s) => a + s.duplicates, 0);
    return {
      listeners: this.states.length,
      planned: this.total,
      sent: this.sent,
      acked: this.ackCount,
      sendSeconds: this.sendSeconds,
      achievedRate: this.sent / this.sendSeconds,
      stoppedEarlyAt: this.stoppedEarlyAt,
      drained: this.drained,
      latency: all.summary(),
      perListener,
      worstP99: Math.max(...perListener.map((s) => s.p99)),
      ack: this.ackLatency.summary(),
      missing,
      outOfOrder,
      duplicates,
      errors: this.errors,
      clean: this.drained && missing === 0 && outOfOrder === 0 && duplicates === 0,
    };
  }

  /** The measured message a client id names (warm-up and other runs' ids are null). */
  private indexOf(clientId: unknown): number | null {
    if (typeof clientId !== "string" || !clientId.startsWith(this.prefix)) return null;
    const i = Number(clientId.slice(this.prefix.length));
    return Number.isInteger(i) && i >= 0 && i < this.total ? i : null;
  }

  private listen(socket: ChatSocket, deliveries: DeliveryFilter): ListenerState {
    const st: ListenerState = { received: new Uint8Array(this.total), count: 0, lastSeq: 0, outOfOrder: 0, duplicates: 0, latency: new Samples() };
    socket.on((frame, at) => {
      if (!deliveries(frame)) return;
      const m = frame.message as WireMessage;
      if (m.seq <= st.lastSeq) st.outOfOrder++;
      else st.lastSeq = m.seq;
      const i = this.indexOf(m.client_id);
      if (i === null) return;
      if (st.received[i]) {
        st.duplicates++;
        return;
      }
      st.received[i] = 1;
      st.count++;
      st.latency.push(at - this.sendAt[i]!);
    });
    return st;
  }
}
