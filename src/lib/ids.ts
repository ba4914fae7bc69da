const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random opaque id with a readable prefix, e.g. `usr_k3j…` (20 chars of base36, ~103 bits). */
export function newId(prefix: "usr" | "cnv" | "tkt" | "ofr" | "att" | "frq"): string {
  return `${prefix}_${randomChars(ID_CHARS)}`;
}

/**
 * A message's id: random like every id (16 chars, ~82 bits, unique across conversations), then
 * its seq, so its conversation finds it by its primary key and keeps no index of ids — an index
 * is a row written with every message. `msg_<16 random>_<seq in base36>`.
 */
export function newMessageId(seq: number): string {
  return `msg_${randomChars(MESSAGE_ID_RANDOM_CHARS)}_${seq.toString(36)}`;
}

/** The seq a message id names; null for an id of the older, random-only form, or for what is no message id. */
export function messageIdSeq(id: string): number | null {
  const match = MESSAGE_ID.exec(id);
  return match ? parseInt(match[1]!, 36) : null;
}

const ID_CHARS = 20;
const MESSAGE_ID_RANDOM_CHARS = 16;
/** Ten base36 digits stay below 2^53. */
const MESSAGE_ID = /^msg_[0-9a-z]{16}_([0-9a-z]{1,10})$/;

function randomChars(count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) out += ALPHABET[randomByte() % 36];
  return out;
}
/** Random bytes are drawn a pool at a time: one getRandomValues per id cost a busy conversation several percent of its time. */
const pool = new Uint8Array(4096);
let used = pool.length;

function randomByte(): number {
  if (used === pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  return pool[used++]!;
}

/**
 * The runtime's clock stands still between I/O, so a busy conversation stamps many messages in
 * the same millisecond: the last one's text is reused.
 */
let lastStamp = { at: Number.NaN, iso: "" };

export function nowIso(now = Date.now()): string {
  if (now !== lastStamp.at) lastStamp = { at: now, iso: new Date(now).toISOString() };
  return lastStamp.iso;
}

/**
 * The next stamp of a sequence of mirror writes from one object: microseconds since 1970, and
 * past the previous one, so it grows within an instance and, as the clock moves on, across
 * evictions too. D1 keeps the write with the highest stamp.
 */
export function nextStamp(previous: number, now = Date.now()): number {
  return Math.max(now * 1000, previous + 1);
}
