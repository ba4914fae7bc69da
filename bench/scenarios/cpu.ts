// 13. cpu: what a message and a member's first socket cost the runtime, the product against the
// ceiling probe, with both servers loaded at the same time so that whatever else the host does
// weighs on both alike. A run's rate on this shared 2-core machine moves by a fifth from one run
// to the next; the runtime's CPU per unit of work, taken side by side, moves by a few per cent,
// which is what telling a change from noise needs (README, "Where the time goes").
//
// Messages: a room of 4 on each (one sender, three listeners, every socket gets every
// message.new), both senders at --cpu-rate for --duration seconds at once, --pairs rounds; the
// runtime workerd's user + system CPU over the round ÷ the messages acked.
// First sockets: --cpu-connects members of one group on the product, each opening their first
// socket (so each creates the member's user object, which queues the presence change for D1),
// and as many sockets on the probe that each reach a new per-user object queueing one that a
// consumer writes to D1 in batches (the probe's like-for-like floor), both at once, --connect-concurrency at a time on each; CPU ÷ sockets opened.
import { ChatSocket } from "../lib/client.ts";
import { FanoutRun } from "../lib/fanout-run.ts";
import { cpuSecondsOf } from "../lib/proc.ts";
import { medianRatio, newSection, ratio, type Cell, type Section } from "../lib/report.ts";
import type { Context } from "../lib/scenario.ts";
import { round } from "../lib/stats.ts";
import { startTarget, type Target } from "../lib/target.ts";
import { log, mapLimit, sleep } from "../lib/util.ts";

/** Listeners in each room besides the sender (the throughput target's four sockets). */
const LISTENERS = 3;
/** After a round, for the runtime to finish what the round left (acks in flight, closes). */
const SETTLE_MS = 1_000;

interface Side {
  target: Target;
  runtime: number;
}

/** The runtime's CPU seconds spent while `work` runs on both sides at once (plus SETTLE_MS). */
async function sideBySide<T>(sides: Side[], work: (side: Side, index: number) => Promise<T>): Promise<{ results: T[]; cpuSeconds: number[] }> {
  const before = sides.map((s) => cpuSecondsOf(s.runtime));
  const results = await Promise.all(sides.map(work));
  await sleep(SETTLE_MS);
  return { results, cpuSeconds: sides.map((s, i) => cpuSecondsOf(s.runtime) - before[i]!) };
}

async function messages(ctx: Context, section: Section, sides: Side[]): Promise<void> {
  const { cpuRate: rate, duration, contentLength, pairs: rounds } = ctx.opts;
  const content = "x".repeat(contentLength);
  const senders: ChatSocket[] = [];
  const sockets: ChatSocket[] = [];
  try {
    for (const side of sides) {
      const room = await side.target.room(LISTENERS + 1, `cpu-${side.target.kind}`);
      const open = await Promise.all(room.urls.map((url) => ChatSocket.connect(url)));
      sockets.push(...open);
      senders.push(open[0]!);
      if (!(await new FanoutRun(open[0]!, open.slice(1), "cpu-w-", content, rate, duration).warmUp())) throw new Error(`${side.target.kind}: warm-up not delivered`);
    }
    const rows: Cell[][] = [];
    const perMessage: { product: number; probe: number }[] = [];
    for (let r = 1; r <= rounds; r++) {
      log(`cpu: messages, round ${r} of ${rounds}: ${rate} msg/s on each for ${duration} s`);
      const runs = sides.map((_, i) => new FanoutRun(senders[i]!, [], `cpu-${r}-`, content, rate, duration));
      const { cpuSeconds } = await sideBySide(sides, (_side, i) => runs[i]!.run(rate));
      const figures = runs.map((run) => run.figures());
      const us = figures.map((f, i) => (f.acked > 0 ? (cpuSeconds[i]! * 1e6) / f.acked : NaN));
      perMessage.push({ product: us[0]!, probe: us[1]! });
      rows.push([r, figures[0]!.acked, round(us[0]!, 1), figures[1]!.acked, round(us[1]!, 1), ratio(us[0]!, us[1]!)]);
      for (const [i, f] of figures.entries()) {
        if (f.acked < f.sent) section.notes.push(`messages, round ${r}: the ${sides[i]!.target.kind} acked ${f.acked} of ${f.sent} by the cut-off`);
      }
    }
    section.tables.push({
      title: `Runtime CPU per message, both loaded at once: one sender at ${rate} msg/s and ${LISTENERS} listeners on each, ${duration} s a round (µs of the runtime workerd's CPU ÷ messages acked; ratio = product / probe)`,
      headers: ["round", "product acked", "product µs/msg", "probe acked", "probe µs/msg", "ratio"],
      rows,
    });
    section.data.messages = { rate, duration_s: duration, rounds: perMessage, median_ratio: medianRatio(perMessage) };
    section.notes.push(`messages: runtime CPU per message ${medianRatio(perMessage)} × the probe's (median of ${rounds} round${rounds > 1 ? "s" : ""})`);
  } finally {
    for (const s of sockets) s.terminate();
  }
}

async function firstSockets(ctx: Context, section: Section, sides: Side[]): Promise<void> {
  const { cpuConnects: count, connectConcurrency } = ctx.opts;
  log(`cpu: first sockets: a group of ${count} on the product, ${count} own users on the probe`);
  const urls = [
    (await sides[0]!.target.room(count + 1, "cpu-group")).urls.slice(1),
    (await sides[1]!.target.room(count, "cpu-floor", { ownUsers: true })).urls.map((url) => `${url}&member_object=1&presence_queue=1`),
  ];
  await sleep(SETTLE_MS); // the group's creation leaves its mirror write behind it
  const open: ChatSocket[] = [];
  try {
    log(`cpu: first sockets: ${count} on each at once, ${connectConcurrency} at a time`);
    const { results, cpuSeconds } = await sideBySide(sides, async (side, i) => {
      const t0 = performance.now();
      let opened = 0;
      let failed = 0;
      await mapLimit(urls[i]!, connectConcurrency, async (url) => {
        try {
          open.push(await ChatSocket.connect(url, 30_000));
          opened++;
        } catch {
          failed++;
        }
      });
      if (failed > 0) section.notes.push(`first sockets: ${failed} of the ${side.target.kind}'s sockets failed to open (their CPU is still counted)`);
      return { opened, seconds: (performance.now() - t0) / 1000 };
    });
    const ms = results.map((r, i) => (r.opened > 0 ? (cpuSeconds[i]! * 1000) / r.opened : NaN));
    section.tables.push({
      title: `Runtime CPU per first socket, both at once: ${count} members of one group (product; each creates the member's user object) and ${count} probe sockets that each reach a new per-user object queueing a presence change for D1 (ms of the runtime workerd's CPU ÷ sockets opened)`,
      headers: ["target", "opened", "per s", "ms/socket"],
      rows: sides.map((side, i) => [side.target.kind, results[i]!.opened, Math.round(results[i]!.opened / results[i]!.seconds), round(ms[i]!, 2)]),
    });
    section.data.first_sockets = { count, product_ms: ms[0], probe_floor_ms: ms[1], ratio: ratio(ms[0]!, ms[1]!) };
    section.notes.push(`first sockets: runtime CPU per socket ${ratio(ms[0]!, ms[1]!)} × the probe's like-for-like floor`);
  } finally {
    for (const s of open) s.terminate();
  }
}

export async function cpu(ctx: Context): Promise<Section> {
  const section = newSection("cpu", { rate_per_s: ctx.opts.cpuRate, duration_s: ctx.opts.duration, rounds: ctx.opts.pairs, connects: ctx.opts.cpuConnects });
  const sides: Side[] = [];
  try {
    for (const kind of ["product", "probe"] as const) {
      const target = await startTarget(kind, ctx.opts.verbose);
      const runtime = target.server.processes.runtime;
      sides.push({ target, runtime: runtime ?? NaN });
      if (runtime === null) throw new Error(`${kind}: the runtime workerd was not found`);
    }
    await messages(ctx, section, sides);
    await firstSockets(ctx, section, sides);
  } finally {
    for (const side of sides) await side.target.stop();
  }
  return section;
}
