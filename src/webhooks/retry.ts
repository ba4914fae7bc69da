/**
 * The delivery retry policy (pure). A failed delivery (non-2xx answer, timeout, network error)
 * is retried after base, 2·base, 4·base … seconds, each at most MAX_DELAY_SECONDS; after
 * MAX_ATTEMPTS attempts it is recorded as undeliverable. With the default base of 10 s:
 * 10, 20, 40, 80, 160, 320, 640, then 900 s four times: the last attempt comes about 81 minutes
 * after the first.
 */
export const MAX_ATTEMPTS = 12;
export const MAX_DELAY_SECONDS = 900;

/** The wait before the next attempt, after `attempts` attempts (1 for the first failure). */
export function retryDelaySeconds(attempts: number, baseSeconds: number): number {
  return Math.min(MAX_DELAY_SECONDS, baseSeconds * 2 ** Math.max(0, attempts - 1));
}

/** After the attempt numbered `attempts` failed, there is no other. */
export const isFinalAttempt = (attempts: number) => attempts >= MAX_ATTEMPTS;

/** How long after the first attempt the last one comes (the sum of all waits). */
export function retryWindowSeconds(baseSeconds: number): number {
  let total = 0;
  for (let attempts = 1; attempts < MAX_ATTEMPTS; attempts++) total += retryDelaySeconds(attempts, baseSeconds);
  return total;
}
