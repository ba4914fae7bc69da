// 2. Throughput: one conversation, K senders each keeping W unacknowledged messages in flight for
// T seconds: acknowledged messages per second and ack latency. Every socket also receives every
// message.new, and checks it got them all, in order.
import { ChatSocket, closeAll } from "../lib/client.ts";
import { tryStats } from "../lib/cost.ts";
import { pipeline, SeqTracker } from "../lib/load.ts";
import { costRow, newSection, type Cell, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { startBenchServer } from "../lib/server.ts";
import { roundSummary } from "../lib/stats.ts";
import { Samples } from "../lib/stats.ts";
import { log, sleep } from "../lib/util.ts";

export async function throughput(ctx: Context): Promise<Section> {
  const { senders, window, duration, contentLength } = ctx.opts;
  const section = newSection("throughput", { senders, window, duration_s: duration, content_length: contentLength });
  const server = await startBenchServer({}, ctx.opts.verbose);
  try {
    const maxK = Math.max(...senders);
    const users = await server.api.loginMany("tp", maxK);
    const conversation = await server.api.createGroup(users[0]!, users.slice(1), "throughput");
    const content = "x".repeat(contentLength);
    const rows: Cell[][] = [];
    const runs: Record<string, unknown>[] = [];
    let best = { rate: 0, lost: 0, label: "" };
    for (const k of senders) {
      for (const w of window) {
        const label = `${k} senders × ${w} in flight`;
        const sockets = await Promise.all(users.slice(0, k).map((u) => ChatSocket.open(server.url, conversation, u.token)));
        try {
          // Warm-up (not measured).
          await pipeline(sockets, { window: w, seconds: 1, prefix: `w${k}x${w}-`, content });
          const trackers = sockets.map((s) => new SeqTracker().attach(s));
          const before = await tryStats(server.api, server.admin, [conversation]);
          log(`throughput: ${label} for ${duration} s`);
          // Alongside: GET /health once a second, to see whether the rest of the runtime still answers.
          const health = new Samples();
          let healthFailures = 0;
          let running = true;
          const prober = (async () => {
            while (running) {
              const t = performance.now();
              try {
                const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(duration * 1000 + 30_000) });
                await response.text();
                health.push(performance.now() - t);
              } catch {
                healthFailures++;
              }
              await sleep(1_000);
            }
          })();
          const phase = await measured(ctx, server, section, label, () => pipeline(sockets, { window: w, seconds: duration, prefix: `t${k}x${w}-`, content }));
          running = false;
          await prober;
          const after = await tryStats(server.api, server.admin, [conversation], (err) => section.notes.push(`${label}: cost counters unavailable (${String(err)})`));
          const r = phase.result;
          const finalSeq = Math.max(...trackers.map((t) => t.last));
          const lost = trackers.reduce((a, t) => a + t.lost(finalSeq), 0);
          const backwards = trackers.reduce((a, t) => a + t.backwards, 0);
          const rate = r.ackedInWindow / r.seconds;
          const latency = r.ackLatency.summary();
          const cost = costRow("throughput", label, before, after, r.acked, phase.cpu.runtime_io);
          const healthSummary = health.summary();
          section.costs.push(cost);
          const errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
          if (rate > best.rate) best = { rate, lost: lost + r.unanswered, label };
          rows.push([k, w, Math.round(rate), r.acked, latency.p50, latency.p99, latency.max, lost, backwards, r.unanswered, errorCount, healthSummary.max, ...cpuCells(phase.cpu)]);
          runs.push({
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
    section.tables.push({
      title: `Throughput: one conversation, K senders × W in flight for ${duration} s (ack latency ms; every socket gets every message.new)`,
      headers: ["senders", "window", "acked/s", "acked", "p50", "p99", "max", "lost", "ooo", "unacked", "errors", "/health max", ...CPU_HEADERS],
      rows,
    });
    section.targets.push({
      target: "one conversation ≥ 5,000 acked msg/s with 0 lost",
      measured: `best ${Math.round(best.rate)} msg/s (${best.label}), lost+unacked ${best.lost}`,
      met: best.rate >= 5000 && best.lost === 0,
    });
    section.data.runs = runs;
  } finally {
    await server.stop();
  }
  return section;
}
