// 12. Sends with the webhook receiver up and down: the same load (the `fanout` load with a few
// listeners) against a fresh server per receiver mode, each started with WEBHOOK_URL pointing at
// a receiver in this process (lib/webhook-receiver.ts, 127.0.0.1) and WEBHOOK_SECRET set: `up`
// answers 200 at once, `refused` has nothing listening, `hanging` never answers. Events leave the
// send path through a queue, so the send→ack latency should not care whether anyone receives them.
import { randomBytes } from "node:crypto";
import { ChatSocket } from "../lib/client.ts";
import { DRAIN_MS, FanoutRun, runJson, runNotes, type FanoutFigures } from "../lib/fanout-run.ts";
import { newSection, type Cell, type Section } from "../lib/report.ts";
import { cpuCells, CPU_HEADERS, measured, type Context } from "../lib/scenario.ts";
import { startBenchServer } from "../lib/server.ts";
import { round, roundSummary, summarize, type Summary } from "../lib/stats.ts";
import { WebhookReceiver, type ReceiverMode } from "../lib/webhook-receiver.ts";
import { log, mapLimit, until } from "../lib/util.ts";

/** Listeners besides the sender: every message is also delivered, as in a real conversation. */
const LISTENERS = 2;
/** the target: down p99 ≤ this × up p99, or ≤ up p99 + SLACK_MS, whichever is looser */
const P99_RATIO_TARGET = 1.2;
const P99_SLACK_MS = 2;

interface ModeFigures {
  load: FanoutFigures;
  /** send → the receiver's answer to its message.new event (mode up) */
  webhook: Summary | null;
}

async function runMode(ctx: Context, section: Section, mode: ReceiverMode, rows: Cell[][], runs: Record<string, unknown>[]): Promise<ModeFigures> {
  const { rate, duration, contentLength } = ctx.opts;
  const label = `receiver ${mode}`;
  const secret = randomBytes(16).toString("hex");
  const receiver = await WebhookReceiver.start(mode, secret);
  const sockets: ChatSocket[] = [];
  try {
    const server = await startBenchServer({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret }, ctx.opts.verbose);
    try {
      const users = await server.api.loginMany(`wh-${mode}`, LISTENERS + 1);
      const id = await server.api.createGroup(users[0]!, users.slice(1), `wh-${mode}`);
      sockets.push(...(await mapLimit(users, 8, (u) => ChatSocket.open(server.url, id, u.token))));
      const load = new FanoutRun(sockets[0]!, sockets.slice(1), `wh-${mode}-`, "x".repeat(contentLength), rate, duration);
      await load.warmUp();
      log(`webhooks: receiver ${mode} (${receiver.url}), ${rate} msg/s for ${duration} s`);
      const phase = await measured(ctx, server, section, label, () => load.run(rate));
      const f = load.figures();
      section.notes.push(...runNotes(label, f));
      const webhook = mode === "up" ? await receipts(section, receiver, load, f.sent) : null;
      rows.push([mode, round(f.achievedRate, 1), f.sent, f.acked, f.ack.p50, f.ack.p99, f.ack.max, f.latency.p50, f.latency.p99, f.missing, webhook ? webhook.count : null, webhook?.p50 ?? null, webhook?.p99 ?? null, mode === "hanging" ? receiver.held : null, ...cpuCells(phase.cpu)]);
      runs.push({ mode, ...runJson(f), webhook_latency_ms: webhook ? roundSummary(webhook) : null, held_requests: receiver.held, bad_signatures: receiver.badSignatures, cpu_cores: phase.cpu, client_loop_lag_ms: phase.loopLag });
      return { load: f, webhook };
    } finally {
      for (const s of sockets) s.terminate();
      await server.stop();
    }
  } finally {
    await receiver.stop();
  }
}

/** Waits (bounded) for the message.new event of every measured message; send → receipt latency of those that came. */
async function receipts(section: Section, receiver: WebhookReceiver, load: FanoutRun, sent: number): Promise<Summary> {
  const measuredEvents = () => receiver.deliveries.filter((d) => d.type === "message.new" && d.clientId !== null && load.sentAt(d.clientId) !== null);
  await until(() => measuredEvents().length >= sent, DRAIN_MS, 100);
  const events = measuredEvents();
  if (events.length < sent) section.notes.push(`receiver up: ${events.length} of ${sent} message.new events arrived within ${DRAIN_MS / 1000} s of the last send`);
  if (receiver.badSignatures > 0) section.notes.push(`receiver up: ${receiver.badSignatures} deliveries did not verify (body or X-Chat-Signature)`);
  return summarize(events.map((d) => d.at - load.sentAt(d.clientId!)!));
}

export async function webhooks(ctx: Context): Promise<Section> {
  const { rate, duration, webhookDown } = ctx.opts;
  const section = newSection("webhooks", { rate_per_s: rate, duration_s: duration, listeners: LISTENERS, down_modes: webhookDown });
  const rows: Cell[][] = [];
  const runs: Record<string, unknown>[] = [];
  const up = await runMode(ctx, section, "up", rows, runs);
  const down = new Map<ReceiverMode, ModeFigures>();
  for (const mode of webhookDown) down.set(mode, await runMode(ctx, section, mode, rows, runs));

  section.tables.push({
    title: `Sends with the webhook receiver up and down: 1 sender (+${LISTENERS} listeners) at ${rate} msg/s for up to ${duration} s, a fresh server per mode with WEBHOOK_URL on 127.0.0.1 (ms; webhook = send → the receiver got its message.new event; held = requests the hanging receiver never answered)`,
    headers: ["receiver", "msg/s sent", "sent", "acked", "ack p50", "ack p99", "ack max", "deliver p50", "deliver p99", "missing", "webhooks", "webhook p50", "webhook p99", "held", ...CPU_HEADERS],
    rows,
  });
  const upP99 = up.load.ack.p99;
  const bound = Math.max(upP99 * P99_RATIO_TARGET, upP99 + P99_SLACK_MS);
  const which = upP99 * P99_RATIO_TARGET >= upP99 + P99_SLACK_MS ? `${P99_RATIO_TARGET} × up` : `up + ${P99_SLACK_MS} ms`;
  for (const [mode, f] of down) {
    const p99 = f.load.ack.p99;
    section.targets.push({
      target: `send→ack p99 with the receiver ${mode} ≈ with it up: ≤ ${P99_RATIO_TARGET} × or + ${P99_SLACK_MS} ms, whichever is looser (here ${which})`,
      measured: `up ${upP99.toFixed(2)} ms, ${mode} ${p99.toFixed(2)} ms, ratio ${round(p99 / upP99, 2)} (bound ${bound.toFixed(2)} ms)${f.load.clean && up.load.clean ? "" : "; not clean (lost or out of order)"}`,
      met: p99 <= bound && f.load.clean && up.load.clean,
    });
  }
  section.data.runs = runs;
  section.data.ack_p99_bound_ms = round(bound, 3);
  return section;
}
