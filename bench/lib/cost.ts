// Reading the cost counters once the asynchronous D1 summary flushes have settled.
import type { Api, ConversationStats, User } from "./api.ts";
import { addStats, ZERO_STATS } from "./report.ts";
import { mapLimit, sleep } from "./util.ts";

async function sum(api: Api, admin: User, ids: string[]): Promise<ConversationStats> {
  const all = await mapLimit(ids, 8, (id) => api.stats(admin, id));
  return all.reduce(addStats, { ...ZERO_STATS });
}

/**
 * Like settledStats, but answers null instead of throwing: while a conversation object still
 * works through a backlog of socket frames, calls to it (and to the rest of the local runtime)
 * wait until the backlog is gone, which can outlast the request timeout.
 */
export async function tryStats(api: Api, admin: User, ids: string[], onError?: (err: unknown) => void): Promise<ConversationStats | null> {
  try {
    return await settledStats(api, admin, ids);
  } catch (err) {
    onError?.(err);
    return null;
  }
}

/**
 * Sums the counters of `ids`, re-reading (at most `timeoutMs`) until two reads 250 ms apart agree:
 * a D1 flush runs after the ack, so counters read right after the last ack can still move.
 */
export async function settledStats(api: Api, admin: User, ids: string[], timeoutMs = 5_000): Promise<ConversationStats> {
  const deadline = Date.now() + timeoutMs;
  let previous = await sum(api, admin, ids);
  while (Date.now() < deadline) {
    await sleep(250);
    const current = await sum(api, admin, ids);
    if (JSON.stringify(current) === JSON.stringify(previous)) return current;
    previous = current;
  }
  return previous;
}
