/** Reconnect delays: exponential growth, full jitter, bounded. Pure: randomness is injected. */
export interface BackoffOptions {
  /** Ceiling of the first retry, in ms. Default 500. */
  baseMs?: number;
  /** No delay is ever longer than this, in ms. Default 30 000. */
  maxMs?: number;
  /** Growth factor per attempt. Default 2. */
  factor?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 500, maxMs: 30_000, factor: 2 };

/** The upper bound for retry `attempt` (0-based): min(maxMs, baseMs · factor^attempt). */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs, maxMs, factor } = { ...DEFAULT_BACKOFF, ...options };
  const exponent = Math.max(0, Math.floor(attempt));
  // Cap the exponent so factor^exponent stays finite for absurd attempt counts.
  const grown = baseMs * Math.pow(factor, Math.min(exponent, 64));
  return Math.max(0, Math.min(maxMs, Number.isFinite(grown) ? grown : maxMs));
}

/**
 * "Full jitter": a uniformly random delay in [0, ceiling], so many clients dropped at once do not
 * come back in lockstep. `random` returns a number in [0, 1) (default Math.random).
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(backoffCeiling(attempt, options) * r);
}
