// Reading the cost counters once the asynchronous D1 writes have settled: the conversation
// objects' own counters (GET /api/v1/conversations/{id}/stats) and the mirror queue consumer's
// meter (GET /api/v1/admin/mirror), which writes the conversations' summaries to D1 in batches.
import type { Api, User } from "./api.ts";
import { addStats, ZERO_STATS, type Counters } from "./report.ts";
import { mapLimit, sleep } from "./util.ts";

/**
 * How far apart two reads must agree to call the counters settled: longer than the mirror
 * consumer's batch timeout (max_batch_timeout = 0.5 s in wrangler.toml) plus the queue send and
 * the D1 batch itself, so an update still waiting in the queue shows up in the second read.
 */
export const SETTLE_GAP_MS = 1_200;

async function read(api: Api, admin: User, ids: string[]): Promise<Counters> {
  const all = await mapLimit(ids, 8, (id) => api.stats(admin, id));
  const meter = await api.mirror(admin);
  return { ...all.reduce(addStats, { ...ZERO_STATS }), mirror_batches: meter.batches, mirror_messages: meter.messages, mirror_statements: meter.statements };
}

/**
 * Like settledStats, but answers null instead of throwing: while a conversation object still
 * works through a backlog of socket frames, calls to it (and to the rest of the local runtime)
 * wait until the backlog is gone, which can outlast the request timeout.
 */
export async function tryStats(api: Api, admin: User, ids: string[], onError?: (err: unknown) => void): Promise<Counters | null> {
  try {
    return await settledStats(api, admin, ids);
  } catch (err) {
    onError?.(err);
    return null;
  }
}

/**
 * Sums the counters of `ids` and reads the mirror meter, re-reading (at most `timeoutMs`) until
 * two reads SETTLE_GAP_MS apart agree: a message's summary reaches D1 after its ack (the object's
 * queue send, then the consumer's batch), so counters read right after the last ack still move.
 */
export async function settledStats(api: Api, admin: User, ids: string[], timeoutMs = 15_000): Promise<Counters> {
  const deadline = Date.now() + timeoutMs;
  let previous = await read(api, admin, ids);
  while (Date.now() < deadline) {
    await sleep(SETTLE_GAP_MS);
    const current = await read(api, admin, ids);
    if (JSON.stringify(current) === JSON.stringify(previous)) return current;
    previous = current;
  }
  return previous;
}
