// 1. Fan-out: one conversation, one sender and N listeners (the load is lib/fanout-run.ts). Each
// N runs on its own fresh server, first the product, then the ceiling probe (bench/probe, unless
// --no-probe) with the same code, so every figure is also printed as a ratio to the probe's. At
// the target's 10 listeners the pair runs --pairs times in turns, and the target takes the
// median pair's ratio.
import { ChatSocket } from "../lib/client.ts";
import { DRAIN_MS, FanoutRun, LAG_LIMIT_MS, runJson, runNotes, type FanoutFigures } from "../lib/fanout-run.ts";
import { ioOf } from "../lib/proc.ts";
import { compare, comparisonTable, costRow, medianRatio, newSection, ratio, type Cell, type Comparison, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { round } from "../lib/stats.ts";
import { startTarget, suffix, targetKinds, type TargetKind } from "../lib/target.ts";
import { log, mapLimit } from "../lib/util.ts";

/** the issue's target: product p99 ≤ this × the probe's p99, 10 listeners at 200 msg/s */
const P99_RATIO_TARGET = 1.5;
const TARGET_LISTENERS = 10;

/** One fan-out run of `n` listeners against a fresh server of `kind`; null when it failed (noted). */
async function runOnce(ctx: Context, section: Section, kind: TargetKind, n: number, pair: string, rows: Cell[][], runs: Record<string, unknown>[]): Promise<FanoutFigures | null> {
  const { rate, duration, contentLength } = ctx.opts;
  const label = `${n} listeners${pair}${suffix(kind)}`;
  const target = await startTarget(kind, ctx.opts.verbose);
  let sockets: ChatSocket[] = [];
  try {
    log(`fanout (${kind}): a room of ${n + 1}`);
    const room = await target.room(n + 1, `fan${n}`);
    const listenerSockets = await mapLimit(room.urls.slice(1), 20, (url) => ChatSocket.connect(url));
    const senderSocket = await ChatSocket.connect(room.urls[0]!);
    sockets = [...listenerSockets, senderSocket];
    const load = new FanoutRun(senderSocket, listenerSockets, `f${n}-`, "x".repeat(contentLength), rate, duration);
    await load.warmUp();
    const before = await target.stats([room.id]);

    log(`fanout (${kind}): ${n} listeners, ${Math.max(1, Math.round(rate * duration))} messages at ${rate}/s`);
    const io0 = ioOf(target.server.processes.runtime);
    const phase = await measured(ctx, target.server, section, label, () => load.run(rate));
    const io1 = ioOf(target.server.processes.runtime);
    const f = load.figures();
    const after = f.drained ? await target.stats([room.id], (err) => section.notes.push(`${label}: cost counters unavailable (${String(err)})`)) : null;
    section.notes.push(...runNotes(label, f));

    const io = { write_bytes: io1.write_bytes - io0.write_bytes, write_syscalls: io1.write_syscalls - io0.write_syscalls };
    // The probe has no cost counters: its disk traffic per message is kept in the JSON only.
    const cost = kind === "product" ? costRow("fanout", `${n} listeners${pair}`, before, after, f.acked, io) : null;
    if (cost) section.costs.push(cost);
    rows.push([`${kind}${pair}`, n, round(f.achievedRate, 1), f.sent, f.acked, f.latency.p50, f.latency.p95, f.latency.p99, f.latency.max, f.worstP99, f.ack.p99, f.missing, f.outOfOrder + f.duplicates, f.drained, ...cpuCells(phase.cpu)]);
    runs.push({
      target: kind,
      run: label,
      ...runJson(f),
      cost,
      runtime_disk: { ...io, kib_per_message: f.acked > 0 ? round(io.write_bytes / 1024 / f.acked, 2) : null },
      cpu_cores: phase.cpu,
      client_loop_lag_ms: phase.loopLag,
    });
    if (kind === "product") {
      if (n === TARGET_LISTENERS) {
        section.targets.push({
          target: `fan-out to 10 listeners${pair} at ${rate} msg/s: p99 ≤ 10 ms (every listener)`,
          measured: `p99 all ${f.latency.p99.toFixed(2)} ms, worst listener ${f.worstP99.toFixed(2)} ms${f.stoppedEarlyAt !== null ? `; sender stopped at ${round(f.stoppedEarlyAt, 1)} s` : ""}`,
          met: f.worstP99 <= 10 && rate >= 200 && f.stoppedEarlyAt === null && f.drained,
        });
      }
      section.targets.push({
        target: `fan-out ${n} listeners${pair}: 0 lost, 0 out of order`,
        measured: f.drained
          ? `lost ${f.missing}, out of order ${f.outOfOrder}, duplicates ${f.duplicates}`
          : `not drained: ${f.missing} deliveries missing at the cut-off (server behind, not proven lost); out of order ${f.outOfOrder}, duplicates ${f.duplicates}`,
        met: f.clean,
      });
    } else if (!f.drained) {
      section.notes.push(`${label}: the probe fell behind too (not drained): this rate is past the runtime's floor on this machine, so the ratios of this run compare two backlogs`);
    } else if (!f.clean) {
      section.notes.push(`${label}: the probe itself lost or reordered deliveries (missing ${f.missing}, out of order ${f.outOfOrder}, duplicates ${f.duplicates})`);
    }
    return f;
  } catch (err) {
    section.notes.push(`${label}: run failed: ${err instanceof Error ? err.message : String(err)}`);
    if (kind === "product") section.targets.push({ target: `fan-out ${n} listeners${pair} completes`, measured: "failed", met: false });
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
    const turns = kinds.includes("probe") && n === TARGET_LISTENERS ? ctx.opts.pairs : 1;
    const pairs: { product: FanoutFigures | null; probe: FanoutFigures | null }[] = [];
    for (let turn = 1; turn <= turns; turn++) {
      const pair = turns > 1 ? `, pair ${turn}` : "";
      const product = await runOnce(ctx, section, "product", n, pair, rows, runs);
      const probe = kinds.includes("probe") ? await runOnce(ctx, section, "probe", n, pair, rows, runs) : null;
      pairs.push({ product, probe });
      if (!probe) continue;
      const run = `${n} listeners${pair}`;
      comparisons.push(
        compare(run, "latency p50 ms", product?.latency.p50, probe.latency.p50),
        compare(run, "latency p95 ms", product?.latency.p95, probe.latency.p95),
        compare(run, "latency p99 ms", product?.latency.p99, probe.latency.p99),
        compare(run, "latency max ms", product?.latency.max, probe.latency.max),
        compare(run, "worst listener p99 ms", product?.worstP99, probe.worstP99),
        compare(run, "ack p99 ms", product?.ack.p99, probe.ack.p99),
        compare(run, "msg/s sent", product?.achievedRate, probe.achievedRate),
      );
    }
    if (!kinds.includes("probe") || n !== TARGET_LISTENERS) continue;
    const measuredPairs = pairs.flatMap(({ product, probe }) => (product && probe ? [{ product: product.latency.p99, probe: probe.latency.p99 }] : []));
    const r = medianRatio(measuredPairs);
    const allClean = pairs.every(({ product }) => product?.clean === true);
    section.targets.push({
      target: `fan-out 10 listeners at ${rate} msg/s: product p99 ≤ ${P99_RATIO_TARGET} × the ceiling probe's p99 (all listeners; median of ${turns} pair${turns > 1 ? "s" : ""} run in turns)`,
      measured:
        measuredPairs.length === turns
          ? `ratio ${r} (p99 product / probe, ms: ${measuredPairs.map((p) => `${p.product.toFixed(2)} / ${p.probe.toFixed(2)} = ${ratio(p.product, p.probe)}`).join("; ")})${allClean ? "" : " (product not clean)"}`
          : `not measured (${turns - measuredPairs.length} of ${turns} pairs failed)`,
      met: rate >= 200 && measuredPairs.length === turns && r <= P99_RATIO_TARGET && allClean,
    });
  }
  if (kinds.includes("probe") && !counts.includes(TARGET_LISTENERS)) {
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
