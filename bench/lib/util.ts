// Small helpers: sleeping, bounded waiting, bounded concurrency.

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it held. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Rejects after `ms` with a message naming what was awaited. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${message}\n`);
}

/** Measures how late the event loop runs timers: a sign that the load generator, not the server, is the bottleneck. */
export class LoopLag {
  private timer: NodeJS.Timeout | null = null;
  private expected = 0;
  max = 0;
  total = 0;
  samples = 0;

  start(intervalMs = 10): void {
    this.expected = performance.now() + intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - this.expected);
      this.max = Math.max(this.max, lag);
      this.total += lag;
      this.samples++;
      this.expected = now + intervalMs;
    }, intervalMs);
  }

  stop(): { mean_ms: number; max_ms: number } {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return { mean_ms: this.samples ? this.total / this.samples : 0, max_ms: this.max };
  }
}
