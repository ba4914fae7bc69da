// 3. Many conversations: C direct conversations of two users each, all at once. Each side answers
// the other's message as soon as it arrives (a rally; R rallies per conversation), so the
// aggregate rate is what the server sustains for C busy conversations, with send→receive latency.
import { ChatSocket, closeAll, type Frame, type WireMessage } from "../lib/client.ts";
import { tryStats } from "../lib/cost.ts";
import { SeqTracker } from "../lib/load.ts";
import { costRow, newSection, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { startBenchServer } from "../lib/server.ts";
import { roundSummary, Samples } from "../lib/stats.ts";
import { log, mapLimit, until } from "../lib/util.ts";

interface Side {
  socket: ChatSocket;
  userId: string;
  conversation: number;
  partner: Side | null;
  tracker: SeqTracker;
}

interface Phase {
  prefix: string;
  end: number;
  sendAt: Map<string, number>;
  sent: number;
  acked: number;
  received: number;
  receivedInWindow: number;
  latency: Samples;
  ackLatency: Samples;
  errors: Record<string, number>;
}

export async function many(ctx: Context): Promise<Section> {
  const { conversations: count, rallies, duration, contentLength } = ctx.opts;
  const section = newSection("many", { conversations: count, users_per_conversation: 2, rallies, duration_s: duration, content_length: contentLength });
  const server = await startBenchServer({}, ctx.opts.verbose);
  try {
    log(`many: ${count * 2} users, ${count} conversations`);
    const users = await server.api.loginMany("many", count * 2, 16);
    const ids = await mapLimit(
      Array.from({ length: count }, (_, i) => i),
      8,
      (i) => server.api.createDirect(users[2 * i]!, users[2 * i + 1]!),
    );
    const sides: Side[] = await mapLimit(users, 20, async (u, i) => ({
      socket: await ChatSocket.open(server.url, ids[Math.floor(i / 2)]!, u.token),
      userId: u.id,
      conversation: Math.floor(i / 2),
      partner: null,
      tracker: new SeqTracker(),
    }));
    for (let i = 0; i < count; i++) {
      sides[2 * i]!.partner = sides[2 * i + 1]!;
      sides[2 * i + 1]!.partner = sides[2 * i]!;
    }
    const content = "x".repeat(contentLength);
    let phase: Phase | null = null;
    let serial = 0;
    const send = (side: Side, p: Phase) => {
      const cid = `${p.prefix}${serial++}`;
      p.sendAt.set(cid, performance.now());
      p.sent++;
      side.socket.send(`{"type":"message.send","client_id":"${cid}","content":"${content}"}`);
    };
    for (const side of sides) {
      side.tracker.attach(side.socket);
      side.socket.on((frame: Frame, at: number) => {
        const p = phase;
        if (!p) return;
        if (frame.type === "message.ack") {
          const sentAt = p.sendAt.get(frame.client_id as string);
          if (sentAt !== undefined) {
            p.acked++;
            p.ackLatency.push(at - sentAt);
          }
        } else if (frame.type === "message.new") {
          const m = frame.message as WireMessage;
          if (m.sender_id === side.userId || !m.client_id?.startsWith(p.prefix)) return;
          const sentAt = p.sendAt.get(m.client_id);
          if (sentAt === undefined) return;
          p.received++;
          if (at <= p.end) p.receivedInWindow++;
          p.latency.push(at - sentAt);
          if (at < p.end) send(side, p);
        } else if (frame.type === "error") {
          p.errors[String(frame.code)] = (p.errors[String(frame.code)] ?? 0) + 1;
        }
      });
    }
    const run = async (prefix: string, seconds: number): Promise<Phase> => {
      const p: Phase = { prefix, end: performance.now() + seconds * 1000, sendAt: new Map(), sent: 0, acked: 0, received: 0, receivedInWindow: 0, latency: new Samples(), ackLatency: new Samples(), errors: {} };
      phase = p;
      for (let i = 0; i < count; i++) for (let r = 0; r < rallies; r++) send(sides[2 * i]!, p);
      await until(() => performance.now() >= p.end, seconds * 1000 + 100, 20);
      await until(() => p.acked === p.sent && p.received === p.sent, 20_000, 10);
      return p;
    };

    await run("w-", 1); // warm-up, not measured
    const before = await tryStats(server.api, server.admin, ids);
    log(`many: ${count} conversations × ${rallies} rallies for ${duration} s`);
    const measuredPhase = await measured(ctx, server, section, `${count} conversations`, () => run("m-", duration));
    phase = null;
    const after = await tryStats(server.api, server.admin, ids, (err) => section.notes.push(`cost counters unavailable (${String(err)})`));
    const p = measuredPhase.result;

    const finalSeq = new Map<number, number>();
    for (const s of sides) finalSeq.set(s.conversation, Math.max(finalSeq.get(s.conversation) ?? 0, s.tracker.last));
    const lost = sides.reduce((a, s) => a + s.tracker.lost(finalSeq.get(s.conversation) ?? 0), 0);
    const backwards = sides.reduce((a, s) => a + s.tracker.backwards, 0);
    const latency = p.latency.summary();
    const ack = p.ackLatency.summary();
    const rate = p.receivedInWindow / duration;
    const cost = costRow("many", `${count} conversations`, before, after, p.acked, measuredPhase.cpu.runtime_io);
    section.costs.push(cost);
    section.tables.push({
      title: `Many conversations: ${count} × 2 users, ${rallies} message(s) in flight each, ${duration} s (send→partner receive latency, ms)`,
      headers: ["convs", "msg/s", "messages", "p50", "p95", "p99", "max", "ack p50", "ack p99", "lost", "ooo", "unacked", ...CPU_HEADERS],
      rows: [[count, Math.round(rate), p.received, latency.p50, latency.p95, latency.p99, latency.max, ack.p50, ack.p99, lost, backwards, p.sent - p.acked, ...cpuCells(measuredPhase.cpu)]],
    });
    section.targets.push({
      target: `many conversations: 0 lost, 0 out of order`,
      measured: `lost ${lost}, out of order ${backwards}, unacked ${p.sent - p.acked}`,
      met: lost === 0 && backwards === 0 && p.sent === p.acked,
    });
    section.data.run = {
      conversations: count,
      rallies,
      sent: p.sent,
      acked: p.acked,
      received: p.received,
      received_in_window: p.receivedInWindow,
      messages_per_s: rate,
      latency_ms: roundSummary(latency),
      ack_latency_ms: roundSummary(ack),
      lost,
      out_of_order: backwards,
      errors: p.errors,
      cost,
      cpu_cores: measuredPhase.cpu,
      client_loop_lag_ms: measuredPhase.loopLag,
    };
    await closeAll(sides.map((s) => s.socket));
  } finally {
    await server.stop();
  }
  return section;
}
