/**
 * How deep client JSON (a message's `data`, a conversation's `metadata`) may nest: the object
 * itself is level 1, so an object or array at level 33 is refused. Deeply nested values cost
 * little to send but overflow the stack of whatever walks them later (structured clone across
 * RPC, JSON.stringify), which would make every page holding one fail.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Pure: the nesting depth of a JSON value — 0 for a scalar, 1 for an object or array holding
 * only scalars, one more per level below. Counting stops past `limit` (it answers `limit + 1`),
 * so a hostile value costs no more stack than the limit allows, however deep it goes.
 */
export function jsonDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  if (typeof value !== "object" || value === null) return 0;
  if (limit <= 0) return 1;
  let deepest = 0;
  for (const member of Array.isArray(value) ? value : Object.values(value)) {
    deepest = Math.max(deepest, jsonDepth(member, limit - 1));
    if (deepest >= limit) break;
  }
  return 1 + deepest;
}
