// 1. Fan-out: one conversation, one sender and N listeners; the sender sends at a fixed rate and
// every listener's send→receive latency is measured; every listener must get every message once,
// in order. Each N runs on its own fresh server, so a run that overloads the server cannot spill
// into the next one. The sender stops early once the server is more than LAG_LIMIT_MS behind
// (the latency target is lost by then, and piling on only lengthens the backlog), and the run
// waits at most DRAIN_MS for the rest; whatever has not arrived by then is reported as missing.
import { ChatSocket, type Frame, type WireMessage } from "../lib/client.ts";
import { tryStats } from "../lib/cost.ts";
import { ioOf } from "../lib/proc.ts";
import { costRow, newSection, type Cell, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { startBenchServer } from "../lib/server.ts";
import { round, roundSummary, Samples, summarize, type Summary } from "../lib/stats.ts";
import { log, mapLimit, until } from "../lib/util.ts";

const LAG_LIMIT_MS = 5_000;
const DRAIN_MS = 20_000;

interface ListenerState {
  received: Uint8Array;
  count: number;
  lastSeq: number;
  outOfOrder: number;
  duplicates: number;
  latency: Samples;
}

export async function fanout(ctx: Context): Promise<Section> {
  const { listeners: counts, rate, duration, contentLength } = ctx.opts;
  const section = newSection("fanout", { listeners: counts, rate_per_s: rate, duration_s: duration, content_length: contentLength, lag_limit_ms: LAG_LIMIT_MS, drain_ms: DRAIN_MS });
  const rows: Cell[][] = [];
  const runs: Record<string, unknown>[] = [];
  for (const n of counts) {
    const server = await startBenchServer({}, ctx.opts.verbose);
    let sockets: ChatSocket[] = [];
    try {
      log(`fanout: logging in ${n + 1} users`);
      const users = await server.api.loginMany("fan", n + 1);
      const sender = users[0]!;
      const conversation = await server.api.createGroup(sender, users.slice(1), `fanout-${n}`);
      const listenerSockets = await mapLimit(users.slice(1), 20, (u) => ChatSocket.open(server.url, conversation, u.token));
      const senderSocket = await ChatSocket.open(server.url, conversation, sender.token);
      sockets = [...listenerSockets, senderSocket];

      const total = Math.max(1, Math.round(rate * duration));
      const content = "x".repeat(contentLength);
      const prefix = `f${n}-`;
      const sendAt = new Float64Array(total);
      const acked = new Uint8Array(total);
      const ackLatency = new Samples();
      const errors: Record<string, number> = {};
      let ackCount = 0;
      let oldestUnacked = 0;
      senderSocket.on((frame: Frame, at: number) => {
        if (frame.type === "message.ack") {
          const cid = frame.client_id as string;
          if (!cid.startsWith(prefix)) return;
          const i = Number(cid.slice(prefix.length));
          if (!acked[i]) {
            acked[i] = 1;
            ackCount++;
            ackLatency.push(at - sendAt[i]!);
            while (oldestUnacked < total && acked[oldestUnacked]) oldestUnacked++;
          }
        } else if (frame.type === "error") errors[String(frame.code)] = (errors[String(frame.code)] ?? 0) + 1;
      });
      const states: ListenerState[] = listenerSockets.map((socket) => {
        const st: ListenerState = { received: new Uint8Array(total), count: 0, lastSeq: 0, outOfOrder: 0, duplicates: 0, latency: new Samples() };
        socket.on((frame: Frame, at: number) => {
          if (frame.type !== "message.new") return;
          const m = frame.message as WireMessage;
          if (m.seq <= st.lastSeq) st.outOfOrder++;
          else st.lastSeq = m.seq;
          const cid = m.client_id;
          if (!cid || !cid.startsWith(prefix)) return;
          const i = Number(cid.slice(prefix.length));
          if (st.received[i]) {
            st.duplicates++;
            return;
          }
          st.received[i] = 1;
          st.count++;
          st.latency.push(at - sendAt[i]!);
        });
        return st;
      });

      // Warm-up (not measured): a few messages everyone must see.
      const warm = 20;
      for (let i = 0; i < warm; i++) senderSocket.send({ type: "message.send", client_id: `warm-${i}`, content });
      await until(() => states.every((s) => s.lastSeq >= warm), 30_000);
      const before = await tryStats(server.api, server.admin, [conversation]);

      log(`fanout: ${n} listeners, ${total} messages at ${rate}/s`);
      const io0 = ioOf(server.processes.runtime);
      let sent = 0;
      let sendSeconds = 0;
      let drained = false;
      let stoppedEarlyAt: number | null = null;
      const everyoneHasAll = () => ackCount === sent && states.every((s) => s.count === sent);
      const phase = await measured(ctx, server, section, `${n} listeners`, async () => {
        const start = performance.now();
        await new Promise<void>((resolve) => {
          const tick = () => {
            const now = performance.now();
            if (oldestUnacked < sent && now - sendAt[oldestUnacked]! > LAG_LIMIT_MS) {
              stoppedEarlyAt = (now - start) / 1000;
              return resolve();
            }
            const due = Math.min(total, Math.floor(((now - start) / 1000) * rate) + 1);
            while (sent < due) {
              sendAt[sent] = performance.now();
              senderSocket.send(`{"type":"message.send","client_id":"${prefix}${sent}","content":"${content}"}`);
              sent++;
            }
            if (sent >= total) return resolve();
            setTimeout(tick, Math.max(0, start + (sent / rate) * 1000 - performance.now()));
          };
          tick();
        });
        sendSeconds = (performance.now() - start) / 1000;
        drained = await until(everyoneHasAll, DRAIN_MS, 10);
      });
      const io1 = ioOf(server.processes.runtime);
      const after = drained ? await tryStats(server.api, server.admin, [conversation], (err) => section.notes.push(`${n} listeners: cost counters unavailable (${String(err)})`)) : null;
      if (stoppedEarlyAt !== null) section.notes.push(`${n} listeners: the sender stopped after ${round(stoppedEarlyAt, 1)} s (${sent} of ${total} sent): the server was more than ${LAG_LIMIT_MS / 1000} s behind`);
      if (!drained) section.notes.push(`${n} listeners: ${DRAIN_MS / 1000} s after the last send, acked ${ackCount}/${sent} and listeners had ${states.reduce((a, s) => a + s.count, 0)}/${sent * n}; counted as missing, the server was stopped with its backlog`);

      const all = new Samples();
      const perListener: Summary[] = [];
      for (const st of states) {
        const v = st.latency.values();
        for (let i = 0; i < v.length; i++) all.push(v[i]!);
        perListener.push(summarize(v));
      }
      const aggregate = all.summary();
      const worstP99 = Math.max(...perListener.map((s) => s.p99));
      const missing = states.reduce((a, s) => a + (sent - s.count), 0);
      const outOfOrder = states.reduce((a, s) => a + s.outOfOrder, 0);
      const duplicates = states.reduce((a, s) => a + s.duplicates, 0);
      const cost = costRow("fanout", `${n} listeners`, before, after, ackCount, { write_bytes: io1.write_bytes - io0.write_bytes, write_syscalls: io1.write_syscalls - io0.write_syscalls });
      section.costs.push(cost);
      rows.push([n, round(sent / sendSeconds, 1), sent, ackCount, aggregate.p50, aggregate.p95, aggregate.p99, aggregate.max, worstP99, missing, outOfOrder + duplicates, drained, ...cpuCells(phase.cpu)]);
      runs.push({
        listeners: n,
        planned: total,
        sent,
        acked: ackCount,
        send_seconds: sendSeconds,
        achieved_rate_per_s: sent / sendSeconds,
        sender_stopped_early_at_s: stoppedEarlyAt,
        drained,
        latency_ms_all_listeners: roundSummary(aggregate),
        latency_ms_per_listener: perListener.map((s) => roundSummary(s)),
        worst_listener_p99_ms: worstP99,
        median_listener_p99_ms: summarize(perListener.map((s) => s.p99)).p50,
        ack_latency_ms: roundSummary(ackLatency.summary()),
        missing_at_cutoff: missing,
        out_of_order: outOfOrder,
        duplicates,
        errors,
        cost,
        cpu_cores: phase.cpu,
        client_loop_lag_ms: phase.loopLag,
      });
      if (n === 10) {
        section.targets.push({
          target: `fan-out to 10 listeners at ${rate} msg/s: p99 ≤ 10 ms (every listener)`,
          measured: `p99 all ${aggregate.p99.toFixed(2)} ms, worst listener ${worstP99.toFixed(2)} ms${stoppedEarlyAt !== null ? `; sender stopped at ${round(stoppedEarlyAt, 1)} s` : ""}`,
          met: worstP99 <= 10 && rate >= 200 && stoppedEarlyAt === null && drained,
        });
      }
      section.targets.push({
        target: `fan-out ${n} listeners: 0 lost, 0 out of order`,
        measured: drained
          ? `lost ${missing}, out of order ${outOfOrder}, duplicates ${duplicates}`
          : `not drained: ${missing} deliveries missing at the cut-off (server behind, not proven lost); out of order ${outOfOrder}, duplicates ${duplicates}`,
        met: drained && missing === 0 && outOfOrder === 0 && duplicates === 0,
      });
    } catch (err) {
      section.notes.push(`${n} listeners: run failed: ${err instanceof Error ? err.message : String(err)}`);
      section.targets.push({ target: `fan-out ${n} listeners completes`, measured: "failed", met: false });
    } finally {
      for (const s of sockets) s.terminate();
      await server.stop();
    }
  }
  section.tables.push({
    title: `Fan-out: 1 sender → N listeners at ${rate} msg/s for up to ${duration} s (send→receive latency over all listeners, ms; missing = deliveries not made by the cut-off)`,
    headers: ["listeners", "msg/s sent", "sent", "acked", "p50", "p95", "p99", "max", "worst p99", "missing", "ooo+dup", "drained", ...CPU_HEADERS],
    rows,
  });
  section.data.runs = runs;
  return section;
}
