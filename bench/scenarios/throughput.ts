// 2. Throughput: one conversation, K senders each keeping W unacknowledged messages in flight for
// T seconds: acknowledged messages per second and ack latency. Every socket also receives every
// message.new, and checks it got them all, in order. The product runs first, then the ceiling
// probe (bench/probe, unless --no-probe) with the same code, each on its own fresh server, and
// every figure is also printed as a ratio to the probe's. The target's 4 senders × 8 then runs
// again in turns, on fresh servers, until there are --pairs pairs; the target takes the median
// pair's ratio.
import { ChatSocket, closeAll } from "../lib/client.ts";
import { pipeline, SeqTracker } from "../lib/load.ts";
import { compare, comparisonTable, costRow, medianRatio, newSection, ratio, type Cell, type Comparison, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { roundSummary, Samples, type Summary } from "../lib/stats.ts";
import { startTarget, suffix, targetKinds, type TargetKind } from "../lib/target.ts";
import { log, sleep } from "../lib/util.ts";

/** the issue's target: 4 senders × 8 in flight, product ≥ this × the probe's acked/s */
const RATE_RATIO_TARGET = 0.8;
const TARGET_SENDERS = 4;
const TARGET_WINDOW = 8;

interface RunFigures {
  rate: number;
  latency: Summary;
  /** lost message.new plus unanswered sends */
  lost: number;
  health: Summary;
}

const runName = (senders: number, window: number) => `${senders} senders × ${window} in flight`;

/** The given senders × window runs against one fresh server of `kind`; figures by run name ("4 senders × 8 in flight"). */
async function runAll(ctx: Context, section: Section, kind: TargetKind, plan: [senders: number, window: number][], pair: string, rows: Cell[][], runs: Record<string, unknown>[]): Promise<Map<string, RunFigures>> {
  const { duration, contentLength } = ctx.opts;
  const figures = new Map<string, RunFigures>();
  const target = await startTarget(kind, ctx.opts.verbose);
  try {
    const maxK = Math.max(...plan.map(([k]) => k));
    const room = await target.room(maxK, "tp");
    const content = "x".repeat(contentLength);
    for (const [k, w] of plan) {
      const run = runName(k, w);
      const label = `${run}${pair}${suffix(kind)}`;
      let sockets: ChatSocket[] = [];
      try {
        sockets = await Promise.all(room.urls.slice(0, k).map((url) => ChatSocket.connect(url)));
        // Warm-up (not measured).
        await pipeline(sockets, { window: w, seconds: 1, prefix: `w${k}x${w}-`, content });
        const trackers = sockets.map((s) => new SeqTracker().attach(s));
        const before = await target.stats([room.id]);
        log(`throughput (${kind}): ${run} for ${duration} s`);
        // Alongside: GET /health once a second, to see whether the rest of the runtime still answers.
        const health = new Samples();
        let healthFailures = 0;
        let running = true;
        const prober = (async () => {
          while (running) {
            const t = performance.now();
            try {
              const response = await fetch(`${target.url}/health`, { signal: AbortSignal.timeout(duration * 1000 + 30_000) });
              await response.text();
              health.push(performance.now() - t);
            } catch {
              healthFailures++;
            }
            await sleep(1_000);
          }
        })();
        const phase = await measured(ctx, target.server, section, label, () => pipeline(sockets, { window: w, seconds: duration, prefix: `t${k}x${w}-`, content }));
        running = false;
        await prober;
        const after = await target.stats([room.id], (err) => section.notes.push(`${label}: cost counters unavailable (${String(err)})`));
        const r = phase.result;
        const finalSeq = Math.max(...trackers.map((t) => t.last));
        const lost = trackers.reduce((a, t) => a + t.lost(finalSeq), 0);
        const backwards = trackers.reduce((a, t) => a + t.backwards, 0);
        const rate = r.ackedInWindow / r.seconds;
        const latency = r.ackLatency.summary();
        // The probe has no cost counters: its disk traffic per message is kept in the JSON only.
        const cost = kind === "product" ? costRow("throughput", `${run}${pair}`, before, after, r.acked, phase.cpu.runtime_io) : null;
        if (cost) section.costs.push(cost);
        const healthSummary = health.summary();
        const errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
        figures.set(run, { rate, latency, lost: lost + r.unanswered, health: healthSummary });
        rows.push([`${kind}${pair}`, k, w, Math.round(rate), r.acked, latency.p50, latency.p99, latency.max, lost, backwards, r.unanswered, errorCount, healthSummary.max, ...cpuCells(phase.cpu)]);
        runs.push({
          target: kind,
          run: label,
          senders: k,
          window: w,
          seconds: r.seconds,
          sent: r.sent,
          acked: r.acked,
          acked_in_window: r.ackedInWindow,
          acked_per_s: rate,
          ack_latency_ms: roundSummary(latency),
          lost_message_new: lost,
          out_of_order: backwards,
          unanswered_sends: r.unanswered,
          errors: r.errors,
          final_seq: finalSeq,
          health_during_run_ms: { ...roundSummary(healthSummary), failures: healthFailures },
          cost,
          runtime_disk: { ...phase.cpu.runtime_io, kib_per_message: r.acked > 0 ? Math.round((phase.cpu.runtime_io.write_bytes / 1024 / r.acked) * 100) / 100 : null },
          cpu_cores: phase.cpu,
          client_loop_lag_ms: phase.loopLag,
        });
      } catch (err) {
        section.notes.push(`${label}: run failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await closeAll(sockets);
      }
    }
  } finally {
    await target.stop();
  }
  return figures;
}

export async function throughput(ctx: Context): Promise<Section> {
  const { senders, window, duration, contentLength, pairs: turns } = ctx.opts;
  const kinds = targetKinds(ctx.opts);
  const withProbe = kinds.includes("probe");
  const section = newSection("throughput", { senders, window, duration_s: duration, content_length: contentLength, targets: kinds, pairs: turns });
  const rows: Cell[][] = [];
  const runs: Record<string, unknown>[] = [];
  const plan = senders.flatMap((k) => window.map((w): [number, number] => [k, w]));
  const targetRun = runName(TARGET_SENDERS, TARGET_WINDOW);
  const planned = senders.includes(TARGET_SENDERS) && window.includes(TARGET_WINDOW);
  /** each pair's figures by run name; the first pair has every run, later ones the target's alone */
  const pairs: { tag: string; product: Map<string, RunFigures>; probe: Map<string, RunFigures> }[] = [];
  for (let turn = 1; turn <= (withProbe && planned ? turns : 1); turn++) {
    const tag = turn > 1 ? `, pair ${turn}` : "";
    const turnPlan: [number, number][] = turn > 1 ? [[TARGET_SENDERS, TARGET_WINDOW]] : plan;
    const product = await runAll(ctx, section, "product", turnPlan, tag, rows, runs);
    const probe = withProbe ? await runAll(ctx, section, "probe", turnPlan, tag, rows, runs) : new Map<string, RunFigures>();
    pairs.push({ tag, product, probe });
  }

  section.tables.push({
    title: `Throughput: one conversation, K senders × W in flight for ${duration} s (ack latency ms; every socket gets every message.new)`,
    headers: ["target", "senders", "window", "acked/s", "acked", "p50", "p99", "max", "lost", "ooo", "unacked", "errors", "/health max", ...CPU_HEADERS],
    rows,
  });
  const comparisons: Comparison[] = [];
  if (withProbe) {
    for (const { tag, product, probe } of pairs) {
      for (const [run, p] of product) {
        const q = probe.get(run);
        comparisons.push(
          compare(`${run}${tag}`, "acked/s", p.rate, q?.rate),
          compare(`${run}${tag}`, "ack p50 ms", p.latency.p50, q?.latency.p50),
          compare(`${run}${tag}`, "ack p99 ms", p.latency.p99, q?.latency.p99),
          compare(`${run}${tag}`, "ack max ms", p.latency.max, q?.latency.max),
        );
      }
    }
    section.tables.push(comparisonTable("Throughput, one conversation", comparisons));
    const measured = pairs.flatMap(({ product, probe }) => {
      const p = product.get(targetRun);
      const q = probe.get(targetRun);
      return p && q ? [{ product: p.rate, probe: q.rate, lost: p.lost }] : [];
    });
    const r = medianRatio(measured);
    const lost = measured.reduce((a, m) => a + m.lost, 0);
    section.targets.push({
      target: `one conversation, ${targetRun}: product acked/s ≥ ${RATE_RATIO_TARGET} × the ceiling probe's (median of ${pairs.length} pair${pairs.length > 1 ? "s" : ""} run in turns)`,
      measured: !planned
        ? `not measured (--senders/--window do not include ${TARGET_SENDERS} × ${TARGET_WINDOW})`
        : measured.length < pairs.length
          ? `not measured (${pairs.length - measured.length} of ${pairs.length} pairs failed)`
          : `ratio ${r} (acked/s product / probe: ${measured.map((m) => `${Math.round(m.product)} / ${Math.round(m.probe)} = ${ratio(m.product, m.probe)}`).join("; ")}); product lost+unacked ${lost}`,
      met: planned && measured.length === pairs.length && r >= RATE_RATIO_TARGET && lost === 0,
    });
  }
  let best = { rate: 0, lost: 0, label: "" };
  for (const { tag, product } of pairs) for (const [run, p] of product) if (p.rate > best.rate) best = { rate: p.rate, lost: p.lost, label: `${run}${tag}` };
  section.targets.push({
    target: "one conversation ≥ 5,000 acked msg/s with 0 lost",
    measured: `best ${Math.round(best.rate)} msg/s (${best.label}), lost+unacked ${best.lost}`,
    met: best.rate >= 5000 && best.lost === 0,
  });
  section.data.runs = runs;
  section.data.comparison = comparisons;
  return section;
}
