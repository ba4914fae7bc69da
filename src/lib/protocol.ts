/**
 * Socket protocol of the server side, shared by the conversation and user objects: its constants,
 * and the size and expiry checks both apply alike.
 * The SDK (src/client) keeps its own copies because it may import nothing from outside itself
 * at run time; test/unit/protocol.test.ts holds the two equal.
 */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Close codes beyond the standard ones. */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_REMOVED = 4003;

const encoder = new TextEncoder();
/** Where short frames are encoded to be measured, so measuring them allocates nothing. */
const scratch = new Uint8Array(MAX_FRAME_BYTES);

/** A frame's size in UTF-8 bytes, the unit of MAX_FRAME_BYTES on every socket (not UTF-16 units). */
export function frameBytes(raw: string | ArrayBuffer): number {
  if (typeof raw !== "string") return raw.byteLength;
  // A UTF-16 unit is at most 3 UTF-8 bytes: a frame this short always fits the scratch buffer.
  return raw.length * 3 <= MAX_FRAME_BYTES ? encoder.encodeInto(raw, scratch).written : encoder.encode(raw).byteLength;
}

/**
 * Whether a frame is over MAX_FRAME_BYTES. Every frame is checked, so the bytes are counted only
 * when its length alone cannot tell: at most 3 UTF-8 bytes per UTF-16 unit, at least 1.
 */
export function frameTooLarge(raw: string | ArrayBuffer): boolean {
  if (typeof raw === "string" && raw.length * 3 <= MAX_FRAME_BYTES) return false;
  if (typeof raw === "string" && raw.length > MAX_FRAME_BYTES) return true;
  return frameBytes(raw) > MAX_FRAME_BYTES;
}

/** Pure: whether a token expiring at `exp` (seconds since the epoch) has expired at `now` (milliseconds). */
export const tokenExpired = (exp: number, now: number): boolean => now >= exp * 1000;

/**
 * How long after its token expired a socket that sent nothing is closed, by alarm: well within
 * the 60 s promised, and late enough that sockets expiring together are closed by one alarm
 * (one that sends a frame is closed by that frame, at once).
 */
export const EXPIRY_SWEEP_DELAY_MS = 5_000;

/**
 * Pure: which of `sockets` carry a token that has expired at `now`, and when to look again
 * for the others (the earliest expiry plus EXPIRY_SWEEP_DELAY_MS, in milliseconds; null when
 * none will expire). A socket that sends nothing, or only the auto-answered ping, never wakes
 * its object, so the objects close expired sockets by alarm, set for `nextAt`.
 */
export function expiredSockets<T>(sockets: Iterable<T>, expOf: (socket: T) => number | null, now: number): { expired: T[]; nextAt: number | null } {
  const expired: T[] = [];
  let earliest: number | null = null;
  for (const socket of sockets) {
    const exp = expOf(socket);
    if (exp === null) continue;
    if (tokenExpired(exp, now)) expired.push(socket);
    else if (earliest === null || exp < earliest) earliest = exp;
  }
  return { expired, nextAt: earliest === null ? null : earliest * 1000 + EXPIRY_SWEEP_DELAY_MS };
}

/**
 * Closes a socket the runtime may already have closed (a close or error handler, a racing
 * close): nothing to answer then, so nothing is thrown. Handlers never pass 1005/1006 here:
 * those say no close frame arrived, and the socket is already gone.
 */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closed by the runtime
  }
}
