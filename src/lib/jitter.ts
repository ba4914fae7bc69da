/**
 * `ms` spread uniformly over ±25 %: background rounds that objects schedule per window (write-behind
 * saves, spend reports) must not fire together when many objects started together (a deploy, a
 * reconnect storm), or every object's round lands in the same instant and stalls the messages of all.
 */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.75 + 0.5 * random()));
}
