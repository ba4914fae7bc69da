const enc = new TextEncoder();

/** Concatenates byte arrays, numbers (single bytes) and ASCII strings. */
export function bytes(...parts: (string | number | number[] | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) =>
    typeof p === "string" ? enc.encode(p) : typeof p === "number" ? Uint8Array.of(p) : p instanceof Uint8Array ? p : Uint8Array.from(p),
  );
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

export const u16le = (n: number) => [n & 0xff, (n >> 8) & 0xff];
export const u32le = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
export const u32be = (n: number) => u32le(n).reverse();
/** A 64-bit little-endian integer (n below 2^53). */
export const u64le = (n: number) => [...u32le(n % 2 ** 32), ...u32le(Math.floor(n / 2 ** 32))];
