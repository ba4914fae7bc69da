// 3. Many conversations at once: for each load of --many-loads (default 50x2,200x1), C direct
// conversations of two users, each user with a socket, each user sending R messages a second on
// a fixed schedule (open loop: the rate does not slow down when the server does). Every message
// is timed from its send to the moment the *other* user's socket receives its message.new, and
// must arrive once. The product runs every load on one fresh server, then the ceiling probe
// (bench/probe, unless --no-probe) runs the same loads with the same code on another, so the
// latencies are also printed as ratios to the probe's.
//
// On the product, the issue's heavy load (200x1, or without it the load with the highest rate)
// also gives:
// - D1 requests per message: the mirror queue consumer's batches (GET /api/v1/admin/mirror) plus
//   the conversation objects' own D1 requests (d1_flushes of GET …/stats, summed over the load's
//   conversations), deltas over the measured phase, divided by the messages sent;
// - list freshness: a second phase at the same load during which the recipients of
//   --freshness-sample conversations poll GET /api/v1/conversations every --freshness-poll-ms
//   until the message just acknowledged in their conversation shows as last_message (or a later
//   one does): ack → seen, at most FRESHNESS_TIMEOUT_MS per message. A separate phase, so the
//   polling does not load the phase whose latency is compared with the probe's.
import type { User } from "../lib/api.ts";
import { Api } from "../lib/api.ts";
import { ChatSocket, closeAll, type Frame, type WireMessage } from "../lib/client.ts";
import type { ManyLoad } from "../lib/options.ts";
import { ioOf } from "../lib/proc.ts";
import { compare, comparisonTable, costRow, newSection, ratio, type Cell, type Comparison, type CostRow, type Counters, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { round, roundSummary, Samples, type Summary } from "../lib/stats.ts";
import { rooms as setUpRooms, startTarget, suffix, targetKinds, type Room, type Target, type TargetKind } from "../lib/target.ts";
import { log, mapLimit, sleep, until } from "../lib/util.ts";

/** the issue's loads: delivery p99 ≤ P99_RATIO_TARGET × the probe's for each */
const ISSUE_LOADS: ManyLoad[] = [
  { conversations: 50, perUser: 2 },
  { conversations: 200, perUser: 1 },
];
/** the issue's heavy load: none lost, D1 requests per message, list freshness */
const HEAVY_LOAD: ManyLoad = { conversations: 200, perUser: 1 };
const P99_RATIO_TARGET = 2;
const D1_PER_MESSAGE_TARGET = 0.05;
const FRESHNESS_P99_TARGET_MS = 1_000;
/** a message not in the recipient's list this long after its ack counts as a timeout (sample = the time waited) */
const FRESHNESS_TIMEOUT_MS = 5_000;
/** the sender stops once the oldest unacknowledged send is this old */
const LAG_LIMIT_MS = 5_000;
/** after the last send, wait at most this long for every ack and delivery */
const DRAIN_MS = 20_000;

const sameLoad = (a: ManyLoad, b: ManyLoad) => a.conversations === b.conversations && a.perUser === b.perUser;
const loadName = (l: ManyLoad) => `${l.conversations}x${l.perUser}`;
const loadLabel = (l: ManyLoad) => `${l.conversations} conv × 2 users, ${l.perUser} msg/s/user`;
const totalRate = (l: ManyLoad) => l.conversations * 2 * l.perUser;

/** The load D1 per message and freshness are measured on: the issue's heavy load, else the highest rate (the last of equals). */
export function heavyLoad(loads: ManyLoad[]): ManyLoad | null {
  const issue = loads.find((l) => sameLoad(l, HEAVY_LOAD));
  if (issue) return issue;
  let best: ManyLoad | null = null;
  for (const l of loads) if (!best || totalRate(l) >= totalRate(best)) best = l;
  return best;
}

/** One load's traffic in one phase; messages are numbered 0.. in send order, client_id = prefix + number. */
interface Phase {
  prefix: string;
  total: number;
  sent: number;
  sendFailures: number;
  sendAt: Float64Array;
  /** the side (socket index) that sent each message */
  sender: Int32Array;
  acked: Uint8Array;
  ackCount: number;
  oldestUnacked: number;
  delivered: Uint8Array;
  deliveredCount: number;
  deliveredInWindow: number;
  duplicates: number;
  outOfOrder: number;
  latency: Samples;
  ackLatency: Samples;
  errors: Record<string, number>;
  /** when the schedule ends (performance.now()) */
  end: number;
}

interface PhaseFigures {
  planned: number;
  sent: number;
  acked: number;
  delivered: number;
  lost: number;
  outOfOrder: number;
  duplicates: number;
  sendFailures: number;
  drained: boolean;
  stoppedEarlyAt: number | null;
  sendSeconds: number;
  sentPerS: number;
  deliveredPerS: number;
  latency: Summary;
  ack: Summary;
  errors: Record<string, number>;
}

/** One load's conversations and sockets on one target: side 2c+j is user j of conversation c. */
interface Setup {
  load: ManyLoad;
  rooms: Room[];
  sockets: ChatSocket[];
  phase: Phase | null;
  /** per conversation, the newest acknowledged message: seq, id, ack time, sending side */
  lastAckSeq: Float64Array;
  lastAckAt: Float64Array;
  lastAckSide: Int32Array;
  lastAckId: string[];
}

function newPhase(prefix: string, total: number, seconds: number): Phase {
  return {
    prefix,
    total,
    sent: 0,
    sendFailures: 0,
    sendAt: new Float64Array(total),
    sender: new Int32Array(total),
    acked: new Uint8Array(total),
    ackCount: 0,
    oldestUnacked: 0,
    delivered: new Uint8Array(total),
    deliveredCount: 0,
    deliveredInWindow: 0,
    duplicates: 0,
    outOfOrder: 0,
    latency: new Samples(),
    ackLatency: new Samples(),
    errors: {},
    end: performance.now() + seconds * 1000,
  };
}

function indexOf(p: Phase, clientId: unknown): number {
  if (typeof clientId !== "string" || !clientId.startsWith(p.prefix)) return -1;
  const i = Number(clientId.slice(p.prefix.length));
  return Number.isInteger(i) && i >= 0 && i < p.sent ? i : -1;
}

async function setUp(target: Target, load: ManyLoad, name: string): Promise<Setup> {
  const c = load.conversations;
  log(`many (${target.kind}): ${c} conversations, ${c * 2} users`);
  const rooms = await setUpRooms(target, c, 2, `${name}-c`, { direct: true });
  const urls = rooms.flatMap((r) => r.urls);
  const sockets = await mapLimit(urls, 20, (url) => ChatSocket.connect(url));
  const s: Setup = {
    load,
    rooms,
    sockets,
    phase: null,
    lastAckSeq: new Float64Array(c),
    lastAckAt: new Float64Array(c),
    lastAckSide: new Int32Array(c),
    lastAckId: new Array<string>(c).fill(""),
  };
  const lastSeq = new Float64Array(sockets.length);
  sockets.forEach((socket, side) => {
    const conversation = side >> 1;
    socket.on((frame: Frame, at: number) => {
      const p = s.phase;
      if (frame.type === "message.new") {
        const m = frame.message as WireMessage;
        if (m.seq <= lastSeq[side]!) {
          if (p) p.outOfOrder++;
        } else lastSeq[side] = m.seq;
        if (!p) return;
        const i = indexOf(p, m.client_id);
        if (i === -1 || p.sender[i] === side) return; // not this phase's, or the sender's own copy
        if (p.delivered[i]) {
          p.duplicates++;
          return;
        }
        p.delivered[i] = 1;
        p.deliveredCount++;
        if (at <= p.end) p.deliveredInWindow++;
        p.latency.push(at - p.sendAt[i]!);
      } else if (frame.type === "message.ack") {
        const m = frame.message as WireMessage | undefined;
        if (m && m.seq > s.lastAckSeq[conversation]!) {
          s.lastAckSeq[conversation] = m.seq;
          s.lastAckAt[conversation] = at;
          s.lastAckSide[conversation] = side;
          s.lastAckId[conversation] = m.id;
        }
        if (!p) return;
        const i = indexOf(p, frame.client_id);
        if (i === -1 || p.acked[i]) return;
        p.acked[i] = 1;
        p.ackCount++;
        p.ackLatency.push(at - p.sendAt[i]!);
        while (p.oldestUnacked < p.sent && p.acked[p.oldestUnacked]) p.oldestUnacked++;
      } else if (frame.type === "error" && p) {
        p.errors[String(frame.code)] = (p.errors[String(frame.code)] ?? 0) + 1;
      }
    });
  });
  return s;
}

/**
 * Sends the load for `seconds`: message k leaves at start + k / (total rate) from side order[k mod
 * sides], where order lists every conversation's first user, then every second user — so each
 * user sends exactly perUser a second and the two users of a conversation half a period apart.
 * Stops early when the server is LAG_LIMIT_MS behind; then waits at most DRAIN_MS for the rest.
 */
async function drive(s: Setup, prefix: string, seconds: number, content: string, during?: (p: Phase) => Promise<unknown>): Promise<PhaseFigures> {
  const sides = s.sockets.length;
  const rate = sides * s.load.perUser;
  const total = Math.max(1, Math.round(rate * seconds));
  const order = [...Array.from({ length: sides / 2 }, (_, c) => 2 * c), ...Array.from({ length: sides / 2 }, (_, c) => 2 * c + 1)];
  const p = newPhase(prefix, total, seconds);
  s.phase = p;
  let stoppedEarlyAt: number | null = null;
  const start = performance.now();
  const alongside = during ? during(p) : Promise.resolve();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (p.oldestUnacked < p.sent && now - p.sendAt[p.oldestUnacked]! > LAG_LIMIT_MS) {
        stoppedEarlyAt = (now - start) / 1000;
        return resolve();
      }
      const due = Math.min(total, Math.floor(((now - start) / 1000) * rate) + 1);
      while (p.sent < due) {
        const i = p.sent;
        const side = order[i % sides]!;
        p.sender[i] = side;
        p.sendAt[i] = performance.now();
        p.sent++;
        if (!s.sockets[side]!.send(`{"type":"message.send","client_id":"${prefix}${i}","content":"${content}"}`)) p.sendFailures++;
      }
      if (p.sent >= total) return resolve();
      setTimeout(tick, Math.max(0, start + (p.sent / rate) * 1000 - performance.now()));
    };
    tick();
  });
  const sendSeconds = (performance.now() - start) / 1000;
  p.end = Math.min(p.end, performance.now());
  const drained = await until(() => p.ackCount === p.sent && p.deliveredCount === p.sent, DRAIN_MS, 10);
  await alongside;
  s.phase = null;
  return {
    planned: total,
    sent: p.sent,
    acked: p.ackCount,
    delivered: p.deliveredCount,
    lost: p.sent - p.deliveredCount,
    outOfOrder: p.outOfOrder,
    duplicates: p.duplicates,
    sendFailures: p.sendFailures,
    drained,
    stoppedEarlyAt,
    sendSeconds,
    sentPerS: p.sent / sendSeconds,
    deliveredPerS: p.deliveredInWindow / sendSeconds,
    latency: p.latency.summary(),
    ack: p.ackLatency.summary(),
    errors: p.errors,
  };
}

interface Freshness {
  /** ack → the answer of the recipient's list that showed it (or a later message) as last_message, ms; a timeout counts as FRESHNESS_TIMEOUT_MS */
  samples: Samples;
  /** for the checks that saw it: ack → the start of the request whose answer showed it, ms */
  requestStarted: Samples;
  /** checks not seen within FRESHNESS_TIMEOUT_MS of the ack (a request still out then is abandoned) */
  timeouts: number;
  /** checks that ended on the message itself, and on a later one */
  exact: number;
  superseded: number;
  polls: number;
  /** requests that failed (HTTP error, or abandoned at the check's deadline) */
  pollErrors: number;
  /** how long one GET /api/v1/conversations took (abandoned ones: until abandoned) */
  pollLatency: Samples;
}

/**
 * While the phase sends: per sampled conversation, wait for the next ack in it, then poll the
 * recipient's list every pollMs until it shows that seq (or a later one) as last_message, giving
 * up FRESHNESS_TIMEOUT_MS after the ack (a request still out then is abandoned); again until the
 * schedule ends. Bounded: at most 10,000 checks per conversation, each at most
 * FRESHNESS_TIMEOUT_MS / pollMs + 2 requests.
 */
async function pollFreshness(s: Setup, p: Phase, api: Api, sample: number, pollMs: number): Promise<Freshness> {
  const f: Freshness = { samples: new Samples(), requestStarted: new Samples(), timeouts: 0, exact: 0, superseded: 0, polls: 0, pollErrors: 0, pollLatency: new Samples() };
  const count = Math.min(sample, s.rooms.length);
  const picked = Array.from({ length: count }, (_, k) => Math.floor((k * s.rooms.length) / count));
  const maxPolls = Math.ceil(FRESHNESS_TIMEOUT_MS / pollMs) + 2;
  await Promise.all(
    picked.map(async (c) => {
      const room = s.rooms[c]!;
      for (let checks = 0; checks < 10_000 && performance.now() < p.end; checks++) {
        const readyAt = performance.now();
        const acked = await until(() => s.lastAckAt[c]! >= readyAt, Math.max(0, p.end - readyAt), 5);
        if (!acked) return;
        const seq = s.lastAckSeq[c]!;
        const ackAt = s.lastAckAt[c]!;
        const id = s.lastAckId[c]!;
        const deadline = ackAt + FRESHNESS_TIMEOUT_MS;
        const recipient: User | undefined = room.users?.[(s.lastAckSide[c]! & 1) ^ 1];
        if (!recipient) return;
        let seen = false;
        for (let n = 0; n < maxPolls && performance.now() < deadline; n++) {
          const t = performance.now();
          let shown: { id: string; seq: number } | null = null;
          try {
            const list = await api.conversations(recipient, 20, Math.max(1, deadline - t));
            shown = list.conversations.find((x) => x.id === room.id)?.last_message ?? null;
          } catch {
            f.pollErrors++;
          }
          const at = performance.now();
          f.polls++;
          f.pollLatency.push(at - t);
          if (shown && shown.seq >= seq) {
            f.samples.push(Math.min(at - ackAt, FRESHNESS_TIMEOUT_MS));
            f.requestStarted.push(t - ackAt);
            if (shown.id === id) f.exact++;
            else f.superseded++;
            seen = true;
            break;
          }
          await sleep(Math.max(0, Math.min(t + pollMs, deadline) - performance.now()));
        }
        if (!seen) {
          f.samples.push(FRESHNESS_TIMEOUT_MS);
          f.timeouts++;
        }
      }
    }),
  );
  return f;
}

interface LoadResult {
  load: ManyLoad;
  main: PhaseFigures;
  cost: CostRow | null;
  d1: D1PerMessage | null;
  freshness: Freshness | null;
}

interface D1PerMessage {
  messages: number;
  consumer_batches: number;
  object_d1_requests: number;
  d1_requests: number;
  per_message: number;
  queue_sends: number;
  queue_messages_consumed: number;
  consumer_statements: number;
  counters_reliable: boolean;
}

function d1PerMessage(before: Counters, after: Counters, messages: number, reliable: boolean): D1PerMessage {
  const batches = after.mirror_batches - before.mirror_batches;
  const direct = after.d1_flushes - before.d1_flushes;
  return {
    messages,
    consumer_batches: batches,
    object_d1_requests: direct,
    d1_requests: batches + direct,
    per_message: messages > 0 ? round((batches + direct) / messages, 4) : NaN,
    queue_sends: after.queue_sends - before.queue_sends,
    queue_messages_consumed: after.mirror_messages - before.mirror_messages,
    consumer_statements: after.mirror_statements - before.mirror_statements,
    counters_reliable: reliable,
  };
}

function phaseRow(kind: TargetKind, load: ManyLoad, phase: string, f: PhaseFigures, cpu: Cell[]): Cell[] {
  return [kind, loadLabel(load), phase, totalRate(load), round(f.sentPerS, 1), f.sent, f.acked, f.delivered, f.latency.p50, f.latency.p95, f.latency.p99, f.latency.max, f.ack.p99, f.lost, f.outOfOrder + f.duplicates, f.drained, ...cpu];
}

function phaseJson(f: PhaseFigures): Record<string, unknown> {
  return {
    planned: f.planned,
    sent: f.sent,
    acked: f.acked,
    delivered: f.delivered,
    lost: f.lost,
    out_of_order: f.outOfOrder,
    duplicates: f.duplicates,
    send_failures: f.sendFailures,
    drained: f.drained,
    sender_stopped_early_at_s: f.stoppedEarlyAt,
    send_seconds: round(f.sendSeconds, 3),
    sent_per_s: round(f.sentPerS, 1),
    delivered_per_s: round(f.deliveredPerS, 1),
    latency_ms: roundSummary(f.latency),
    ack_latency_ms: roundSummary(f.ack),
    errors: f.errors,
  };
}

function noteIncomplete(section: Section, label: string, f: PhaseFigures): void {
  if (f.stoppedEarlyAt !== null) section.notes.push(`${label}: the senders stopped after ${round(f.stoppedEarlyAt, 1)} s (${f.sent} of ${f.planned} sent): the server was more than ${LAG_LIMIT_MS / 1000} s behind`);
  if (!f.drained) section.notes.push(`${label}: ${DRAIN_MS / 1000} s after the last send, acked ${f.acked}/${f.sent}, delivered ${f.delivered}/${f.sent}: the rest counts as lost (the server was stopped with its backlog)`);
  if (f.sendFailures > 0) section.notes.push(`${label}: ${f.sendFailures} sends found their socket closed`);
}

/** Every load on one fresh server of `kind`; results by load name. */
async function runAll(ctx: Context, section: Section, kind: TargetKind, rows: Cell[][], runs: Record<string, unknown>[]): Promise<Map<string, LoadResult>> {
  const { manyLoads, duration, contentLength, freshnessSample, freshnessPollMs } = ctx.opts;
  const heavy = heavyLoad(manyLoads);
  const content = "x".repeat(contentLength);
  const results = new Map<string, LoadResult>();
  const target = await startTarget(kind, ctx.opts.verbose);
  try {
    for (const [n, load] of manyLoads.entries()) {
      const label = `${loadLabel(load)}${suffix(kind)}`;
      let setup: Setup | null = null;
      try {
        setup = await setUp(target, load, `m${n}`);
        // Warm-up (not measured): one message from every user within a second, every object awake.
        const warm = await drive(setup, `w${n}-`, 1 / load.perUser, content);
        if (!warm.drained) section.notes.push(`${label}: the warm-up did not drain (${warm.delivered}/${warm.sent} delivered)`);
        const ids = setup.rooms.map((r) => r.id);
        const before = await target.stats(ids);
        log(`many (${kind}): ${loadLabel(load)} = ${totalRate(load)} msg/s for ${duration} s`);
        const io0 = ioOf(target.server.processes.runtime);
        const s = setup;
        const phase = await measured(ctx, target.server, section, label, () => drive(s, `m${n}-`, duration, content));
        const io1 = ioOf(target.server.processes.runtime);
        const main = phase.result;
        noteIncomplete(section, label, main);
        const after = main.drained ? await target.stats(ids, (err) => section.notes.push(`${label}: cost counters unavailable (${String(err)})`)) : null;
        const io = { write_bytes: io1.write_bytes - io0.write_bytes, write_syscalls: io1.write_syscalls - io0.write_syscalls };
        const cost = kind === "product" ? costRow("many", loadLabel(load), before, after, main.acked, io) : null;
        if (cost) section.costs.push(cost);
        const d1 = kind === "product" && before && after ? d1PerMessage(before, after, main.sent, cost?.reliable ?? false) : null;
        rows.push(phaseRow(kind, load, "measured", main, cpuCells(phase.cpu)));
        const run: Record<string, unknown> = {
          target: kind,
          load: loadName(load),
          conversations: load.conversations,
          users: load.conversations * 2,
          per_user_per_s: load.perUser,
          planned_per_s: totalRate(load),
          warm_up: phaseJson(warm),
          measured: phaseJson(main),
          cost,
          d1_per_message: d1,
          runtime_disk: { ...io, kib_per_message: main.acked > 0 ? round(io.write_bytes / 1024 / main.acked, 2) : null },
          cpu_cores: phase.cpu,
          client_loop_lag_ms: phase.loopLag,
        };
        let freshness: Freshness | null = null;
        if (kind === "product" && load === heavy && setup.rooms[0]?.users) {
          // Freshness: the same load again, with sampled recipients polling their lists.
          log(`many (${kind}): list freshness, ${Math.min(freshnessSample, load.conversations)} recipients polling every ${freshnessPollMs} ms for ${duration} s`);
          const polling: { result: Freshness | null } = { result: null };
          const fresh = await measured(ctx, target.server, section, `${label} + list polling`, () =>
            drive(s, `f${n}-`, duration, content, async (p) => {
              polling.result = await pollFreshness(s, p, new Api(target.url), freshnessSample, freshnessPollMs);
            }),
          );
          freshness = polling.result;
          noteIncomplete(section, `${label} + list polling`, fresh.result);
          rows.push(phaseRow(kind, load, "+ list polling", fresh.result, cpuCells(fresh.cpu)));
          run.with_list_polling = { ...phaseJson(fresh.result), cpu_cores: fresh.cpu, client_loop_lag_ms: fresh.loopLag };
          const fr = polling.result;
          if (fr) {
            run.freshness = {
              sampled_conversations: Math.min(freshnessSample, load.conversations),
              poll_every_ms: freshnessPollMs,
              timeout_ms: FRESHNESS_TIMEOUT_MS,
              ack_to_list_ms: roundSummary(fr.samples.summary()),
              ack_to_start_of_the_request_that_showed_it_ms: roundSummary(fr.requestStarted.summary()),
              timeouts: fr.timeouts,
              shown_exactly: fr.exact,
              shown_superseded_by_a_later_message: fr.superseded,
              polls: fr.polls,
              poll_errors: fr.pollErrors,
              poll_request_ms: roundSummary(fr.pollLatency.summary()),
            };
          }
        }
        runs.push(run);
        results.set(loadName(load), { load, main, cost, d1, freshness });
      } catch (err) {
        section.notes.push(`${label}: run failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        if (setup) await closeAll(setup.sockets);
      }
    }
  } finally {
    await target.stop();
  }
  return results;
}

export async function many(ctx: Context): Promise<Section> {
  const { manyLoads, duration, contentLength, freshnessSample, freshnessPollMs } = ctx.opts;
  const kinds = targetKinds(ctx.opts);
  const heavy = heavyLoad(manyLoads);
  const section = newSection("many", {
    loads: manyLoads.map(loadName),
    users_per_conversation: 2,
    duration_s: duration,
    content_length: contentLength,
    heavy_load: heavy ? loadName(heavy) : null,
    freshness_sample: freshnessSample,
    freshness_poll_ms: freshnessPollMs,
    freshness_timeout_ms: FRESHNESS_TIMEOUT_MS,
    lag_limit_ms: LAG_LIMIT_MS,
    drain_ms: DRAIN_MS,
    targets: kinds,
  });
  const rows: Cell[][] = [];
  const runs: Record<string, unknown>[] = [];
  const product = await runAll(ctx, section, "product", rows, runs);
  const probe = kinds.includes("probe") ? await runAll(ctx, section, "probe", rows, runs) : new Map<string, LoadResult>();

  const comparisons: Comparison[] = [];
  for (const load of manyLoads) {
    const a = product.get(loadName(load))?.main;
    const b = probe.get(loadName(load))?.main;
    if (!kinds.includes("probe")) continue;
    const run = loadLabel(load);
    comparisons.push(
      compare(run, "latency p50 ms", a?.latency.p50, b?.latency.p50),
      compare(run, "latency p95 ms", a?.latency.p95, b?.latency.p95),
      compare(run, "latency p99 ms", a?.latency.p99, b?.latency.p99),
      compare(run, "latency max ms", a?.latency.max, b?.latency.max),
      compare(run, "ack p99 ms", a?.ack.p99, b?.ack.p99),
      compare(run, "msg/s delivered", a?.deliveredPerS, b?.deliveredPerS),
    );
  }

  // Targets (issue 10).
  const clean = (f: PhaseFigures | undefined) => !!f && f.drained && f.lost === 0 && f.outOfOrder === 0 && f.duplicates === 0 && f.acked === f.sent && f.stoppedEarlyAt === null;
  for (const want of ISSUE_LOADS) {
    const name = `${loadLabel(want)} (${totalRate(want)} msg/s): delivery p99 ≤ ${P99_RATIO_TARGET} × the ceiling probe's`;
    if (!manyLoads.some((l) => sameLoad(l, want))) {
      section.targets.push({ target: name, measured: `not run (--many-loads has no ${loadName(want)})`, met: false });
      continue;
    }
    if (!kinds.includes("probe")) {
      section.targets.push({ target: name, measured: "not measured (--no-probe)", met: false });
      continue;
    }
    const a = product.get(loadName(want))?.main;
    const b = probe.get(loadName(want))?.main;
    const r = ratio(a?.latency.p99 ?? NaN, b?.latency.p99 ?? NaN);
    section.targets.push({
      target: name,
      measured: a && b ? `product ${a.latency.p99.toFixed(2)} ms, probe ${b.latency.p99.toFixed(2)} ms, ratio ${r}${clean(a) ? "" : " (product not clean)"}${clean(b) ? "" : " (probe not clean)"}` : `not measured (${a ? "probe" : "product"} run failed)`,
      met: r <= P99_RATIO_TARGET && clean(a),
    });
  }
  if (heavy) {
    const h = product.get(loadName(heavy));
    const isIssue = sameLoad(heavy, HEAVY_LOAD);
    const tail = isIssue ? "" : ` (the issue's load is ${loadName(HEAVY_LOAD)}: not met by a different one)`;
    const f = h?.main;
    section.targets.push({
      target: `${loadLabel(heavy)}: none lost`,
      measured: f ? `sent ${f.sent}, acked ${f.acked}, delivered ${f.delivered}, lost ${f.lost}, out of order ${f.outOfOrder}, duplicates ${f.duplicates}${f.drained ? "" : " (not drained)"}${tail}` : `not measured (run failed)${tail}`,
      met: isIssue && clean(f),
    });
    const d1 = h?.d1;
    section.targets.push({
      target: `${loadLabel(heavy)}: D1 requests per message ≤ ${D1_PER_MESSAGE_TARGET} (consumer batches + objects' D1 requests) / messages sent`,
      measured: d1
        ? `(${d1.consumer_batches} batches + ${d1.object_d1_requests} direct) / ${d1.messages} = ${d1.per_message}${d1.counters_reliable ? "" : " (counters not reliable)"}${tail}`
        : `not measured (counters unavailable)${tail}`,
      met: isIssue && !!d1 && d1.counters_reliable && d1.per_message <= D1_PER_MESSAGE_TARGET,
    });
    const fr = h?.freshness;
    const fs = fr?.samples.summary();
    section.targets.push({
      target: `${loadLabel(heavy)}: list freshness p99 ≤ ${FRESHNESS_P99_TARGET_MS} ms (ack → last_message in the recipient's GET /api/v1/conversations)`,
      measured: fr && fs && fs.count > 0 ? `p99 ${fs.p99.toFixed(0)} ms (p50 ${fs.p50.toFixed(0)}, max ${fs.max.toFixed(0)}) over ${fs.count} messages, ${fr.timeouts} timed out${tail}` : `not measured${tail}`,
      met: isIssue && !!fs && fs.count > 0 && fs.p99 <= FRESHNESS_P99_TARGET_MS,
    });
  }

  section.tables.push({
    title: `Many conversations: C direct conversations × 2 users, each user sending R msg/s for ${duration} s (send → the other user's socket, ms; lost = not delivered by the cut-off)`,
    headers: ["target", "load", "phase", "msg/s planned", "msg/s sent", "sent", "acked", "delivered", "p50", "p95", "p99", "max", "ack p99", "lost", "ooo+dup", "drained", ...CPU_HEADERS],
    rows,
  });
  if (comparisons.length > 0) section.tables.push(comparisonTable("Many conversations", comparisons));
  const d1Rows: Cell[][] = [];
  for (const load of manyLoads) {
    const d1 = product.get(loadName(load))?.d1;
    if (d1) d1Rows.push([loadLabel(load), d1.messages, d1.consumer_batches, d1.object_d1_requests, d1.d1_requests, d1.per_message, d1.queue_sends, d1.queue_messages_consumed, d1.consumer_statements, d1.counters_reliable]);
  }
  if (d1Rows.length > 0) {
    section.tables.push({
      title: "Many conversations, product: D1 requests per message over the measured phase (consumer batches = GET /api/v1/admin/mirror delta; direct = the conversation objects' d1_flushes deltas, summed)",
      headers: ["load", "messages", "consumer batches", "direct", "D1 requests", "per message", "queue sends", "queue msgs consumed", "consumer stmts", "counters ok"],
      rows: d1Rows,
    });
  }
  const freshRows: Cell[][] = [];
  for (const load of manyLoads) {
    const fr = product.get(loadName(load))?.freshness;
    if (!fr) continue;
    const s = fr.samples.summary();
    const q = fr.pollLatency.summary();
    freshRows.push([loadLabel(load), Math.min(freshnessSample, load.conversations), freshnessPollMs, s.count, s.p50, s.p95, s.p99, s.max, fr.timeouts, fr.superseded, fr.requestStarted.summary().p50, fr.polls, fr.pollErrors, q.p50, q.p99]);
  }
  if (freshRows.length > 0) {
    section.tables.push({
      title: `Many conversations, product: list freshness — message acked → the answer of the recipient's GET /api/v1/conversations that shows it (or a later one) as last_message, ms (includes up to one poll interval and the request; a check gives up ${FRESHNESS_TIMEOUT_MS / 1000} s after the ack and counts as ${FRESHNESS_TIMEOUT_MS / 1000} s; req p50 = ack → start of the request that showed it)`,
      headers: ["load", "convs polled", "poll ms", "messages", "p50", "p95", "p99", "max", "timeouts", "superseded", "req p50", "polls", "poll errors", "GET p50", "GET p99"],
      rows: freshRows,
    });
  }
  section.data.runs = runs;
  section.data.comparison = comparisons;
  return section;
}
