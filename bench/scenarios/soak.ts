// 7. Soak (not part of the default run): minutes of mixed traffic on many small group
// conversations — socket sends, REST sends, typing, reads, history pages — while sockets drop
// (clean closes and cut connections) and come back with `sync` and resend what was not acked
// (same client_id). At the end every client must have seen every message of its conversation
// exactly once per seq, every send must be acked once, and the runtime's memory must be flat.
// Unless --no-probe, the same traffic then runs on the ceiling probe — all of it the probe has:
// socket sends, cuts and reconnects, `sync`, resends and history pages (no REST sends, typing or
// reads) — so growth that belongs to the local runtime shows on both.
import { ChatSocket, type Frame, type WireMessage } from "../lib/client.ts";
import { costRow, newSection, type Cell, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { rssKiB } from "../lib/proc.ts";
import { Profiler } from "../lib/profiler.ts";
import { round, roundSummary, Samples, slope, type Summary } from "../lib/stats.ts";
import type { User } from "../lib/api.ts";
import { rooms, startTarget, suffix, targetKinds, type Room, type Target, type TargetKind } from "../lib/target.ts";
import { log, mapLimit, sleep, until } from "../lib/util.ts";

/** The soak's pattern, shared with soak-churn so the two compare. */
export const USERS_PER_CONVERSATION = 3;
export const SENDS_PER_USER_PER_S = 1;
export const RECONNECT_EVERY_S = 30;
const REST_SHARE = 0.05;
const TYPING_SHARE = 0.1;

interface Pending {
  sentAt: number;
  content: string;
  via: "socket" | "rest";
}

interface Client {
  /** the product's user (REST calls); null on the probe */
  user: User | null;
  /** the sender_id this client's messages carry */
  senderId: string;
  url: string;
  conversation: number;
  room: Room;
  socket: ChatSocket | null;
  connecting: boolean;
  synced: boolean;
  lastLive: number;
  seen: Set<number>;
  pending: Map<string, Pending>;
  nextSend: number;
  serial: number;
}

/** What one target's soak measured. */
interface Run {
  kind: TargetKind;
  memory: MemorySample[];
  /** growth of the runtime after the first quarter (warm-up) */
  growth: number;
  settledFrom: MemorySample;
  slopeKiBPerMin: number;
  sent: number;
  stored: number;
  lost: number;
  unacked: number;
  counters: Record<string, number>;
  errors: Record<string, number>;
  ack: Summary;
  delivery: Summary;
  row: Cell[];
}

interface MemorySample {
  t: number;
  runtime_kib: number;
  proxy_kib: number;
  client_kib: number;
  /** the Worker isolate's live JS heap (after a full collection), when the inspector is reachable */
  heap_kib: number | null;
}

export async function soak(ctx: Context): Promise<Section> {
  const minutes = ctx.opts.soakMinutes;
  const section = newSection("soak", {
    minutes,
    conversations: ctx.opts.soakConversations,
    users_per_conversation: USERS_PER_CONVERSATION,
    sends_per_user_per_s: SENDS_PER_USER_PER_S,
    reconnect_every_s: RECONNECT_EVERY_S,
    rest_share: REST_SHARE,
    typing_share: TYPING_SHARE,
    extras: ctx.opts.soakExtras.join(",") || "none",
  });
  const runs: Run[] = [];
  for (const kind of targetKinds(ctx.opts)) runs.push(await soakOn(ctx, section, kind));
  report(section, minutes, runs);
  return section;
}

async function soakOn(ctx: Context, section: Section, kind: TargetKind): Promise<Run> {
  const minutes = ctx.opts.soakMinutes;
  const count = ctx.opts.soakConversations;
  // REST sends, typing and read frames are the product's; the probe has sockets, sync and history pages.
  const extras = new Set(kind === "product" ? ctx.opts.soakExtras : []);
  const content = "x".repeat(ctx.opts.contentLength);
  const target = await startTarget(kind, ctx.opts.verbose);
  const server = target.server;
  const product = target.product;
  const clients: Client[] = [];
  let inspector: Profiler | null = null;
  try {
    const made = await rooms(target, count, USERS_PER_CONVERSATION, "soak-");
    made.forEach((room, conversation) => {
      room.urls.forEach((url, i) => {
        const user = room.users?.[i] ?? null;
        clients.push({ user, senderId: user?.id ?? `u${i}`, url, conversation, room, socket: null, connecting: false, synced: false, lastLive: 0, seen: new Set(), pending: new Map(), nextSend: 0, serial: 0 });
      });
    });
    const ids = made.map((room) => room.id);

    const ackLatency = new Samples();
    const deliveryLatency = new Samples();
    const sentAtByClientId = new Map<string, number>();
    const seqOfClientId = ids.map(() => new Map<string, number>());
    const errors: Record<string, number> = {};
    const counters = { socketSends: 0, restSends: 0, resends: 0, acks: 0, duplicateAcks: 0, reconnects: 0, cuts: 0, closes: 0, backwards: 0, idempotencyViolations: 0, typing: 0, reads: 0, historyPages: 0, restFailures: 0, connectFailures: 0 };

    const observe = (c: Client, m: WireMessage) => {
      c.seen.add(m.seq);
      if (m.client_id && m.sender_id) {
        const key = `${m.sender_id}/${m.client_id}`;
        const known = seqOfClientId[c.conversation]!.get(key);
        if (known === undefined) seqOfClientId[c.conversation]!.set(key, m.seq);
        else if (known !== m.seq) counters.idempotencyViolations++;
      }
    };
    const watermark = (c: Client) => {
      let w = 0;
      while (c.seen.has(w + 1)) w++;
      return w;
    };

    const connect = async (c: Client): Promise<void> => {
      if (c.connecting) return;
      c.connecting = true;
      c.synced = false;
      try {
        const socket = await ChatSocket.connect(c.url, 15_000);
        c.socket = socket;
        c.lastLive = 0;
        socket.on((frame: Frame, at: number) => {
          if (c.socket !== socket) return;
          switch (frame.type) {
            case "message.new": {
              const m = frame.message as WireMessage;
              if (m.seq <= c.lastLive) counters.backwards++;
              c.lastLive = Math.max(c.lastLive, m.seq);
              if (!c.seen.has(m.seq) && m.sender_id !== c.senderId && m.client_id) {
                const sentAt = sentAtByClientId.get(`${m.sender_id}/${m.client_id}`);
                if (sentAt !== undefined) deliveryLatency.push(at - sentAt);
              }
              observe(c, m);
              break;
            }
            case "sync.batch":
              for (const m of frame.messages as WireMessage[]) observe(c, m);
              break;
            case "sync.done":
              c.synced = true;
              break;
            case "message.ack": {
              const cid = frame.client_id as string;
              const pending = c.pending.get(cid);
              if (pending) {
                c.pending.delete(cid);
                counters.acks++;
                ackLatency.push(at - pending.sentAt);
              } else counters.duplicateAcks++;
              observe(c, frame.message as WireMessage);
              break;
            }
            case "error":
              errors[String(frame.code)] = (errors[String(frame.code)] ?? 0) + 1;
              break;
          }
        });
        // Catch up on what happened while away, then resend whatever was never acked (same client_id).
        socket.send({ type: "sync", after_seq: watermark(c), ref: "sync" });
        for (const [cid, p] of c.pending) {
          if (p.via !== "socket") continue;
          counters.resends++;
          socket.send({ type: "message.send", client_id: cid, content: p.content });
        }
      } catch {
        counters.connectFailures++;
      } finally {
        c.connecting = false;
      }
    };

    const sendOne = (c: Client, now: number) => {
      const cid = `s${c.serial++}`;
      const key = `${c.senderId}/${cid}`;
      sentAtByClientId.set(key, now);
      if (product && c.user && extras.has("rest") && Math.random() < REST_SHARE) {
        const user = c.user;
        c.pending.set(cid, { sentAt: now, content, via: "rest" });
        counters.restSends++;
        const post = async (attempt: number): Promise<void> => {
          try {
            const m = await product.api.request<WireMessage>("POST", `/api/v1/conversations/${c.room.id}/messages`, user.token, { content, client_id: cid });
            if (c.pending.delete(cid)) {
              counters.acks++;
              ackLatency.push(performance.now() - now);
            }
            observe(c, m);
          } catch {
            counters.restFailures++;
            if (attempt < 5) {
              await sleep(200);
              return post(attempt + 1);
            }
          }
        };
        void post(0);
        return;
      }
      if (!c.socket || c.socket.closed) return;
      c.pending.set(cid, { sentAt: now, content, via: "socket" });
      counters.socketSends++;
      c.socket.send({ type: "message.send", client_id: cid, content });
      if (extras.has("typing") && Math.random() < TYPING_SHARE) {
        counters.typing++;
        c.socket.send({ type: "typing.start" });
      }
    };

    log(`soak${suffix(kind)}: connecting ${clients.length} clients to ${count} conversations`);
    await mapLimit(clients, 20, connect);
    const before = await target.stats(ids);
    // The isolate's live JS heap (after a full collection) beside the process's resident memory
    // tells growth this code's objects hold from growth inside the runtime.
    inspector = server.processes.proxy ? await Profiler.attach(server.processes.proxy, server.root).catch(() => null) : null;
    const liveHeapKiB = async (): Promise<number | null> => {
      if (!inspector) return null;
      try {
        await inspector.collectGarbage();
        return Math.round((await inspector.heapUsage()).usedSize / 1024);
      } catch {
        return null;
      }
    };
    const memorySample = async (t: number): Promise<MemorySample> => ({
      t,
      runtime_kib: rssKiB(server.processes.runtime!),
      proxy_kib: rssKiB(server.processes.proxy!),
      client_kib: Math.round(process.memoryUsage().rss / 1024),
      heap_kib: await liveHeapKiB(),
    });
    const memory: MemorySample[] = [];
    const durationMs = minutes * 60_000;
    const sampleEveryMs = Math.max(5_000, Math.min(30_000, durationMs / 20));

    log(`soak${suffix(kind)}: ${minutes} min of mixed traffic`);
    const phase = await measured(ctx, server, section, `${minutes} min${suffix(kind)}`, async () => {
      const start = performance.now();
      const end = start + durationMs;
      let nextSample = start;
      let nextSecond = start;
      while (performance.now() < end) {
        const now = performance.now();
        for (const c of clients) {
          if (now >= c.nextSend) {
            if (c.synced) sendOne(c, now);
            c.nextSend = now + (1000 / SENDS_PER_USER_PER_S) * (0.5 + Math.random());
          }
        }
        if (now >= nextSecond) {
          nextSecond += 1000;
          for (const c of clients) {
            if (c.connecting || !c.socket) continue;
            if (Math.random() < 1 / RECONNECT_EVERY_S) {
              const old = c.socket;
              c.socket = null;
              c.synced = false;
              counters.reconnects++;
              if (Math.random() < 0.5) {
                counters.cuts++;
                old.terminate();
              } else {
                counters.closes++;
                void old.close();
              }
              setTimeout(() => void connect(c), Math.random() * 500);
            } else if (extras.has("reads") && Math.random() < 0.2 && c.synced) {
              counters.reads++;
              c.socket.send({ type: "read" });
            }
          }
          // One REST history page a second, from a random client.
          const c = clients[Math.floor(Math.random() * clients.length)]!;
          counters.historyPages++;
          void target.readHistory(c.room).catch(() => counters.restFailures++);
          // Sockets that failed to come back get another try.
          for (const c2 of clients) if (!c2.socket && !c2.connecting) void connect(c2);
        }
        if (now >= nextSample) {
          nextSample += sampleEveryMs;
          const sample = await memorySample(Math.round((now - start) / 1000));
          memory.push(sample);
          const pending = clients.reduce((a, c) => a + c.pending.size, 0);
          log(`soak${suffix(kind)}: t=${sample.t}s runtime ${sample.runtime_kib} KiB, live JS heap ${sample.heap_kib ?? "?"} KiB, proxy ${sample.proxy_kib} KiB, sent ${counters.socketSends + counters.restSends}, acked ${counters.acks}, pending ${pending}, reconnects ${counters.reconnects}`);
        }
        await sleep(20);
      }
      // Wind down: everyone reconnected and synced, every send answered (bounded).
      for (const c of clients) if (!c.socket && !c.connecting) void connect(c);
      await until(() => clients.every((c) => c.synced), 30_000, 50);
      for (const c of clients) {
        for (const [cid, p] of c.pending) {
          if (p.via === "socket" && c.socket) {
            counters.resends++;
            c.socket.send({ type: "message.send", client_id: cid, content: p.content });
          }
        }
      }
      await until(() => clients.every((c) => c.pending.size === 0), 30_000, 50);
    });
    await sleep(1_000);
    memory.push(await memorySample(Math.round(durationMs / 1000)));
    const after = await target.stats(ids, (err) => section.notes.push(`cost counters unavailable (${String(err)})`));
    // Each conversation's last seq from its object; if that cannot be read, the highest any client saw.
    // Each conversation's last seq from its object (the product); otherwise the highest any client saw.
    const lastSeq = await mapLimit(ids, 8, async (id, i) => {
      const seen = () => Math.max(0, ...clients.filter((c) => c.conversation === i).flatMap((c) => [...c.seen]));
      if (!product) return seen();
      try {
        return (await product.api.stats(product.admin, id)).last_seq;
      } catch {
        section.notes.push(`conversation ${i}: last seq read from the clients, not the object`);
        return seen();
      }
    });
    // Every client must have seen every seq of its conversation (live frames plus the syncs after reconnects).
    let lost = 0;
    for (const c of clients) {
      const final = lastSeq[c.conversation]!;
      for (let s = 1; s <= final; s++) if (!c.seen.has(s)) lost++;
    }
    const unacked = clients.reduce((a, c) => a + c.pending.size, 0);
    const sent = counters.socketSends + counters.restSends;
    const stored = lastSeq.reduce((a, b) => a + b, 0);
    if (product) section.costs.push(costRow("soak", `${minutes} min`, before, after, undefined, phase.cpu.runtime_io));

    // Memory: the first quarter is warm-up; flat means the rest grows by less than 10 %.
    const settledFrom = memory.find((m) => m.t >= (durationMs / 1000) * 0.25) ?? memory[0]!;
    const last = memory[memory.length - 1]!;
    const growth = (last.runtime_kib - settledFrom.runtime_kib) / settledFrom.runtime_kib;
    const slopeKiBPerMin = slope(memory.filter((m) => m.t >= settledFrom.t).map((m) => ({ x: m.t / 60, y: m.runtime_kib })));
    const ack = ackLatency.summary();
    const delivery = deliveryLatency.summary();
    const row: Cell[] = [kind, minutes, count, clients.length, sent, counters.restSends, stored, counters.acks, counters.reconnects, lost, counters.idempotencyViolations, counters.backwards, unacked, ack.p50, ack.p99, delivery.p50, delivery.p99, ...cpuCells(phase.cpu)];
    return { kind, memory, growth, settledFrom, slopeKiBPerMin, sent, stored, lost, unacked, counters, errors, ack, delivery, row };
  } finally {
    inspector?.close();
    for (const c of clients) c.socket?.terminate();
    await target.stop();
  }
}

function report(section: Section, minutes: number, runs: Run[]): void {
  const count = section.params.conversations;
  section.tables.push({
    title: `Soak: ${minutes} min, ${count} conversations × ${USERS_PER_CONVERSATION} users, ~${SENDS_PER_USER_PER_S} msg/s per user (5 % REST on the product), a reconnect per socket every ~${RECONNECT_EVERY_S} s (ms)`,
    headers: ["target", "min", "convs", "clients", "sent", "via REST", "stored", "acked", "reconnects", "lost", "dup", "ooo", "unacked", "ack p50", "ack p99", "recv p50", "recv p99", ...CPU_HEADERS],
    rows: runs.map((r) => r.row),
  });
  section.tables.push({
    title: "Soak: resident memory (KiB) over time — runtime workerd, the Worker isolate's live JS heap, wrangler's proxy workerd",
    headers: ["t (s)", ...runs.flatMap((r) => [`runtime${suffix(r.kind)}`, `JS heap${suffix(r.kind)}`, `proxy${suffix(r.kind)}`])],
    rows: runs[0]!.memory.map((m, i) => [m.t, ...runs.flatMap((r) => [r.memory[i]?.runtime_kib ?? "", r.memory[i]?.heap_kib ?? "", r.memory[i]?.proxy_kib ?? ""])]),
  });
  const grew = (r: Run) => {
    const last = r.memory[r.memory.length - 1]!;
    return `${r.settledFrom.runtime_kib} → ${last.runtime_kib} KiB (${(r.growth * 100).toFixed(1)} %), slope ${round(r.slopeKiBPerMin / 1024, 1)} MiB/min; JS heap ${r.settledFrom.heap_kib ?? "?"} → ${last.heap_kib ?? "?"} KiB; proxy ${r.settledFrom.proxy_kib} → ${last.proxy_kib} KiB`;
  };
  for (const r of runs) {
    // The probe has no idempotency: a resend under the same client_id is stored again, by design.
    const idempotent = r.kind === "product";
    section.targets.push({
      target: `soak${suffix(r.kind)}: nothing lost${idempotent ? ", nothing duplicated" : ""}, every send acked`,
      measured: `lost ${r.lost}, duplicate messages ${r.counters.idempotencyViolations}${idempotent ? "" : " (resends stored again: the probe has no idempotency)"}, out of order ${r.counters.backwards}, unacked ${r.unacked}, stored ${r.stored} of ${r.sent} sent`,
      met: r.lost === 0 && r.counters.backwards === 0 && r.unacked === 0 && (idempotent ? r.counters.idempotencyViolations === 0 && r.stored === r.sent : r.stored >= r.sent),
    });
  }
  const [mine, floor] = [runs.find((r) => r.kind === "product"), runs.find((r) => r.kind === "probe")];
  if (mine) {
    section.targets.push({
      target: "soak: runtime memory flat (< 10 % growth after the first quarter)",
      measured: `${grew(mine)}${floor ? `; the probe under the same traffic: ${grew(floor)}` : ""}`,
      met: mine.growth < 0.1,
    });
  }
  section.data = {
    ...section.data,
    runs: runs.map((r) => ({
      target: r.kind,
      counters: r.counters,
      errors: r.errors,
      sent: r.sent,
      stored: r.stored,
      lost: r.lost,
      unacked: r.unacked,
      ack_latency_ms: roundSummary(r.ack),
      delivery_latency_ms: roundSummary(r.delivery),
      memory: r.memory,
      memory_growth_after_warmup: r.growth,
      memory_slope_kib_per_min: r.slopeKiBPerMin,
    })),
  };
}
