// 5. History: a conversation of H messages (filled over a socket, pipelined), then p50/p99 of a
// 50-message page at the start, the middle and the end over REST, next to two baselines that
// show what every request pays anyway: GET /health (HTTP through wrangler's proxy) and
// GET /conversations/{id} (authentication and the D1 participant lookup, no Durable Object).
import { Agent, request } from "node:http";
import { ChatSocket } from "../lib/client.ts";
import { tryStats } from "../lib/cost.ts";
import { pipeline } from "../lib/load.ts";
import { costRow, newSection, type Cell, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { directUrl, startBenchServer } from "../lib/server.ts";
import { roundSummary, Samples, type Summary } from "../lib/stats.ts";
import { log } from "../lib/util.ts";

/** One GET over a kept-alive connection; resolves with status and body. */
function get(agent: Agent, url: string, token: string | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 30_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

export async function history(ctx: Context): Promise<Section> {
  const { historySize: size, historyRequests: requests, fillWindow, contentLength } = ctx.opts;
  const section = newSection("history", { history_size: size, requests_per_position: requests, page: 50, fill_window: fillWindow, content_length: contentLength });
  const server = await startBenchServer({}, ctx.opts.verbose);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const [writer, reader] = await server.api.loginMany("hist", 2);
    const conversation = await server.api.createGroup(writer!, [reader!], "history");
    const content = "x".repeat(contentLength);

    log(`history: filling ${size} messages (${fillWindow} in flight)`);
    const socket = await ChatSocket.open(server.url, conversation, writer!.token);
    const before = await tryStats(server.api, server.admin, [conversation]);
    let nextReport = 10_000;
    const fillStart = performance.now();
    const fill = await measured(ctx, server, section, "fill", () =>
      pipeline([socket], {
        window: fillWindow,
        total: size,
        prefix: "h-",
        content,
        drainMs: 60_000,
        onAck: (n) => {
          if (n >= nextReport) {
            log(`history: ${n} / ${size} (${Math.round(n / ((performance.now() - fillStart) / 1000))}/s)`);
            nextReport += 10_000;
          }
        },
      }),
    );
    const fillSeconds = (performance.now() - fillStart) / 1000;
    await socket.close();
    const after = await tryStats(server.api, server.admin, [conversation], (err) => section.notes.push(`cost counters unavailable (${String(err)})`));
    section.costs.push(costRow("history", `fill ${size} (1 socket × ${fillWindow})`, before, after, fill.result.acked, fill.cpu.runtime_io));
    const filled = after?.last_seq ?? fill.result.acked;
    log(`history: filled ${filled} in ${fillSeconds.toFixed(1)} s`);

    const base = `${server.url}/api/v1`;
    const mid = Math.floor(filled / 2);
    const positions: { name: string; url: string; token: string | null; expect?: [number, number] }[] = [
      { name: "GET /health (baseline)", url: `${server.url}/health`, token: null },
      { name: "GET /conversations/{id} (baseline: auth + D1)", url: `${base}/conversations/${conversation}`, token: reader!.token },
      { name: "page at start (after_seq=0)", url: `${base}/conversations/${conversation}/messages?after_seq=0&limit=50`, token: reader!.token, expect: [1, 50] },
      { name: `page in middle (before_seq=${mid + 1})`, url: `${base}/conversations/${conversation}/messages?before_seq=${mid + 1}&limit=50`, token: reader!.token, expect: [mid - 49, mid] },
      { name: "page at end (newest)", url: `${base}/conversations/${conversation}/messages?limit=50`, token: reader!.token, expect: [filled - 49, filled] },
    ];
    const direct = await directUrl(server);
    if (direct) {
      positions.splice(1, 0, { name: "GET /health, direct to the runtime (no wrangler proxy)", url: `${direct}/health`, token: null });
      positions.push({ name: "page at end, direct to the runtime (no wrangler proxy)", url: `${direct}/api/v1/conversations/${conversation}/messages?limit=50`, token: reader!.token, expect: [filled - 49, filled] });
    } else section.notes.push("could not find the runtime's own entry socket: no direct rows");
    const rows: Cell[][] = [];
    const results: Record<string, unknown> = {};
    const pageP99: number[] = [];
    let wrong = 0;
    for (const position of positions) {
      for (let i = 0; i < 20; i++) await get(agent, position.url, position.token); // warm-up
      const samples = new Samples();
      let failures = 0;
      const phase = await measured(ctx, server, section, position.name, async () => {
        for (let i = 0; i < requests; i++) {
          const t = performance.now();
          const response = await get(agent, position.url, position.token);
          samples.push(performance.now() - t);
          if (response.status !== 200) failures++;
          else if (position.expect && i === 0) {
            const page = JSON.parse(response.body) as { messages: { seq: number }[] };
            const seqs = page.messages.map((m) => m.seq);
            if (seqs.length !== 50 || seqs[0] !== position.expect[0] || seqs[49] !== position.expect[1]) wrong++;
          }
        }
      });
      const s: Summary = samples.summary();
      if (position.expect && !position.name.includes("direct")) pageP99.push(s.p99);
      rows.push([position.name, s.p50, s.p95, s.p99, s.max, failures, ...cpuCells(phase.cpu)]);
      results[position.name] = { latency_ms: roundSummary(s), failures, cpu_cores: phase.cpu };
    }
    section.tables.push({
      title: `History: ${filled} messages filled in ${fillSeconds.toFixed(1)} s (${Math.round(filled / fillSeconds)} msg/s); ${requests} sequential requests per row, 50-message pages (ms)`,
      headers: ["request", "p50", "p95", "p99", "max", "failed", ...CPU_HEADERS],
      rows,
    });
    const worst = Math.max(...pageP99);
    section.targets.push({
      target: "history page (50) p99 ≤ 5 ms at any depth",
      measured: `worst p99 ${worst.toFixed(2)} ms (start/middle/end: ${pageP99.map((v) => v.toFixed(2)).join(" / ")})`,
      met: worst <= 5,
    });
    if (wrong > 0) section.notes.push(`${wrong} page(s) did not hold the expected seqs`);
    section.data = {
      ...section.data,
      filled,
      fill_seconds: fillSeconds,
      fill_per_s: filled / fillSeconds,
      fill_ack_latency_ms: roundSummary(fill.result.ackLatency.summary()),
      fill_errors: fill.result.errors,
      fill_cpu_cores: fill.cpu,
      requests: results,
      pages_with_wrong_seqs: wrong,
    };
  } finally {
    agent.destroy();
    await server.stop();
  }
  return section;
}
