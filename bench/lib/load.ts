// Load shapes shared by scenarios: pipelined senders (W unacknowledged messages per socket) and
// a per-socket check that message.new arrives gapless, in order and once.
import type { ChatSocket, Frame, WireMessage } from "./client.ts";
import { Samples } from "./stats.ts";
import { until } from "./util.ts";

export interface PipelineOptions {
  window: number;
  /** stop issuing after this many seconds … */
  seconds?: number;
  /** … or after this many messages in all */
  total?: number;
  prefix: string;
  content: string;
  /** how long to wait for outstanding acks after issuing stops */
  drainMs?: number;
  /** called on every ack (progress reporting) */
  onAck?: (acked: number) => void;
  /** give up when no ack or error arrived for this long (default 60 s) */
  stallMs?: number;
}

export interface PipelineResult {
  sent: number;
  acked: number;
  /** acks that arrived before the time limit (all of them for count-bound runs) */
  ackedInWindow: number;
  /** seconds from the first send to the time limit, or to the last ack for count-bound runs */
  seconds: number;
  ackLatency: Samples;
  errors: Record<string, number>;
  /** sends with neither an ack nor an error after the drain */
  unanswered: number;
}

/** Each socket keeps `window` sends unacknowledged until time or count runs out; every loop is bounded by both. */
export async function pipeline(sockets: ChatSocket[], o: PipelineOptions): Promise<PipelineResult> {
  if (o.seconds === undefined && o.total === undefined) throw new Error("pipeline needs seconds or total");
  const total = o.total ?? Number.MAX_SAFE_INTEGER;
  const ackLatency = new Samples();
  const errors: Record<string, number> = {};
  const sendAt: number[] = [];
  const settled = new Set<number>();
  let sent = 0;
  let acked = 0;
  let ackedInWindow = 0;
  let lastAckAt = 0;
  let lastProgressAt = performance.now();
  const start = performance.now();
  const end = o.seconds === undefined ? Number.POSITIVE_INFINITY : start + o.seconds * 1000;
  const more = () => sent < total && performance.now() < end;
  const sendOne = (socket: ChatSocket) => {
    const i = sent++;
    sendAt[i] = performance.now();
    // ref = client_id: acks and errors echo it.
    socket.send(`{"type":"message.send","ref":"${o.prefix}${i}","client_id":"${o.prefix}${i}","content":"${o.content}"}`);
  };
  const unsubscribe = sockets.map((socket) =>
    socket.on((frame: Frame, at: number) => {
      if (frame.type !== "message.ack" && frame.type !== "error") return;
      const ref = frame.ref;
      if (typeof ref !== "string" || !ref.startsWith(o.prefix)) return;
      const i = Number(ref.slice(o.prefix.length));
      if (settled.has(i) || sendAt[i] === undefined) return;
      if (frame.type === "message.ack") {
        acked++;
        if (at <= end) ackedInWindow++;
        lastAckAt = at;
        ackLatency.push(at - sendAt[i]!);
        o.onAck?.(acked);
      } else {
        errors[String(frame.code)] = (errors[String(frame.code)] ?? 0) + 1;
      }
      settled.add(i);
      lastProgressAt = at;
      if (more()) sendOne(socket);
    }),
  );
  for (const socket of sockets) for (let i = 0; i < o.window && more(); i++) sendOne(socket);
  // Time-bound runs: wait for the limit, then for the tail. Count-bound runs: wait for the count,
  // or until nothing has been answered for stallMs.
  const stallMs = o.stallMs ?? 60_000;
  const limitMs = o.seconds === undefined ? 24 * 3600_000 : o.seconds * 1000 + 100;
  await until(() => !more() || performance.now() >= end || performance.now() - lastProgressAt > stallMs, limitMs, 20);
  await until(() => settled.size >= sent, o.drainMs ?? 20_000, 5);
  for (const off of unsubscribe) off();
  const seconds = o.seconds !== undefined ? o.seconds : (lastAckAt - start) / 1000;
  return { sent, acked, ackedInWindow: o.seconds === undefined ? acked : ackedInWindow, seconds, ackLatency, errors, unanswered: sent - settled.size };
}

/** Checks one socket's message.new stream: consecutive seqs, none twice, none backwards. */
export class SeqTracker {
  first = 0;
  last = 0;
  count = 0;
  missing = 0;
  backwards = 0;

  attach(socket: ChatSocket): this {
    socket.on((frame: Frame) => {
      if (frame.type === "message.new") this.see((frame.message as WireMessage).seq);
    });
    return this;
  }

  see(seq: number): void {
    if (this.count === 0) {
      this.first = this.last = seq;
    } else if (seq === this.last + 1) {
      this.last = seq;
    } else if (seq > this.last + 1) {
      this.missing += seq - this.last - 1;
      this.last = seq;
    } else {
      this.backwards++;
      return;
    }
    this.count++;
  }

  /** Missing in the middle plus missing at the end, given the conversation's final seq. */
  lost(finalSeq: number): number {
    return this.missing + Math.max(0, finalSeq - this.last);
  }
}
