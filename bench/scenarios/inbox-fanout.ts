// 11. Fan-out through inbox subscriptions (one socket per client): the `fanout` load (one sender,
// N listeners, the same rate) twice on one fresh server — first every listener on its own
// conversation socket, then every listener on its inbox socket (`GET /api/v1/ws`) subscribed to
// the conversation, where the frames go conversation object → each user's object → socket. Each
// phase has its own users and group, so the two differ only in the listeners' path. The product
// only: the ceiling probe has no inbox.
import { ChatSocket, inboxUrl, socketUrl } from "../lib/client.ts";
import { tryStats } from "../lib/cost.ts";
import { FanoutRun, runJson, runNotes, subscribedMessageNew, type FanoutFigures } from "../lib/fanout-run.ts";
import { costRow, newSection, type Cell, type Section } from "../lib/report.ts";
import { cpuCells, cpuOf, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { startBenchServer, type BenchServer } from "../lib/server.ts";
import { round } from "../lib/stats.ts";
import { log, mapLimit } from "../lib/util.ts";

/** the target: the subscription's p50 at most this much above the conversation socket's */
const P50_GAP_TARGET_MS = 2;

type Path = "conversation sockets" | "inbox subscriptions";

interface PhaseFigures {
  load: FanoutFigures;
  /** the runtime workerd's CPU over the phase (sends and drain) per acknowledged message, ms: what a message costs on each path */
  cpuMsPerMessage: number;
  /** the runtime's write system calls per acknowledged message (every object's SQLite commits, and its socket writes) */
  writesPerMessage: number;
}

/** One phase: a fresh group of a sender and `n` listeners, listening on `path`. */
async function phase(ctx: Context, section: Section, server: BenchServer, path: Path, n: number, rows: Cell[][], runs: Record<string, unknown>[]): Promise<PhaseFigures> {
  const { rate, duration, contentLength } = ctx.opts;
  const name = path === "conversation sockets" ? "ibx-conv" : "ibx-sub";
  const users = await server.api.loginMany(name, n + 1);
  const id = await server.api.createGroup(users[0]!, users.slice(1), name);
  const inbox = path === "inbox subscriptions";
  const listeners = await mapLimit(users.slice(1), 20, async (u) => {
    if (!inbox) return ChatSocket.connect(socketUrl(server.url, id, u.token));
    const socket = await ChatSocket.connect(inboxUrl(server.url, u.token));
    await socket.subscribe(id);
    return socket;
  });
  const sender = await ChatSocket.connect(socketUrl(server.url, id, users[0]!.token));
  try {
    const load = new FanoutRun(sender, listeners, `${name}-`, "x".repeat(contentLength), rate, duration, inbox ? subscribedMessageNew(id) : undefined);
    await load.warmUp();
    const before = await tryStats(server.api, server.admin, [id]);
    log(`inbox-fanout: ${n} listeners on ${path}, ${rate} msg/s for ${duration} s`);
    const measuredPhase = await measured(ctx, server, section, path, () => load.run(rate));
    const f = load.figures();
    const after = f.drained ? await tryStats(server.api, server.admin, [id], (err) => section.notes.push(`${path}: cost counters unavailable (${String(err)})`)) : null;
    section.notes.push(...runNotes(path, f));
    const cost = costRow("inbox-fanout", path, before, after, f.acked);
    section.costs.push(cost);
    const cpu = measuredPhase.cpu;
    const cpuMsPerMessage = round((cpuOf(cpu, "runtime") * cpu.wall_s * 1000) / f.acked, 2);
    const writesPerMessage = round(cpu.runtime_io.write_syscalls / f.acked, 1);
    rows.push([path, n, round(f.achievedRate, 1), f.sent, f.acked, f.latency.p50, f.latency.p95, f.latency.p99, f.latency.max, f.worstP99, f.ack.p99, f.missing, f.outOfOrder + f.duplicates, f.drained, cpuMsPerMessage, writesPerMessage, ...cpuCells(cpu)]);
    runs.push({ path, ...runJson(f), runtime_cpu_ms_per_message: cpuMsPerMessage, runtime_write_calls_per_message: writesPerMessage, cost, cpu_cores: cpu, client_loop_lag_ms: measuredPhase.loopLag });
    return { load: f, cpuMsPerMessage, writesPerMessage };
  } finally {
    for (const s of [...listeners, sender]) s.terminate();
  }
}

export async function inboxFanout(ctx: Context): Promise<Section> {
  const { rate, duration, contentLength, inboxListeners: n } = ctx.opts;
  const section = newSection("inbox-fanout", { listeners: n, rate_per_s: rate, duration_s: duration, content_length: contentLength });
  const rows: Cell[][] = [];
  const runs: Record<string, unknown>[] = [];
  const server = await startBenchServer({}, ctx.opts.verbose);
  let conv: PhaseFigures;
  let sub: PhaseFigures;
  try {
    conv = await phase(ctx, section, server, "conversation sockets", n, rows, runs);
    sub = await phase(ctx, section, server, "inbox subscriptions", n, rows, runs);
  } finally {
    await server.stop();
  }
  const gap = sub.load.latency.p50 - conv.load.latency.p50;
  section.tables.push({
    title: `Fan-out through inbox subscriptions: 1 sender → ${n} listeners at ${rate} msg/s for up to ${duration} s, one server, the listeners on conversation sockets then on inbox sockets subscribed to the conversation (send→receive latency, ms)`,
    headers: ["listeners on", "listeners", "msg/s sent", "sent", "acked", "p50", "p95", "p99", "max", "worst p99", "ack p99", "missing", "ooo+dup", "drained", "wkr CPU ms/msg", "write calls/msg", ...CPU_HEADERS],
    rows,
  });
  section.tables.push({
    title: "Inbox subscription vs conversation socket, same run (difference = subscription − conversation socket; CPU and writes of the runtime workerd over each phase, sends and drain, per acknowledged message)",
    headers: ["figure", "conversation socket", "inbox subscription", "difference"],
    rows: [
      ...(["p50", "p95", "p99"] as const).map((p): Cell[] => [`latency ${p} ms`, conv.load.latency[p], sub.load.latency[p], round(sub.load.latency[p] - conv.load.latency[p], 2)]),
      ["runtime CPU ms per message", conv.cpuMsPerMessage, sub.cpuMsPerMessage, round(sub.cpuMsPerMessage - conv.cpuMsPerMessage, 2)],
      ["runtime write calls per message", conv.writesPerMessage, sub.writesPerMessage, round(sub.writesPerMessage - conv.writesPerMessage, 1)],
    ],
  });
  section.targets.push({
    target: `fan-out to ${n} listeners at ${rate} msg/s through inbox subscriptions: p50 within ${P50_GAP_TARGET_MS} ms of the conversation sockets' p50 (and none lost)`,
    measured: `p50 ${conv.load.latency.p50.toFixed(2)} → ${sub.load.latency.p50.toFixed(2)} ms (${gap >= 0 ? "+" : ""}${gap.toFixed(2)} ms); p99 ${conv.load.latency.p99.toFixed(2)} → ${sub.load.latency.p99.toFixed(2)} ms${sub.load.clean ? "" : "; subscriptions not clean"}`,
    met: gap <= P50_GAP_TARGET_MS && sub.load.clean && conv.load.clean,
  });
  section.data.runs = runs;
  section.data.p50_difference_ms = round(gap, 3);
  return section;
}
