// 6. Cost per message, in isolation: D1 requests, writes and rows, Durable Object storage rows and
// socket frames per message for a direct conversation (both users connected), sent one at a time
// over the socket, in a burst over the socket, and one at a time over REST; and a group of 10
// online. Messages reach D1 through the mirror queue, so the D1 figures add the queue consumer's
// batches and statements (GET /api/v1/admin/mirror, read with the objects' counters once both
// have settled) to the objects' own direct D1 writes. Every other scenario reports the same
// counters for its own traffic.
import { ChatSocket, closeAll } from "../lib/client.ts";
import { tryStats } from "../lib/cost.ts";
import { pipeline } from "../lib/load.ts";
import { costRow, newSection, type CostRow, type Section } from "../lib/report.ts";
import { measured, type Context } from "../lib/scenario.ts";
import { startBenchServer, type BenchServer } from "../lib/server.ts";
import { log, sleep } from "../lib/util.ts";

/** Sends `count` messages one at a time over the socket, each after the previous ack and a pause. */
async function paced(socket: ChatSocket, count: number, prefix: string, content: string, pauseMs: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const ack = socket.waitFor((f) => f.type === "message.ack" && f.client_id === `${prefix}${i}`, 10_000, `ack ${prefix}${i}`);
    socket.send({ type: "message.send", client_id: `${prefix}${i}`, content });
    await ack;
    if (pauseMs > 0) await sleep(pauseMs);
  }
}

export async function cost(ctx: Context): Promise<Section> {
  const { costMessages: count, contentLength } = ctx.opts;
  const section = newSection("cost", { messages_per_run: count, content_length: contentLength });
  const server: BenchServer = await startBenchServer({}, ctx.opts.verbose);
  const content = "x".repeat(contentLength);
  try {
    const users = await server.api.loginMany("cost", 10);
    const [a, b] = [users[0]!, users[1]!];
    const direct = await server.api.createDirect(a, b);
    const sa = await ChatSocket.open(server.url, direct, a.token);
    const sb = await ChatSocket.open(server.url, direct, b.token);
    const run = async (label: string, conversation: string, work: () => Promise<unknown>): Promise<CostRow> => {
      const before = await tryStats(server.api, server.admin, [conversation]);
      log(`cost: ${label}`);
      const phase = await measured(ctx, server, section, label, work);
      const after = await tryStats(server.api, server.admin, [conversation], (err) => section.notes.push(`${label}: counters unavailable (${String(err)})`));
      const row = costRow("cost", label, before, after, count, phase.cpu.runtime_io);
      section.costs.push(row);
      return row;
    };
    await paced(sa, 10, "warm-", content, 0);
    const rows: CostRow[] = [];
    rows.push(await run(`direct, socket, one at a time (ack + 20 ms pause) × ${count}`, direct, () => paced(sa, count, "p-", content, 20)));
    rows.push(await run(`direct, socket, burst (64 in flight) × ${count}`, direct, () => pipeline([sa], { window: 64, total: count, prefix: "b-", content })));
    rows.push(
      await run(`direct, REST POST one at a time × ${count}`, direct, async () => {
        for (let i = 0; i < count; i++) {
          await server.api.request("POST", `/api/v1/conversations/${direct}/messages`, a.token, { content, client_id: `r-${i}` });
        }
      }),
    );
    await closeAll([sa, sb]);

    const group = await server.api.createGroup(a, users.slice(1), "cost-group");
    const sockets = await Promise.all(users.map((u) => ChatSocket.open(server.url, group, u.token)));
    await paced(sockets[0]!, 10, "warm-", content, 0);
    rows.push(await run(`group of 10 all online, socket, one at a time × ${count}`, group, () => paced(sockets[0]!, count, "g-", content, 20)));
    await closeAll(sockets);

    const worst = Math.max(...rows.map((r) => r.d1_writes_per_message));
    section.targets.push({
      target: "≤ 1 D1 write per message (statements: the objects' direct ones + the mirror consumer's)",
      measured: `worst ${worst} D1 writes/msg over the cost runs (${rows.map((r) => r.d1_writes_per_message).join(", ")}); D1 requests/msg (direct+batches) ${rows.map((r) => `${r.d1_requests_per_message} (${r.direct_d1_flushes}+${r.mirror_batches})`).join(", ")}`,
      met: worst <= 1 && rows.every((r) => r.reliable),
    });
    const worstRows = Math.max(...rows.map((r) => r.storage_rows_per_message));
    section.targets.push({
      target: "≤ 2 storage rows written per message (the conversation object's storage_rows_written / messages)",
      measured: `worst ${worstRows} DO rows/msg over the cost runs (${rows.map((r) => r.storage_rows_per_message).join(", ")})`,
      met: worstRows <= 2 && rows.every((r) => r.reliable),
    });
  } finally {
    await server.stop();
  }
  return section;
}
