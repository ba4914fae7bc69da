const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random opaque id with a readable prefix, e.g. `usr_k3j…` (20 chars of base36, ~103 bits). */
export function newId(prefix: "usr" | "cnv" | "msg" | "tkt" | "ofr" | "att" | "frq"): string {
  let out = "";
  for (let i = 0; i < ID_CHARS; i++) out += ALPHABET[randomByte() % 36];
  return `${prefix}_${out}`;
}

const ID_CHARS = 20;
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

export function nowIso(now = Date.now()): string {
  return new Date(now).toISOString();
}
