// 8. Soak, socket churn and REST reads (not in the default run): the part of the soak every chat
// room has — each user sending ~1 message a second on a socket that drops (cut, or closed
// cleanly) about every 30 s and comes back asking for what it missed (`sync`), and a few REST reads of a room's newest messages a
// second — run on the product and then on the ceiling probe, with the same rooms for the same
// minutes, sampling each runtime's resident memory. The probe stores every
// message in its object's SQLite and fans it out, and does nothing else: when both grow alike,
// the growth belongs to the local runtime (workerd under `wrangler dev`), not to the product.
import { ChatSocket, type Frame } from "../lib/client.ts";
import { rssKiB } from "../lib/proc.ts";
import { newSection, type Cell, type Section } from "../lib/report.ts";
import { measured, type Context } from "../lib/scenario.ts";
import { round, slope } from "../lib/stats.ts";
import { rooms, startTarget, suffix, targetKinds, type TargetKind } from "../lib/target.ts";
import { log, mapLimit, sleep } from "../lib/util.ts";
import { RECONNECT_EVERY_S, SENDS_PER_USER_PER_S, USERS_PER_CONVERSATION } from "./soak.ts";

const MEMBERS = USERS_PER_CONVERSATION;
/** REST reads a second (the mixed soak makes about this many REST calls: history pages and REST sends). */
const HISTORY_READS_PER_S = 4;

interface Client {
  url: string;
  /** The highest seq this user has seen: a reconnect asks for what came after it (`sync`; the probe ignores it). */
  lastSeq: number;
  socket: ChatSocket | null;
  connecting: boolean;
  serial: number;
  nextSend: number;
}

interface MemorySample {
  t: number;
  runtime_kib: number;
  proxy_kib: number;
}

interface Run {
  kind: TargetKind;
  memory: MemorySample[];
  sent: number;
  acked: number;
  reconnects: number;
  historyReads: number;
  historyFailures: number;
}

/** Growth of the runtime after the first quarter (warm-up), and its slope in MiB a minute. */
function growthOf(memory: MemorySample[], seconds: number): { from: MemorySample; to: MemorySample; growth: number; mibPerMin: number } {
  const from = memory.find((m) => m.t >= seconds * 0.25) ?? memory[0]!;
  const to = memory[memory.length - 1]!;
  const settled = memory.filter((m) => m.t >= from.t).map((m) => ({ x: m.t / 60, y: m.runtime_kib / 1024 }));
  return { from, to, growth: (to.runtime_kib - from.runtime_kib) / from.runtime_kib, mibPerMin: slope(settled) };
}

async function churn(ctx: Context, section: Section, kind: TargetKind): Promise<Run> {
  const { soakMinutes: minutes, soakConversations: count, contentLength } = ctx.opts;
  const content = "x".repeat(contentLength);
  const target = await startTarget(kind, ctx.opts.verbose);
  const run: Run = { kind, memory: [], sent: 0, acked: 0, reconnects: 0, historyReads: 0, historyFailures: 0 };
  try {
    const made = await rooms(target, count, MEMBERS, "churn-");
    const clients: Client[] = made.flatMap((room) => room.urls.map((url) => ({ url, lastSeq: 0, socket: null, connecting: false, serial: 0, nextSend: 0 })));
    const connect = async (c: Client): Promise<void> => {
      if (c.connecting) return;
      c.connecting = true;
      try {
        const socket = await ChatSocket.connect(c.url);
        socket.on((frame: Frame) => {
          if (frame.type === "message.ack") run.acked++;
          const seq = (frame.message as { seq?: number } | undefined)?.seq;
          if (seq !== undefined) c.lastSeq = Math.max(c.lastSeq, seq);
        });
        if (c.lastSeq > 0) socket.send({ type: "sync", after_seq: c.lastSeq });
        // As the soak does: a send whose ack may have been lost goes again under its client_id.
        if (c.serial > 0) socket.send({ type: "message.send", client_id: `c${c.serial - 1}`, content });
        c.socket = socket;
      } catch {
        // tried again within a second
      } finally {
        c.connecting = false;
      }
    };
    await mapLimit(clients, 20, connect);
    const { processes } = target.server;
    const sample = (t: number) => run.memory.push({ t, runtime_kib: rssKiB(processes.runtime!), proxy_kib: rssKiB(processes.proxy!) });
    const durationMs = minutes * 60_000;
    const sampleEveryMs = Math.max(5_000, Math.min(30_000, durationMs / 20));
    log(`soak-churn${suffix(kind)}: ${clients.length} sockets in ${count} rooms for ${minutes} min`);
    await measured(ctx, target.server, section, `${minutes} min${suffix(kind)}`, async () => {
      const start = performance.now();
      let [nextSecond, nextSample] = [start, start];
      while (performance.now() < start + durationMs) {
        const now = performance.now();
        for (const c of clients) {
          if (now < c.nextSend) continue;
          c.nextSend = now + (1000 / SENDS_PER_USER_PER_S) * (0.5 + Math.random());
          if (c.socket && !c.socket.closed && c.socket.send({ type: "message.send", client_id: `c${c.serial++}`, content })) run.sent++;
        }
        if (now >= nextSecond) {
          nextSecond += 1000;
          for (let i = 0; i < HISTORY_READS_PER_S; i++) {
            run.historyReads++;
            target.readHistory(made[Math.floor(Math.random() * made.length)]!).catch(() => run.historyFailures++);
          }
          for (const c of clients) {
            if (!c.socket) {
              void connect(c);
            } else if (Math.random() < 1 / RECONNECT_EVERY_S) {
              const old = c.socket;
              c.socket = null;
              run.reconnects++;
              if (Math.random() < 0.5) old.terminate();
              else void old.close();
            }
          }
        }
        if (now >= nextSample) {
          nextSample += sampleEveryMs;
          sample(Math.round((now - start) / 1000));
          const last = run.memory[run.memory.length - 1]!;
          log(`soak-churn${suffix(kind)}: t=${last.t}s runtime ${last.runtime_kib} KiB, proxy ${last.proxy_kib} KiB, sent ${run.sent}, acked ${run.acked}`);
        }
        await sleep(20);
      }
      sample(Math.round(durationMs / 1000));
    });
    await mapLimit(clients, 50, async (c) => c.socket?.terminate());
  } finally {
    await target.stop();
  }
  return run;
}

export async function soakChurn(ctx: Context): Promise<Section> {
  const { soakMinutes: minutes, soakConversations: count } = ctx.opts;
  const section = newSection("soak-churn", { minutes, rooms: count, members: MEMBERS, sends_per_user_per_s: SENDS_PER_USER_PER_S, reconnect_every_s: RECONNECT_EVERY_S });
  const runs: Run[] = [];
  for (const kind of targetKinds(ctx.opts)) runs.push(await churn(ctx, section, kind));
  const seconds = minutes * 60;
  const rows: Cell[][] = runs.map((run) => {
    const g = growthOf(run.memory, seconds);
    const proxyFrom = g.from.proxy_kib;
    return [run.kind, run.sent, run.acked, run.reconnects, run.historyReads, run.historyFailures, run.memory[0]!.runtime_kib, g.from.runtime_kib, g.to.runtime_kib, round(g.growth * 100, 1), round(g.mibPerMin, 1), proxyFrom, g.to.proxy_kib];
  });
  section.tables.push({
    title: `Soak, socket churn and REST reads: ${minutes} min, ${count} rooms × ${MEMBERS} users, ~${SENDS_PER_USER_PER_S} msg/s per user, a reconnect per socket every ~${RECONNECT_EVERY_S} s, ${HISTORY_READS_PER_S} history reads/s (runtime memory after the first quarter)`,
    headers: ["target", "sent", "acked", "reconnects", "REST reads", "failed", "start KiB", "settled KiB", "end KiB", "growth %", "MiB/min", "proxy settled KiB", "proxy end KiB"],
    rows,
  });
  section.tables.push({
    title: "Soak, socket churn and REST reads: runtime resident memory (KiB) over time",
    headers: ["t (s)", ...runs.map((r) => r.kind)],
    rows: runs[0]!.memory.map((m, i) => [m.t, ...runs.map((r) => r.memory[i]?.runtime_kib ?? "")]),
  });
  section.data = { ...section.data, memory: Object.fromEntries(runs.map((r) => [r.kind, r.memory])) };
  return section;
}
