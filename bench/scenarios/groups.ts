// 8. Groups: a group conversation built one add at a time (POST …/participants as the creator,
// one request after the other), timed per add: the last adds must cost what the first did. Then
// members open sockets (connects per second) — their first sockets ever, which create their user
// objects, and after all were closed, again — and the creator sends a few messages one at a time,
// each timed to every online member (none may be lost), and the conversation object's counters
// give the storage rows written per message. `groups`: --group-size (1000) members, all online.
// `groups10k`: --big-group-size (10000) members, --big-group-online (50) of them online: the
// adds must stay flat and a message must cost work for who is online.
// The socket part also runs on the ceiling probe (a room of as many sockets, unless --no-probe),
// so connects/s and delivery latency are printed as ratios to the runtime's floor; the probe has
// no membership, so the adds have no probe figure.
import type { User } from "../lib/api.ts";
import { ChatSocket, socketUrl, type Frame, type WireMessage } from "../lib/client.ts";
import { compare, comparisonTable, costRow, newSection, ratio, type Cell, type Comparison, type CostRow, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { round, roundSummary, Samples, summarize, type Summary } from "../lib/stats.ts";
import { startTarget, suffix, targetKinds, type Target, type TargetKind } from "../lib/target.ts";
import { log, mapLimit, sleep, until } from "../lib/util.ts";
import { waitUntilQuiet } from "../lib/proc.ts";

/** Targets of the issue. */
const ADD_RATIO_TARGET = 1.5;
const ADD_MS_TARGET = 15; // all 1,000 in ≤ 15 s
const CONNECTS_PER_S_TARGET = 200;
const DELIVERY_P99_TARGET_MS = 100;
const STORAGE_ROWS_TARGET = 2;

/** Adds compared at each end of the build. */
const END_ADDS = 100;
/** Consecutive failed adds after which the build stops. */
const MAX_ADD_FAILURES = 10;
/** How long one message may take to reach every online member. */
const DELIVERY_WAIT_MS = 20_000;
/** The connect rounds: each member's first socket ever (it creates their user object), then the same members back. */
const FIRST_CONNECTS = "first sockets";
const RECONNECTS = "reconnects";
/** The probe's reference for first sockets: each also reaches its user's own object (bench/probe: ?member_object=1). */
const FIRST_WITH_MEMBER_OBJECTS = "first sockets + member objects";
/** …whose object then queues a presence change that a consumer writes to D1 in batches, as a presence transition does in the product (&presence_queue=1). */
const FIRST_WITH_PRESENCE = "first sockets + member objects + queued presence";
/**
 * Between the rounds: past the presence grace (3 s by default) and the offline announcements
 * that follow it, so everyone went offline and comes back online, and the reconnects are not
 * timed with the disconnects' work.
 */
const RECONNECT_AFTER_MS = 10_000;

/** At most this long the messages wait for the runtime to be quiet after the connects. */
const SETTLE_LIMIT_MS = 15_000;
/**
 * How long the runtime must stay quiet: longer than the mirror queue's batch window
 * (max_batch_timeout, 0.5 s in wrangler.toml), so no batch of the presence changes the connects
 * queued is still waiting to run when the messages start.
 */
const QUIET_WINDOW_MS = 750;

interface Plan {
  scenario: "groups" | "groups10k";
  /** members added one at a time after the creator */
  size: number;
  /** how many of them open a socket */
  online: number;
  /** messages the creator sends one at a time */
  messages: number;
}

/** Seconds the build may take before it stops (reported as a miss): generous (50 ms per add; the target is 15), but bounded. */
export function addLimitSeconds(size: number): number {
  return 60 + size * 0.05;
}

/** Seconds after which no further socket is started (those in flight get their 30 s): ≥ 11 connects/s for 1,000. */
export function connectLimitSeconds(sockets: number): number {
  return 30 + sockets * 0.06;
}

interface Build {
  added: number;
  failed: number;
  seconds: number;
  stoppedEarly: string | null;
  durations: Samples;
  firstMean: number;
  lastMean: number;
  ratio: number;
}

interface Online {
  sockets: number;
  /** each member's first socket ever (creates the member's user object) */
  first: ConnectRound;
  /** the same members coming back after all were closed (the messages go to these sockets) */
  again: ConnectRound;
  delivery: Summary;
  ack: Summary;
  lost: number;
  /** the worst message's delivery p99 */
  worstP99: number;
  cost: CostRow | null;
}

function mean(values: Float64Array): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Adds `members` one at a time, bounded in count, time and failures. */
async function build(target: Target, creator: User, conversation: string, members: User[], limitS: number): Promise<Build> {
  const api = target.product!.api;
  const durations = new Samples();
  let failed = 0;
  let consecutive = 0;
  let stoppedEarly: string | null = null;
  const start = performance.now();
  for (let i = 0; i < members.length; i++) {
    if ((performance.now() - start) / 1000 > limitS) {
      stoppedEarly = `stopped after ${limitS} s with ${durations.length} of ${members.length} added`;
      break;
    }
    const t = performance.now();
    try {
      await api.request("POST", `/api/v1/conversations/${conversation}/participants`, creator.token, { user_id: members[i]!.id });
      durations.push(performance.now() - t);
      consecutive = 0;
    } catch (err) {
      failed++;
      if (++consecutive >= MAX_ADD_FAILURES) {
        stoppedEarly = `stopped after ${MAX_ADD_FAILURES} failed adds in a row (last: ${err instanceof Error ? err.message : String(err)})`;
        break;
      }
    }
    if (durations.length > 0 && durations.length % Math.max(100, Math.floor(members.length / 10)) === 0 && consecutive === 0) {
      log(`groups: ${durations.length}/${members.length} added, ${((performance.now() - start) / 1000).toFixed(1)} s`);
    }
  }
  const v = durations.values();
  const firstMean = mean(v.subarray(0, Math.min(END_ADDS, v.length)));
  const lastMean = mean(v.subarray(Math.max(0, v.length - END_ADDS)));
  return { added: durations.length, failed, seconds: (performance.now() - start) / 1000, stoppedEarly, durations, firstMean, lastMean, ratio: ratio(lastMean, firstMean) };
}

/** One round of connects: every listener's socket opened, `connectConcurrency` at a time. */
interface ConnectRound {
  /** the socket of each listener, by index (null: it failed or was not tried) */
  slots: (ChatSocket | null)[];
  opened: number;
  failed: number;
  connectsPerS: number;
  /** why the round stopped before every socket was tried, if it did */
  stopped: string | null;
  setup: Summary;
}

/**
 * Opens every listener's socket (measured: connects/s and setup latency), the sockets it opened
 * added to `open` as they come, so the caller closes them whatever happens.
 */
async function connectRound(ctx: Context, section: Section, target: Target, what: string, listenerUrls: string[], open: ChatSocket[], rows: Cell[][]): Promise<ConnectRound> {
  const kind = target.kind;
  const setup = new Samples();
  const failures: Record<string, number> = {};
  const slots: (ChatSocket | null)[] = new Array<ChatSocket | null>(listenerUrls.length).fill(null);
  let failed = 0;
  let notTried = 0;
  const limitS = connectLimitSeconds(listenerUrls.length);
  const phase = `${listenerUrls.length} sockets: ${what}${suffix(kind)}`;
  log(`groups (${kind}): ${what}: ${listenerUrls.length} sockets connect, ${ctx.opts.connectConcurrency} at a time (none started after ${limitS} s)`);
  const connect = await measured(ctx, target.server, section, phase, async () => {
    const t0 = performance.now();
    await mapLimit(listenerUrls, ctx.opts.connectConcurrency, async (url, i) => {
      const t = performance.now();
      if ((t - t0) / 1000 > limitS) {
        notTried++;
        return;
      }
      try {
        const socket = await ChatSocket.connect(url, 30_000);
        setup.push(performance.now() - t);
        slots[i] = socket;
        open.push(socket);
      } catch (err) {
        failed++;
        const reason = String(err instanceof Error ? err.message : err).slice(0, 80);
        failures[reason] = (failures[reason] ?? 0) + 1;
      }
    });
    return (performance.now() - t0) / 1000;
  });
  const opened = slots.filter((socket) => socket !== null).length;
  const connectsPerS = opened / connect.result;
  const stopped = notTried > 0 ? `no socket started after ${limitS} s: ${opened} of ${listenerUrls.length} open after ${round(connect.result, 1)} s, ${notTried} not tried` : null;
  if (stopped) section.notes.push(`${phase}: ${stopped}`);
  if (failed > 0) section.notes.push(`${phase}: ${failed} sockets failed: ${JSON.stringify(failures)}`);
  const summary = setup.summary();
  rows.push([kind, what, listenerUrls.length, opened, failed, Math.round(connectsPerS), summary.p50, summary.p99, summary.max, ...cpuCells(connect.cpu)]);
  const runs = (section.data.connects ??= []) as Record<string, unknown>[];
  runs.push({ target: kind, round: what, sockets: listenerUrls.length, opened, failed, not_tried: notTried, stopped, failures_by_reason: failures, seconds: connect.result, connects_per_s: connectsPerS, setup_latency_ms: roundSummary(summary), cpu_cores: connect.cpu });
  return { slots, opened, failed, connectsPerS, stopped, setup: summary };
}

/**
 * Opens the listeners' sockets twice (measured: connects/s): first as each member's first
 * socket ever, then — all closed, and past the presence grace — again, as members coming back
 * do after a network blip or a deploy. Then the sender sends `messages` one at a time, each
 * timed to every listener; counters before and after give the cost per message.
 */
async function online(ctx: Context, section: Section, target: Target, plan: Plan, conversation: string, senderUrl: string, listenerUrls: string[], rows: { connect: Cell[][]; messages: Cell[][] }): Promise<Online> {
  const kind = target.kind;
  const label = (what: string) => `${plan.size} members: ${what}${suffix(kind)}`;
  const sockets: ChatSocket[] = [];
  let sender: ChatSocket | null = null;
  try {
    sender = await ChatSocket.connect(senderUrl, 30_000);
    const first = await connectRound(ctx, section, target, FIRST_CONNECTS, listenerUrls, sockets, rows.connect);
    for (const socket of sockets.splice(0)) socket.terminate();
    await sleep(RECONNECT_AFTER_MS);
    const again = await connectRound(ctx, section, target, RECONNECTS, listenerUrls, sockets, rows.connect);
    const { slots, opened } = again;

    // The connects leave work behind (user objects reporting presence, presence changes queued,
    // sessions written behind): the messages are timed once it has drained, so they measure a
    // message, not that tail.
    const settled = await waitUntilQuiet(target.server.processes.runtime, SETTLE_LIMIT_MS, QUIET_WINDOW_MS);
    log(`groups (${kind}): runtime ${settled.quiet ? "quiet" : "still busy"} after ${settled.waitedMs} ms`);

    // Messages: one at a time from the sender, the next once the previous reached every socket and
    // was acked (or after DELIVERY_WAIT_MS); a delivery after that wait still counts (as late), and
    // after the last send the run waits at most DELIVERY_WAIT_MS more for every outstanding one.
    const before = await target.stats([conversation]);
    interface Sent {
      cid: string;
      sentAt: number;
      got: Uint8Array;
      reached: number;
      /** reached before the next message was sent */
      inTime: number;
      duplicates: number;
      latency: Samples;
      ackMs: number;
    }
    const byCid = new Map<string, Sent>();
    const done = (s: Sent) => s.reached >= opened && !Number.isNaN(s.ackMs);
    const offs = slots.map((socket, i) =>
      socket
        ? socket.on((frame: Frame, at: number) => {
            if (frame.type !== "message.new") return;
            const s = byCid.get((frame.message as WireMessage).client_id ?? "");
            if (!s) return;
            if (s.got[i]) {
              s.duplicates++;
              return;
            }
            s.got[i] = 1;
            s.reached++;
            s.latency.push(at - s.sentAt);
          })
        : () => undefined,
    );
    offs.push(
      sender.on((frame: Frame, at: number) => {
        if (frame.type !== "message.ack") return;
        const s = byCid.get(String(frame.client_id));
        if (s && Number.isNaN(s.ackMs)) s.ackMs = at - s.sentAt;
      }),
    );
    log(`groups (${kind}): ${plan.messages} messages, one at a time, to ${opened} sockets`);
    const phase = await measured(ctx, target.server, section, label("messages"), async () => {
      try {
        for (let m = 0; m < plan.messages; m++) {
          const s: Sent = { cid: `g${plan.size}-${m}`, sentAt: performance.now(), got: new Uint8Array(slots.length), reached: 0, inTime: 0, duplicates: 0, latency: new Samples(), ackMs: NaN };
          byCid.set(s.cid, s);
          sender!.send({ type: "message.send", client_id: s.cid, content: `group message ${m}` });
          await until(() => done(s), DELIVERY_WAIT_MS, 2);
          s.inTime = s.reached;
        }
        await until(() => [...byCid.values()].every(done), DELIVERY_WAIT_MS, 5);
      } finally {
        for (const off of offs) off();
      }
    });
    const delivery = new Samples();
    const ack = new Samples();
    const perMessage: Record<string, unknown>[] = [];
    let lost = 0;
    let late = 0;
    let worstP99 = 0;
    [...byCid.values()].forEach((s, m) => {
      const summary = s.latency.summary();
      const v = s.latency.values();
      for (let i = 0; i < v.length; i++) delivery.push(v[i]!);
      if (!Number.isNaN(s.ackMs)) ack.push(s.ackMs);
      lost += opened - s.reached;
      late += s.reached - s.inTime;
      worstP99 = Math.max(worstP99, s.reached > 0 ? summary.p99 : Number.POSITIVE_INFINITY);
      rows.messages.push([kind, plan.size, m + 1, `${s.reached}/${opened}`, s.reached - s.inTime, summary.p50, summary.p99, summary.max, round(s.ackMs, 2), s.duplicates]);
      perMessage.push({ message: m + 1, reached: s.reached, reached_before_next_send: s.inTime, expected: opened, duplicates: s.duplicates, latency_ms: roundSummary(summary), ack_ms: s.ackMs });
    });
    if (lost > 0 || late > 0) section.notes.push(`${label("messages")}: ${late} deliveries came after the ${DELIVERY_WAIT_MS / 1000} s wait (late), ${lost} had not come ${DELIVERY_WAIT_MS / 1000} s after the last send (counted as lost)`);
    const after = await target.stats([conversation], (err) => section.notes.push(`${label("messages")}: cost counters unavailable (${String(err)})`));
    const cost = kind === "product" ? costRow(plan.scenario, `${plan.size} members, ${opened} online`, before, after, plan.messages, phase.cpu.runtime_io) : null;
    if (cost) section.costs.push(cost);
    const result: Online = { sockets: listenerUrls.length, first, again, delivery: delivery.summary(), ack: ack.summary(), lost, worstP99, cost };
    const runs = (section.data.online ??= []) as Record<string, unknown>[];
    runs.push({
      target: kind,
      members: plan.size,
      sockets: listenerUrls.length,
      opened,
      messages: perMessage,
      delivery_ms_all_messages: roundSummary(result.delivery),
      ack_ms: roundSummary(result.ack),
      lost,
      cost,
      messages_cpu_cores: phase.cpu,
    });
    return result;
  } finally {
    sender?.terminate();
    for (const s of sockets) s.terminate();
  }
}

/** Evenly spread picks of `count` indexes out of `total` (all of them when count ≥ total). */
function spread(total: number, count: number): number[] {
  if (count >= total) return Array.from({ length: total }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * total) / count));
}

async function run(ctx: Context, plan: Plan): Promise<Section> {
  const kinds = targetKinds(ctx.opts);
  const limitS = addLimitSeconds(plan.size);
  const section = newSection(plan.scenario, { members: plan.size, online: plan.online, messages: plan.messages, connect_concurrency: ctx.opts.connectConcurrency, add_limit_s: limitS, targets: kinds });
  const rows = { connect: [] as Cell[][], messages: [] as Cell[][] };
  const results = new Map<TargetKind, Online>();
  /** the probe's first sockets when each also reaches its user's own object */
  let memberFloor: ConnectRound | null = null;
  /** …and that object also queues the user's presence change for D1 */
  let presenceFloor: ConnectRound | null = null;
  let built: Build | null = null;

  // The product: logins, the build, then the sockets and messages.
  const product = await startTarget("product", ctx.opts.verbose);
  try {
    const api = product.product!.api;
    log(`${plan.scenario}: logging in ${plan.size + 1} users`);
    const t0 = performance.now();
    const users = await api.loginMany(plan.scenario, plan.size + 1, 16);
    const loginSeconds = (performance.now() - t0) / 1000;
    section.data.logins = { users: users.length, seconds: loginSeconds, per_s: users.length / loginSeconds };
    const creator = users[0]!;
    const members = users.slice(1);
    const conversation = (await api.request<{ id: string }>("POST", "/api/v1/conversations", creator.token, { type: "group", title: plan.scenario, participant_ids: [] })).id;
    log(`${plan.scenario}: adding ${members.length} members one at a time (at most ${limitS} s)`);
    const phase = await measured(ctx, product.server, section, `${plan.size} members: adds`, () => build(product, creator, conversation, members, limitS));
    const b = phase.result;
    built = b;
    if (b.stoppedEarly) section.notes.push(`adds: ${b.stoppedEarly}`);
    if (b.failed > 0) section.notes.push(`adds: ${b.failed} failed`);

    // Per-add time over the build: the two ends, then tenths of it.
    const v = b.durations.values();
    const addRows: Cell[][] = [];
    const addRow = (name: string, part: Float64Array) => {
      const s = summarize(part);
      addRows.push([name, s.count, s.mean, s.p50, s.p99, s.max]);
    };
    addRow(`first ${END_ADDS}`, v.subarray(0, Math.min(END_ADDS, v.length)));
    const tenth = Math.max(1, Math.ceil(v.length / 10));
    for (let i = 0; i < v.length; i += tenth) addRow(`adds ${i + 1}–${Math.min(v.length, i + tenth)}`, v.subarray(i, i + tenth));
    addRow(`last ${END_ADDS}`, v.subarray(Math.max(0, v.length - END_ADDS)));
    addRow("all", v);
    const buckets: number[] = [];
    for (let i = 0; i < v.length; i += 100) buckets.push(round(mean(v.subarray(i, i + 100)), 3));
    section.tables.push({
      title: `${plan.scenario}: a group built one add at a time to ${plan.size} members (+ the creator), POST …/participants as the creator, ms per add — ${b.added} added in ${round(b.seconds, 1)} s; last ${END_ADDS} / first ${END_ADDS} mean = ${b.ratio}`,
      headers: ["adds", "count", "mean", "p50", "p99", "max"],
      rows: addRows,
    });
    section.data.adds = {
      added: b.added,
      failed: b.failed,
      seconds: b.seconds,
      stopped_early: b.stoppedEarly,
      first_mean_ms: b.firstMean,
      last_mean_ms: b.lastMean,
      last_over_first: b.ratio,
      all_ms: roundSummary(b.durations.summary()),
      mean_ms_per_100: buckets,
      cpu_cores: phase.cpu,
    };

    // Only members who were added get a socket.
    const picks = spread(b.added, plan.online);
    const listenerUrls = picks.map((i) => socketUrl(product.url, conversation, members[i]!.token));
    results.set("product", await online(ctx, section, product, plan, conversation, socketUrl(product.url, conversation, creator.token), listenerUrls, rows));
  } catch (err) {
    section.notes.push(`product: run failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await product.stop();
  }

  // The probe: a room of as many sockets, the same connects and messages.
  const listeners = results.get("product")?.sockets ?? Math.min(plan.online, plan.size);
  if (kinds.includes("probe")) {
    const probe = await startTarget("probe", ctx.opts.verbose);
    try {
      const room = await probe.room(listeners + 1, `${plan.scenario}-${plan.size}`);
      results.set("probe", await online(ctx, section, probe, plan, room.id, room.urls[0]!, room.urls.slice(1), rows));
      // First sockets again, each also reaching (and so creating) its user's own object, as the product's do.
      const floorRound = async (what: string, room: string, query: string) => {
        const fresh = await probe.room(listeners, room, { ownUsers: true });
        const open: ChatSocket[] = [];
        try {
          return await connectRound(ctx, section, probe, what, fresh.urls.map((url) => `${url}${query}`), open, rows.connect);
        } finally {
          for (const socket of open) socket.terminate();
        }
      };
      memberFloor = await floorRound(FIRST_WITH_MEMBER_OBJECTS, `${plan.scenario}-${plan.size}-members`, "&member_object=1");
      presenceFloor = await floorRound(FIRST_WITH_PRESENCE, `${plan.scenario}-${plan.size}-presence`, "&member_object=1&presence_queue=1");
    } catch (err) {
      section.notes.push(`probe: run failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await probe.stop();
    }
  }

  section.tables.push({
    title: `${plan.scenario}: ${listeners} members' sockets connect, ${ctx.opts.connectConcurrency} at a time: their first sockets, then all closed and back after ${RECONNECT_AFTER_MS / 1000} s (setup = upgrade → hello, ms)`,
    headers: ["target", "round", "sockets", "opened", "failed", "connects/s", "p50", "p99", "max", ...CPU_HEADERS],
    rows: rows.connect,
  });
  section.tables.push({
    title: `${plan.scenario}: the creator sends ${plan.messages} messages one at a time, each → every online member (ms from send; ack = to the sender; late = arrived after the next message was sent)`,
    headers: ["target", "members", "message", "reached", "late", "p50", "p99", "max", "ack", "dup"],
    rows: rows.messages,
  });
  const p = results.get("product");
  const q = results.get("probe");
  if (kinds.includes("probe")) {
    const comparisons: Comparison[] = [
      compare(`${listeners} sockets, ${FIRST_CONNECTS}`, "connects/s", p?.first.connectsPerS, q?.first.connectsPerS),
      compare(`${listeners} sockets, ${FIRST_CONNECTS}`, "setup p99 ms", p?.first.setup.p99, q?.first.setup.p99),
      compare(`${listeners} sockets, ${FIRST_CONNECTS}`, "connects/s, probe + member objects", p?.first.connectsPerS, memberFloor?.connectsPerS),
      compare(`${listeners} sockets, ${FIRST_CONNECTS}`, "connects/s, probe + member objects + queued presence", p?.first.connectsPerS, presenceFloor?.connectsPerS),
      compare(`${listeners} sockets, ${RECONNECTS}`, "connects/s", p?.again.connectsPerS, q?.again.connectsPerS),
      compare(`${listeners} sockets, ${RECONNECTS}`, "setup p99 ms", p?.again.setup.p99, q?.again.setup.p99),
      compare(`${plan.messages} messages → ${listeners}`, "delivery p50 ms", p?.delivery.p50, q?.delivery.p50),
      compare(`${plan.messages} messages → ${listeners}`, "delivery p99 ms", p?.delivery.p99, q?.delivery.p99),
      compare(`${plan.messages} messages → ${listeners}`, "delivery max ms", p?.delivery.max, q?.delivery.max),
      compare(`${plan.messages} messages → ${listeners}`, "ack p50 ms", p?.ack.p50, q?.ack.p50),
      compare(`${plan.messages} messages → ${listeners}`, "ack max ms", p?.ack.max, q?.ack.max),
    ];
    section.tables.push(comparisonTable(`${plan.scenario}: ${plan.size} members, ${listeners} online`, comparisons));
    section.data.comparison = comparisons;
  }

  // Targets (product).
  const b = built;
  const flat = `adds stay flat: mean of the last ${END_ADDS} ≤ ${ADD_RATIO_TARGET} × the mean of the first ${END_ADDS}`;
  section.targets.push({
    target: `${plan.size}-member group built one add at a time: ${flat}`,
    measured: b ? `first ${round(b.firstMean, 2)} ms, last ${round(b.lastMean, 2)} ms, ratio ${b.ratio}; ${b.added}/${plan.size} added` : "not measured (the run failed)",
    met: !!b && b.ratio <= ADD_RATIO_TARGET && b.added === plan.size,
  });
  if (plan.scenario === "groups") {
    const limit = (plan.size * ADD_MS_TARGET) / 1000;
    section.targets.push({
      target: `all ${plan.size} adds in ≤ ${round(limit, 1)} s`,
      measured: b ? `${b.added} added in ${round(b.seconds, 1)} s${b.stoppedEarly ? ` (${b.stoppedEarly})` : ""}` : "not measured",
      met: !!b && b.added === plan.size && b.seconds <= limit,
    });
    for (const which of ["first", "again"] as const) {
      const [mine, floor] = [p?.[which], q?.[which]];
      section.targets.push({
        target: `${plan.size} sockets connect at ≥ ${CONNECTS_PER_S_TARGET}/s (${which === "first" ? FIRST_CONNECTS : RECONNECTS})`,
        measured: mine
          ? `${Math.round(mine.connectsPerS)}/s (${mine.opened}/${p!.sockets} opened${mine.stopped ? `; ${mine.stopped}` : ""})${floor ? `; probe ${Math.round(floor.connectsPerS)}/s, ratio ${ratio(mine.connectsPerS, floor.connectsPerS)}` : ""}${which === "first" && memberFloor ? `; probe whose sockets each reach a member object ${Math.round(memberFloor.connectsPerS)}/s` : ""}${which === "first" && presenceFloor ? `, which also queues presence for D1 ${Math.round(presenceFloor.connectsPerS)}/s (ratio ${ratio(mine.connectsPerS, presenceFloor.connectsPerS)})` : ""}`
          : "not measured",
        met: !!mine && mine.opened === plan.size && mine.connectsPerS >= CONNECTS_PER_S_TARGET,
      });
    }
    section.targets.push({
      target: `a message reaches all ${plan.size}: p99 ≤ ${DELIVERY_P99_TARGET_MS} ms (every message), none lost`,
      measured: p ? `worst message p99 ${Number.isFinite(p.worstP99) ? `${round(p.worstP99, 2)} ms` : "- (a message reached no one)"} (all ${plan.messages}: p99 ${round(p.delivery.p99, 2)} ms); lost ${p.lost}${q ? `; probe p99 ${round(q.delivery.p99, 2)} ms, ratio ${ratio(p.delivery.p99, q.delivery.p99)}` : ""}` : "not measured",
      met: !!p && p.again.opened === plan.size && p.worstP99 <= DELIVERY_P99_TARGET_MS && p.lost === 0,
    });
  } else {
    section.targets.push({
      target: `a ${plan.size}-member group with ${plan.online} online: every message reaches all ${plan.online}`,
      measured: p ? `${plan.messages} messages, lost ${p.lost}, ${p.again.opened}/${p.sockets} sockets; delivery p99 ${round(p.delivery.p99, 2)} ms, ack p50 ${round(p.ack.p50, 2)} ms${q ? ` (probe with ${q.again.opened} sockets: ${round(q.delivery.p99, 2)} ms, ${round(q.ack.p50, 2)} ms)` : ""}` : "not measured",
      met: !!p && p.again.opened === plan.online && p.lost === 0,
    });
  }
  const c = p?.cost;
  section.targets.push({
    target: `storage rows written per message ≤ ${STORAGE_ROWS_TARGET} (${plan.size} members, stats endpoint)`,
    measured: c ? `${c.storage_rows_per_message} rows/msg over ${c.messages} messages${c.reliable ? "" : " (counters not reliable)"}` : "not measured",
    met: !!c && c.reliable && c.storage_rows_per_message <= STORAGE_ROWS_TARGET,
  });
  return section;
}

/** A group built to --group-size (1000) members, all of them online. */
export function groups(ctx: Context): Promise<Section> {
  return run(ctx, { scenario: "groups", size: ctx.opts.groupSize, online: ctx.opts.groupSize, messages: 5 });
}

/** A group built to --big-group-size (10000) members, --big-group-online (50) of them online. */
export function groups10k(ctx: Context): Promise<Section> {
  return run(ctx, { scenario: "groups10k", size: ctx.opts.bigGroupSize, online: ctx.opts.bigGroupOnline, messages: 10 });
}
