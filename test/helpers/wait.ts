export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** from, from + 1, …, to. */
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export interface EventuallyOptions<T> {
  /** When the polled value is good enough; by default, when it is truthy. */
  until?: (value: T) => boolean;
  timeoutMs?: number;
  intervalMs?: number;
  /** Names the condition in the timeout error. */
  what?: string;
}

/**
 * Polls `probe` until `until` holds for its value (by default: until the value is truthy) and
 * returns that value; throws, with the last value, once `timeoutMs` has passed without it.
 */
export async function eventually<T>(probe: () => Promise<T>, options: EventuallyOptions<T> = {}): Promise<T> {
  const { until = (value: T) => Boolean(value), timeoutMs = 2_000, intervalMs = 25, what = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (until(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${show(value)})`);
    await sleep(intervalMs);
  }
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
