// 1. Fan-out: one conversation, one sender and N listeners; the sender sends at a fixed rate and
// every listener's send→receive latency is measured; every listener must get every message once,
// in order. Each N runs on its own fresh server, first the product, then the ceiling probe
// (bench/probe, unless --no-probe) with the same code, so every figure is also printed as a
// ratio to the probe's. The sender stops early once the server is more than LAG_LIMIT_MS behind
// (the latency target is lost by then, and piling on only lengthens the backlog), and the run
// waits at most DRAIN_MS for the rest; whatever has not arrived by then is reported as missing.
import { ChatSocket, type Frame, type WireMessage } from "../lib/client.ts";
import { ioOf } from "../lib/proc.ts";
import { compare, comparisonTable, costRow, newSection, ratio, type Cell, type Comparison, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { round, roundSummary, Samples, summarize, type Summary } from "../lib/stats.ts";
import { startTarget, suffix, targetKinds, type TargetKind } from "../lib/target.ts";
import { log, mapLimit, until } from "../lib/util.ts";

const LAG_LIMIT_MS = 5_000;
const DRAIN_MS = 20_000;
/** the issue's target: product p99 ≤ this × the probe's p99, 10 listeners at 200 msg/s */
const P99_RATIO_TARGET = 1.5;

interface ListenerState {
  received: Uint8Array;
  count: number;
  lastSeq: number;
  outOfOrder: number;
  duplicates: number;
  latency: Samples;
}

interface RunFigures {
  rate: number;
  latency: Summary;
  worstP99: number;
  ack: Summary;
  missing: number;
  clean: boolean;
}

/** One fan-out run of `n` listeners against a fresh server of `kind`; null when it failed (noted). */
async function runOnce(ctx: Context, section: Section, kind: TargetKind, n: number, rows: Cell[][], runs: Record<string, unknown>[]): Promise<RunFigures | null> {
  const { rate, duration, contentLength } = ctx.opts;
  const label = `${n} listeners${suffix(kind)}`;
  const target = await startTarget(kind, ctx.opts.verbose);
  let sockets: ChatSocket[] = [];
  try {
    log(`fanout (${kind}): a room of ${n + 1}`);
    const room = await target.room(n + 1, `fan${n}`);
    const listenerSockets = await mapLimit(room.urls.slice(1), 20, (url) => ChatSocket.connect(url));
    const senderSocket = await ChatSocket.connect(room.urls[0]!);
    sockets = [...listenerSockets, senderSocket];

    const total = Math.max(1, Math.round(rate * duration));
    const content = "x".repeat(contentLength);
    const prefix = `f${n}-`;
    const sendAt = new Float64Array(total);
    const acked = new Uint8Array(total);
    const ackLatency = new Samples();
    const errors: Record<string, number> = {};
    let ackCount = 0;
    let oldestUnacked = 0;
    senderSocket.on((frame: Frame, at: number) => {
      if (frame.type === "message.ack") {
        const cid = frame.client_id as string;
        if (!cid.startsWith(prefix)) return;
        const i = Number(cid.slice(prefix.length));
        if (!acked[i]) {
          acked[i] = 1;
          ackCount++;
          ackLatency.push(at - sendAt[i]!);
          while (oldestUnacked < total && acked[oldestUnacked]) oldestUnacked++;
        }
      } else if (frame.type === "error") errors[String(frame.code)] = (errors[String(frame.code)] ?? 0) + 1;
    });
    const states: ListenerState[] = listenerSockets.map((socket) => {
      const st: ListenerState = { received: new Uint8Array(total), count: 0, lastSeq: 0, outOfOrder: 0, duplicates: 0, latency: new Samples() };
      socket.on((frame: Frame, at: number) => {
        if (frame.type !== "message.new") return;
        const m = frame.message as WireMessage;
        if (m.seq <= st.lastSeq) st.outOfOrder++;
        else st.lastSeq = m.seq;
        const cid = m.client_id;
        if (!cid || !cid.startsWith(prefix)) return;
        const i = Number(cid.slice(prefix.length));
        if (st.received[i]) {
          st.duplicates++;
          return;
        }
        st.received[i] = 1;
        st.count++;
        st.latency.push(at - sendAt[i]!);
      });
      return st;
    });

    // Warm-up (not measured): a few messages everyone must see.
    const warm = 20;
    for (let i = 0; i < warm; i++) senderSocket.send({ type: "message.send", client_id: `warm-${i}`, content });
    await until(() => states.every((s) => s.lastSeq >= warm), 30_000);
    const before = await target.stats([room.id]);

    log(`fanout (${kind}): ${n} listeners, ${total} messages at ${rate}/s`);
    const io0 = ioOf(target.server.processes.runtime);
    let sent = 0;
    let sendSeconds = 0;
    let drained = false;
    let stoppedEarlyAt: number | null = null;
    const everyoneHasAll = () => ackCount === sent && states.every((s) => s.count === sent);
    const phase = await measured(ctx, target.server, section, label, async () => {
      const start = performance.now();
      await new Promise<void>((resolve) => {
        const tick = () => {
          const now = performance.now();
          if (oldestUnacked < sent && now - sendAt[oldestUnacked]! > LAG_LIMIT_MS) {
            stoppedEarlyAt = (now - start) / 1000;
            return resolve();
          }
          const due = Math.min(total, Math.floor(((now - start) / 1000) * rate) + 1);
          while (sent < due) {
            sendAt[sent] = performance.now();
            senderSocket.send(`{"type":"message.send","client_id":"${prefix}${sent}","content":"${content}"}`);
            sent++;
          }
          if (sent >= total) return resolve();
          setTimeout(tick, Math.max(0, start + (sent / rate) * 1000 - performance.now()));
        };
        tick();
      });
      sendSeconds = (performance.now() - start) / 1000;
      drained = await until(everyoneHasAll, DRAIN_MS, 10);
    });
    const io1 = ioOf(target.server.processes.runtime);
    const after = drained ? await target.stats([room.id], (err) => section.notes.push(`${label}: cost counters unavailable (${String(err)})`)) : null;
    if (stoppedEarlyAt !== null) section.notes.push(`${label}: the sender stopped after ${round(stoppedEarlyAt, 1)} s (${sent} of ${total} sent): the server was more than ${LAG_LIMIT_MS / 1000} s behind`);
    if (!drained) section.notes.push(`${label}: ${DRAIN_MS / 1000} s after the last send, acked ${ackCount}/${sent} and listeners had ${states.reduce((a, s) => a + s.count, 0)}/${sent * n}; counted as missing, the server was stopped with its backlog`);

    const all = new Samples();
    const perListener: Summary[] = [];
    for (const st of states) {
      const v = st.latency.values();
      for (let i = 0; i < v.length; i++) all.push(v[i]!);
      perListener.push(summarize(v));
    }
    const aggregate = all.summary();
    const worstP99 = Math.max(...perListener.map((s) => s.p99));
    const missing = states.reduce((a, s) => a + (sent - s.count), 0);
    const outOfOrder = states.reduce((a, s) => a + s.outOfOrder, 0);
    const duplicates = states.reduce((a, s) => a + s.duplicates, 0);
    const io = { write_bytes: io1.write_bytes - io0.write_bytes, write_syscalls: io1.write_syscalls - io0.write_syscalls };
    // The probe has no cost counters: its disk traffic per message is kept in the JSON only.
    const cost = kind === "product" ? costRow("fanout", `${n} listeners`, before, after, ackCount, io) : null;
    if (cost) section.costs.push(cost);
    const ack = ackLatency.summary();
    const achieved = sent / sendSeconds;
    rows.push([kind, n, round(achieved, 1), sent, ackCount, aggregate.p50, aggregate.p95, aggregate.p99, aggregate.max, worstP99, ack.p99, missing, outOfOrder + duplicates, drained, ...cpuCells(phase.cpu)]);
    runs.push({
      target: kind,
      listeners: n,
      planned: total,
      sent,
      acked: ackCount,
      send_seconds: sendSeconds,
      achieved_rate_per_s: achieved,
      sender_stopped_early_at_s: stoppedEarlyAt,
      drained,
      latency_ms_all_listeners: roundSummary(aggregate),
      latency_ms_per_listener: perListener.map((s) => roundSummary(s)),
      worst_listener_p99_ms: worstP99,
      median_listener_p99_ms: summarize(perListener.map((s) => s.p99)).p50,
      ack_latency_ms: roundSummary(ack),
      missing_at_cutoff: missing,
      out_of_order: outOfOrder,
      duplicates,
      errors,
      cost,
      runtime_disk: { ...io, kib_per_message: ackCount > 0 ? round(io.write_bytes / 1024 / ackCount, 2) : null },
      cpu_cores: phase.cpu,
      client_loop_lag_ms: phase.loopLag,
    });
    const clean = drained && missing === 0 && outOfOrder === 0 && duplicates === 0;
    if (kind === "product") {
      if (n === 10) {
        section.targets.push({
          target: `fan-out to 10 listeners at ${rate} msg/s: p99 ≤ 10 ms (every listener)`,
          measured: `p99 all ${aggregate.p99.toFixed(2)} ms, worst listener ${worstP99.toFixed(2)} ms${stoppedEarlyAt !== null ? `; sender stopped at ${round(stoppedEarlyAt, 1)} s` : ""}`,
          met: worstP99 <= 10 && rate >= 200 && stoppedEarlyAt === null && drained,
        });
      }
      section.targets.push({
        target: `fan-out ${n} listeners: 0 lost, 0 out of order`,
        measured: drained
          ? `lost ${missing}, out of order ${outOfOrder}, duplicates ${duplicates}`
          : `not drained: ${missing} deliveries missing at the cut-off (server behind, not proven lost); out of order ${outOfOrder}, duplicates ${duplicates}`,
        met: clean,
      });
    } else if (!drained) {
      section.notes.push(`${label}: the probe fell behind too (not drained): this rate is past the runtime's floor on this machine, so the ratios of this run compare two backlogs`);
    } else if (!clean) {
      section.notes.push(`${label}: the probe itself lost or reordered deliveries (missing ${missing}, out of order ${outOfOrder}, duplicates ${duplicates})`);
    }
    return { rate: achieved, latency: aggregate, worstP99, ack, missing, clean };
  } catch (err) {
    section.notes.push(`${label}: run failed: ${err instanceof Error ? err.message : String(err)}`);
    if (kind === "product") section.targets.push({ target: `fan-out ${n} listeners completes`, measured: "failed", met: false });
    return null;
  } finally {
    for (const s of sockets) s.terminate();
    await target.stop();
  }
}

export async function fanout(ctx: Context): Promise<Section> {
  const { listeners: counts, rate, duration, contentLength } = ctx.opts;
  const kinds = targetKinds(ctx.opts);
  const section = newSection("fanout", { listeners: counts, rate_per_s: rate, duration_s: duration, content_length: contentLength, lag_limit_ms: LAG_LIMIT_MS, drain_ms: DRAIN_MS, targets: kinds });
  const rows: Cell[][] = [];
  const runs: Record<string, unknown>[] = [];
  const comparisons: Comparison[] = [];
  for (const n of counts) {
    const product = await runOnce(ctx, section, "product", n, rows, runs);
    if (!kinds.includes("probe")) continue;
    const probe = await runOnce(ctx, section, "probe", n, rows, runs);
    const run = `${n} listeners`;
    comparisons.push(
      compare(run, "latency p50 ms", product?.latency.p50, probe?.latency.p50),
      compare(run, "latency p95 ms", product?.latency.p95, probe?.latency.p95),
      compare(run, "latency p99 ms", product?.latency.p99, probe?.latency.p99),
      compare(run, "latency max ms", product?.latency.max, probe?.latency.max),
      compare(run, "worst listener p99 ms", product?.worstP99, probe?.worstP99),
      compare(run, "ack p99 ms", product?.ack.p99, probe?.ack.p99),
      compare(run, "msg/s sent", product?.rate, probe?.rate),
    );
    if (n === 10) {
      const r = ratio(product?.latency.p99 ?? NaN, probe?.latency.p99 ?? NaN);
      section.targets.push({
        target: `fan-out 10 listeners at ${rate} msg/s: product p99 ≤ ${P99_RATIO_TARGET} × the ceiling probe's p99 (all listeners)`,
        measured: product && probe ? `product ${product.latency.p99.toFixed(2)} ms, probe ${probe.latency.p99.toFixed(2)} ms, ratio ${r}${product.clean ? "" : " (product not clean)"}` : `not measured (${product ? "probe" : "product"} run failed)`,
        met: rate >= 200 && r <= P99_RATIO_TARGET && !!product?.clean,
      });
    }
  }
  if (kinds.includes("probe") && !counts.includes(10)) {
    section.targets.push({ target: `fan-out 10 listeners: product p99 ≤ ${P99_RATIO_TARGET} × the ceiling probe's p99`, measured: "not run (--listeners has no 10)", met: false });
  }
  section.tables.push({
    title: `Fan-out: 1 sender → N listeners at ${rate} msg/s for up to ${duration} s (send→receive latency over all listeners, ms; missing = deliveries not made by the cut-off)`,
    headers: ["target", "listeners", "msg/s sent", "sent", "acked", "p50", "p95", "p99", "max", "worst p99", "ack p99", "missing", "ooo+dup", "drained", ...CPU_HEADERS],
    rows,
  });
  if (comparisons.length > 0) section.tables.push(comparisonTable(`Fan-out at ${rate} msg/s`, comparisons));
  section.data.runs = runs;
  section.data.comparison = comparisons;
  return section;
}
