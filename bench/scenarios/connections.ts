// 4. Connections: open many sockets to one conversation; setup rate and latency; resident memory
// of the runtime process per socket while the object is awake and after it hibernated; then one
// message wakes it and must reach every socket. Two rounds: a cold one on a fresh runtime and a
// warm one after the first round's sockets were closed (RSS rarely shrinks, so the warm round
// shows what sockets keep beyond what setting them up left behind).
import { ChatSocket, closeAll, type Frame, type WireMessage } from "../lib/client.ts";
import { findRuntime, rssKiB } from "../lib/proc.ts";
import { Profiler } from "../lib/profiler.ts";
import { newSection, type Cell, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { startBenchServer } from "../lib/server.ts";
import { round, roundSummary, Samples } from "../lib/stats.ts";
import { log, mapLimit, sleep, until } from "../lib/util.ts";

interface Memory {
  runtime_kib: number;
  proxy_kib: number;
  /** V8 heap used by the Worker isolate (garbage included), when the inspector is reachable */
  heap_kib: number | null;
}

export async function connections(ctx: Context): Promise<Section> {
  const { connections: total, connectionUsers, connectConcurrency, hibernateWait } = ctx.opts;
  const userCount = Math.min(connectionUsers, total);
  const section = newSection("connections", { sockets: total, users: userCount, concurrency: connectConcurrency, hibernate_wait_s: hibernateWait });
  const server = await startBenchServer({}, ctx.opts.verbose);
  const open: ChatSocket[] = [];
  let inspector: Profiler | null = null;
  try {
    const users = await server.api.loginMany("conn", Math.max(userCount, 1), 16);
    const conversation = await server.api.createGroup(users[0]!, users.slice(1), "connections");
    const runtime = server.processes.runtime!;
    const proxy = server.processes.proxy!;
    inspector = server.processes.proxy ? await Profiler.attach(server.processes.proxy, server.root).catch(() => null) : null;
    const memory = async (): Promise<Memory> => ({
      runtime_kib: rssKiB(runtime),
      proxy_kib: rssKiB(proxy),
      heap_kib: inspector ? await inspector.heapUsage().then((h) => Math.round(h.usedSize / 1024)).catch(() => null) : null,
    });

    // The object is awake with one socket (the probe) before the baseline; it stays open throughout.
    const probe = await ChatSocket.open(server.url, conversation, users[0]!.token);
    let probeSerial = 0;
    const probeSend = async () => {
      const cid = `probe-${probeSerial++}`;
      probe.send({ type: "message.send", client_id: cid, content: "probe" });
      await probe.waitFor((f) => f.type === "message.ack" && f.client_id === cid, 15_000, "probe ack");
      return cid;
    };
    await probeSend();
    await sleep(1_000);

    const failuresByReason: Record<string, number> = {};
    let failures = 0;
    const openAll = async (setup: Samples): Promise<number> => {
      const t0 = performance.now();
      await mapLimit(
        Array.from({ length: total }, (_, i) => i),
        connectConcurrency,
        async (i) => {
          const t = performance.now();
          try {
            const socket = await ChatSocket.open(server.url, conversation, users[i % userCount]!.token, 30_000);
            setup.push(performance.now() - t);
            open.push(socket);
          } catch (err) {
            failures++;
            const reason = String(err instanceof Error ? err.message : err).slice(0, 80);
            failuresByReason[reason] = (failuresByReason[reason] ?? 0) + 1;
          }
        },
      );
      return (performance.now() - t0) / 1000;
    };

    const setupRows: Cell[][] = [];
    const memoryRows: Cell[][] = [];
    const wakeRows: Cell[][] = [];
    const rounds: Record<string, unknown>[] = [];
    const perSocket = (m: Memory, base: Memory, n: number) => ({
      runtime: n > 0 ? (m.runtime_kib - base.runtime_kib) / n : NaN,
      proxy: n > 0 ? (m.proxy_kib - base.proxy_kib) / n : NaN,
      heap: n > 0 && m.heap_kib !== null && base.heap_kib !== null ? (m.heap_kib - base.heap_kib) / n : NaN,
    });
    let coldHibernated = NaN;
    let warmHibernated = NaN;
    let allEvicted = true;
    let allReached = true;

    for (const name of ["cold", "warm"] as const) {
      const base = await memory();
      memoryRows.push([`${name}: before (probe socket only)`, base.runtime_kib, null, base.proxy_kib, null, base.heap_kib, null]);
      log(`connections (${name}): opening ${total} sockets, ${connectConcurrency} at a time`);
      const setup = new Samples();
      const opened = await measured(ctx, server, section, `open (${name})`, () => openAll(setup));
      const n = open.length;
      await sleep(2_000);
      const awake = await memory();
      const pa = perSocket(awake, base, n);
      memoryRows.push([`${name}: ${n} sockets open, object awake`, awake.runtime_kib, pa.runtime, awake.proxy_kib, pa.proxy, awake.heap_kib, pa.heap]);

      log(`connections (${name}): idle ${hibernateWait} s for hibernation`);
      await sleep(hibernateWait * 1000);
      const idle = await memory();
      const stillOpen = open.filter((s) => !s.closed).length;
      // Reading the counters wakes the object: one that hibernated starts them again at zero.
      const evicted = (await server.api.stats(server.admin, conversation)).messages === 0;
      allEvicted &&= evicted;
      const pi = perSocket(idle, base, n);
      memoryRows.push([`${name}: after ${hibernateWait} s idle (${evicted ? "object hibernated" : "object NOT evicted"})`, idle.runtime_kib, pi.runtime, idle.proxy_kib, pi.proxy, idle.heap_kib, pi.heap]);
      if (name === "cold") coldHibernated = evicted ? pi.runtime : NaN;
      else warmHibernated = evicted ? pi.runtime : NaN;

      // One message wakes it and must reach every socket.
      const arrival = new Samples();
      let reached = 0;
      const cid = `probe-${probeSerial}`;
      const sentAt = performance.now();
      const offs = open.map((s) =>
        s.on((frame: Frame, at: number) => {
          if (frame.type === "message.new" && (frame.message as WireMessage).client_id === cid) {
            reached++;
            arrival.push(at - sentAt);
          }
        }),
      );
      await probeSend();
      await until(() => reached >= n, 20_000, 10);
      for (const off of offs) off();
      allReached &&= reached === n;
      const wake = arrival.summary();

      const t0 = performance.now();
      await closeAll(open.splice(0), 200);
      const closeSeconds = (performance.now() - t0) / 1000;
      await sleep(2_000);
      const closed = await memory();
      memoryRows.push([`${name}: all closed (+2 s)`, closed.runtime_kib, null, closed.proxy_kib, null, closed.heap_kib, null]);

      const s = setup.summary();
      setupRows.push([name, n, Math.round(n / opened.result), s.p50, s.p99, s.max, ...cpuCells(opened.cpu)]);
      wakeRows.push([name, n, reached, wake.p50, wake.p99, wake.max, round(closeSeconds, 2)]);
      if (!evicted) section.notes.push(`${name}: the object was not evicted after ${hibernateWait} s idle (its counters survived); that row is an awake object`);
      if (stillOpen < n) section.notes.push(`${name}: ${n - stillOpen} sockets closed during the idle period`);
      rounds.push({
        round: name,
        opened: n,
        open_seconds: opened.result,
        setup_per_s: n / opened.result,
        setup_latency_ms: roundSummary(s),
        memory_kib: { before: base, awake, idle, closed },
        per_socket_kib: { awake: pa, idle: pi },
        evicted_while_idle: evicted,
        sockets_still_open_after_idle: stillOpen,
        wake_message: { reached, latency_ms: roundSummary(wake) },
        close_seconds: closeSeconds,
        cpu_cores: opened.cpu,
      });
    }
    await probe.close();
    if (findRuntime(server.pid, server.port).runtime !== runtime) section.notes.push("the runtime workerd process changed during the run: memory numbers are not comparable");

    section.tables.push({
      title: `Connections: ${total} sockets to one conversation from ${userCount} user(s), ${connectConcurrency} setups in flight (setup = upgrade → hello, ms)`,
      headers: ["round", "opened", "setup/s", "p50", "p99", "max", ...CPU_HEADERS],
      rows: setupRows,
    });
    section.tables.push({
      title: "Connections: memory — VmRSS (KiB) of the runtime workerd (Worker + DOs) and of wrangler's proxy workerd, V8 heap used by the Worker isolate; Δ = per socket vs the round's 'before'",
      headers: ["moment", "runtime KiB", "Δ KiB/socket", "proxy KiB", "Δ KiB/socket", "V8 heap KiB", "Δ KiB/socket"],
      rows: memoryRows,
    });
    section.tables.push({
      title: "Connections: one message after the idle period (wakes the object) → every socket (ms from send)",
      headers: ["round", "sockets", "reached", "p50", "p99", "max", "close all (s)"],
      rows: wakeRows,
    });
    section.targets.push({
      target: "idle hibernated sockets ≤ 5 KiB each (runtime RSS)",
      measured: `cold ${round(coldHibernated, 1)} KiB/socket, warm ${round(warmHibernated, 1)} KiB/socket${allEvicted ? "" : " (object not evicted)"}`,
      met: allEvicted && coldHibernated <= 5,
    });
    section.targets.push({
      target: `all ${total} sockets open, and a message after hibernation reaches every one`,
      measured: `failed ${failures}, every socket reached: ${allReached ? "yes" : "no"}`,
      met: failures === 0 && allReached,
    });
    section.data = { ...section.data, failures, failures_by_reason: failuresByReason, rounds };
  } finally {
    inspector?.close();
    await closeAll(open, 200);
    await server.stop();
  }
  return section;
}
