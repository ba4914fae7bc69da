// 2. Throughput: one conversation, K senders each keeping W unacknowledged messages in flight for
// T seconds: acknowledged messages per second and ack latency. Every socket also receives every
// message.new, and checks it got them all, in order. The product runs first, then the ceiling
// probe (bench/probe, unless --no-probe) with the same code, each on its own fresh server, and
// every figure is also printed as a ratio to the probe's.
import { ChatSocket, closeAll } from "../lib/client.ts";
import { pipeline, SeqTracker } from "../lib/load.ts";
import { compare, comparisonTable, costRow, newSection, ratio, type Cell, type Comparison, type Section } from "../lib/report.ts";
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

/** Every senders × window run against one fresh server of `kind`; figures by run label ("4 senders × 8 in flight"). */
async function runAll(ctx: Context, section: Section, kind: TargetKind, rows: Cell[][], runs: Record<string, unknown>[]): Promise<Map<string, RunFigures>> {
  const { senders, window, duration, contentLength } = ctx.opts;
  const figures = new Map<string, RunFigures>();
  const target = await startTarget(kind, ctx.opts.verbose);
  try {
    const maxK = Math.max(...senders);
    const room = await target.room(maxK, "tp");
    const content = "x".repeat(contentLength);
    for (const k of senders) {
      for (const w of window) {
        const run = `${k} senders × ${w} in flight`;
        const label = `${run}${suffix(kind)}`;
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
          const cost = kind === "product" ? costRow("throughput", run, before, after, r.acked, phase.cpu.runtime_io) : null;
          if (cost) section.costs.push(cost);
          const healthSummary = health.summary();
          const errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
          figures.set(run, { rate, latency, lost: lost + r.unanswered, health: healthSummary });
          rows.push([kind, k, w, Math.round(rate), r.acked, latency.p50, latency.p99, latency.max, lost, backwards, r.unanswered, errorCount, healthSummary.max, ...cpuCells(phase.cpu)]);
          runs.push({
            target: kind,
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
    }
  } finally {
    await target.stop();
  }
  return figures;
}

export async function throughput(ctx: Context): Promise<Section> {
  const { senders, window, duration, contentLength } = ctx.opts;
  const kinds = targetKinds(ctx.opts);
  const section = newSection("throughput", { senders, window, duration_s: duration, content_length: contentLength, targets: kinds });
  const rows: Cell[][] = [];
  const runs: Record<string, unknown>[] = [];
  const product = await runAll(ctx, section, "product", rows, runs);
  const probe = kinds.includes("probe") ? await runAll(ctx, section, "probe", rows, runs) : new Map<string, RunFigures>();

  section.tables.push({
    title: `Throughput: one conversation, K senders × W in flight for ${duration} s (ack latency ms; every socket gets every message.new)`,
    headers: ["target", "senders", "window", "acked/s", "acked", "p50", "p99", "max", "lost", "ooo", "unacked", "errors", "/health max", ...CPU_HEADERS],
    rows,
  });
  const comparisons: Comparison[] = [];
  if (kinds.includes("probe")) {
    for (const [run, p] of product) {
      const q = probe.get(run);
      comparisons.push(
        compare(run, "acked/s", p.rate, q?.rate),
        compare(run, "ack p50 ms", p.latency.p50, q?.latency.p50),
        compare(run, "ack p99 ms", p.latency.p99, q?.latency.p99),
        compare(run, "ack max ms", p.latency.max, q?.latency.max),
      );
    }
    section.tables.push(comparisonTable("Throughput, one conversation", comparisons));
    const run = `${TARGET_SENDERS} senders × ${TARGET_WINDOW} in flight`;
    const p = product.get(run);
    const q = probe.get(run);
    const r = ratio(p?.rate ?? NaN, q?.rate ?? NaN);
    section.targets.push({
      target: `one conversation, ${run}: product acked/s ≥ ${RATE_RATIO_TARGET} × the ceiling probe's`,
      measured: p && q ? `product ${Math.round(p.rate)} msg/s, probe ${Math.round(q.rate)} msg/s, ratio ${r}; product lost+unacked ${p.lost}` : `not measured (${!senders.includes(TARGET_SENDERS) || !window.includes(TARGET_WINDOW) ? `--senders/--window do not include ${TARGET_SENDERS} × ${TARGET_WINDOW}` : "a run failed"})`,
      met: r >= RATE_RATIO_TARGET && p?.lost === 0,
    });
  }
  let best = { rate: 0, lost: 0, label: "" };
  for (const [run, p] of product) if (p.rate > best.rate) best = { rate: p.rate, lost: p.lost, label: run };
  section.targets.push({
    target: "one conversation ≥ 5,000 acked msg/s with 0 lost",
    measured: `best ${Math.round(best.rate)} msg/s (${best.label}), lost+unacked ${best.lost}`,
    met: best.rate >= 5000 && best.lost === 0,
  });
  section.data.runs = runs;
  section.data.comparison = comparisons;
  return section;
}
