const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random opaque id with a readable prefix, e.g. `usr_k3j…` (20 chars of base36, ~103 bits). */
export function newId(prefix: "usr" | "cnv" | "msg" | "tkt" | "ofr" | "att" | "frq"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let out = "";
  for (const b of bytes) out += ALPHABET[b % 36];
  return `${prefix}_${out}`;
}

export function nowIso(now = Date.now()): string {
  return new Date(now).toISOString();
}
