import type { FrameRef } from "../schemas/frames";
import type { MessageLog } from "./message-log";
import type { SocketHub } from "./socket-hub";

/** Messages per sync.batch frame (DESIGN: up to 100). */
export const SYNC_BATCH = 100;
/** Batches one socket's replay sends in one turn; the rest follow in later turns, by alarm. */
export const BATCHES_PER_TURN = 2;

interface Replay {
  userId: string;
  /** The last seq sent so far. */
  cursor: number;
  /** The last seq when the sync arrived: later messages reach the socket live, as message.new. */
  target: number;
  ref: FrameRef;
}

/**
 * Paced replays of `sync {after_seq}`. A turn sends at most BATCHES_PER_TURN batches per socket
 * and the object's alarm continues in later turns, so a long replay (or many) never holds this
 * object — or the isolate other conversations share with it — for long. A replay's sync.batch
 * frames go out in ascending seq and its sync.done follows the last.
 *
 * One replay per socket: a sync arriving while that socket's replay is still running replaces
 * it (from the new after_seq, answering the new ref; the replaced one ends without a sync.done),
 * so repeated syncs cost O(1) each and cannot multiply what is sent. A sync on a socket with no
 * replay running takes its first turn at once: a short catch-up is answered in that turn.
 * Replays live in memory; the alarm they set (for now) keeps the object from going idle until
 * they end.
 */
export class Replays {
  private readonly running = new Map<WebSocket, Replay>();

  constructor(
    private readonly hub: SocketHub,
    private readonly log: MessageLog,
    /** What was sent to a socket of this user is delivered to them. */
    private readonly delivered: (userId: string, seq: number) => void,
  ) {}

  start(ws: WebSocket, userId: string, afterSeq: number, ref: FrameRef): void {
    const replacing = this.running.has(ws);
    const replay: Replay = { userId, cursor: afterSeq, target: this.log.lastSeq, ref };
    this.running.set(ws, replay);
    if (!replacing) this.advance(ws, replay);
  }

  /** When the alarm should continue (now), or null when nothing is running. */
  get nextAt(): number | null {
    return this.running.size > 0 ? Date.now() : null;
  }

  /** One turn of every running replay (the alarm's). */
  turn(): void {
    for (const [ws, replay] of this.running) {
      if (ws.readyState === WebSocket.OPEN) this.advance(ws, replay);
      else this.running.delete(ws);
    }
  }

  private advance(ws: WebSocket, replay: Replay): void {
    const from = replay.cursor;
    for (let n = 0; n < BATCHES_PER_TURN && replay.cursor < replay.target; n++) {
      // seq is gapless: exactly target − cursor messages are left.
      const messages = this.log.after(replay.cursor, Math.min(SYNC_BATCH, replay.target - replay.cursor));
      if (messages.length === 0) {
        replay.cursor = replay.target;
        break;
      }
      this.hub.send(ws, { type: "sync.batch", ref: replay.ref, messages });
      replay.cursor = messages[messages.length - 1]!.seq;
    }
    if (replay.cursor >= replay.target) {
      this.hub.send(ws, { type: "sync.done", ref: replay.ref, last_seq: replay.target });
      this.running.delete(ws);
    }
    if (replay.cursor > from) this.delivered(replay.userId, replay.cursor);
  }
}
