/** A random client id for idempotent sends: crypto.randomUUID where it exists (not every RN runtime has it). */
export function newClientId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: <T extends Uint8Array>(a: T) => T } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return `c-${Date.now().toString(36)}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Byte length of a string in UTF-8 (frames are limited in bytes). */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
