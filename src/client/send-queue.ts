// The sending half of a conversation: the outbox's items go out over whatever transport is live
// (a conversation socket, or the shared inbox socket), again after a reconnect or an ack timeout,
// under one client_id each, until the server acks or refuses them for good.
import { ChatApiError, statusForCode, type ClientErrorCode } from "./errors.js";
import { newClientId, utf8Length } from "./ids.js";
import { Outbox, type OutboxItem, type OutboxStorage } from "./outbox.js";
import type { SocketError } from "./socket.js";
import { cancelTimeout, type Timeout } from "./timers.js";
import type { Message, SendFrameFields, ServerFrameOf } from "./types.js";

/** The server's frame limit; a bigger send would close the socket with 1009 on every retry. */
export const MAX_FRAME_BYTES = 64 * 1024;

/** What `send()` takes: a text, or the fields of a `message.send` frame (client_id optional). */
export type SendInput = string | (Omit<SendFrameFields, "client_id"> & { client_id?: string });

/** What the queue tells its conversation. */
export interface SendQueueEvents {
  ack: { client_id: string; message: Message };
  "send.failed": { item: OutboxItem; error: ChatApiError };
  outbox: readonly OutboxItem[];
}

export interface SendQueueHost {
  /** Sends a `message.send` frame now; false when nothing is connected. */
  transmit(frame: ReturnType<typeof sendFrame>): boolean;
  emit<K extends keyof SendQueueEvents>(event: K, payload: SendQueueEvents[K]): void;
  error(error: SocketError): void;
}

interface Waiter {
  promise: Promise<Message>;
  resolve(message: Message): void;
  reject(error: ChatApiError): void;
}

/** Error codes worth retrying: the same send may succeed later. */
const TRANSIENT = new Set<string>(["RATE_LIMIT_EXCEEDED", "INTERNAL"]);

export class SendQueue {
  readonly outbox: Outbox;
  private readonly waiters = new Map<string, Waiter>();
  /** Sends may go out: the transport is connected and caught up. */
  private live = false;
  private readonly inFlight = new Map<string, number>();
  private pausedUntil = 0;
  private ackTimer: Timeout | undefined;
  private resumeTimer: Timeout | undefined;

  constructor(
    storage: OutboxStorage,
    private readonly ackTimeoutMs: number,
    private readonly host: SendQueueHost,
  ) {
    this.outbox = new Outbox(storage, (err) => host.error({ code: "STORAGE_FAILED", message: `outbox storage: ${String(err)}` }));
    void this.outbox.ready.then(() => {
      if (this.outbox.size > 0) host.emit("outbox", this.outbox.pending);
      void this.flush();
    });
  }

  /** Queues a send; resolves with the stored message, rejects only on a refusal for good. */
  send(input: SendInput): Promise<Message> {
    const fields = typeof input === "string" ? { content: input } : input;
    const item: OutboxItem = { ...fields, content: fields.content ?? "", client_id: fields.client_id ?? newClientId(), created_at: new Date().toISOString() };
    const existing = this.waiters.get(item.client_id);
    if (existing) return existing.promise;
    if (utf8Length(JSON.stringify(sendFrame(item))) > MAX_FRAME_BYTES) {
      return Promise.reject(new ChatApiError({ code: "PAYLOAD_TOO_LARGE", status: 413, message: `a message.send frame is limited to ${MAX_FRAME_BYTES} bytes` }));
    }
    const waiter = this.waiterFor(item.client_id);
    this.outbox.add(item);
    this.host.emit("outbox", this.outbox.pending);
    void this.flush();
    return waiter.promise;
  }

  /** The transport is connected and caught up: send what is pending. */
  resume(): void {
    this.live = true;
    void this.flush();
  }

  /** The transport is gone: whatever was in flight is sent again on the next connection. */
  pause(): void {
    this.live = false;
    this.inFlight.clear();
    cancelTimeout(this.ackTimer);
    cancelTimeout(this.resumeTimer);
  }

  acked(clientId: string, message: Message): void {
    this.inFlight.delete(clientId);
    const item = this.outbox.remove(clientId);
    const waiter = this.waiters.get(clientId);
    this.waiters.delete(clientId);
    if (item) {
      this.host.emit("outbox", this.outbox.pending);
      this.host.emit("ack", { client_id: clientId, message });
    }
    waiter?.resolve(message);
  }

  /** An error frame echoing a send's client_id: a transient one waits and resends, any other fails the send. */
  refused(frame: ServerFrameOf<"error">): void {
    const clientId = typeof frame.ref === "string" ? frame.ref : null;
    const item = clientId === null ? undefined : this.outbox.get(clientId);
    if (!item || clientId === null) return;
    this.inFlight.delete(clientId);
    if (TRANSIENT.has(frame.code)) {
      // Keep the order: nothing more goes out until the wait is over, then the rest is resent.
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + (frame.retry_after_ms ?? 1_000));
      void this.flush();
      return;
    }
    this.fail(item, new ChatApiError({ code: frame.code as ClientErrorCode, status: statusForCode(frame.code), message: frame.message }));
  }

  /** Every pending send fails (the conversation can no longer be written to by this user). */
  failAll(code: ClientErrorCode, message: string): void {
    for (const item of [...this.outbox.pending]) this.fail(item, new ChatApiError({ code, status: statusForCode(code), message }));
  }

  private fail(item: OutboxItem, error: ChatApiError): void {
    this.outbox.remove(item.client_id);
    const waiter = this.waiters.get(item.client_id);
    this.waiters.delete(item.client_id);
    this.host.emit("outbox", this.outbox.pending);
    this.host.emit("send.failed", { item, error });
    waiter?.reject(error);
  }

  private waiterFor(clientId: string): Waiter {
    let resolve!: (message: Message) => void;
    let reject!: (error: ChatApiError) => void;
    const promise = new Promise<Message>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {}); // a refusal is also an event; an app that ignores the promise must not crash
    const waiter = { promise, resolve, reject };
    this.waiters.set(clientId, waiter);
    return waiter;
  }

  /** Sends every pending item not already in flight on this connection, oldest first. */
  private async flush(): Promise<void> {
    await this.outbox.ready;
    if (!this.live || this.outbox.size === 0) return;
    const now = Date.now();
    if (now < this.pausedUntil) {
      cancelTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(() => void this.flush(), this.pausedUntil - now);
      return;
    }
    for (const item of this.outbox.pending) {
      if (this.inFlight.has(item.client_id)) continue;
      if (!this.host.transmit(sendFrame(item))) break;
      this.inFlight.set(item.client_id, now);
    }
    this.scheduleAckCheck();
  }

  private scheduleAckCheck(): void {
    cancelTimeout(this.ackTimer);
    if (this.inFlight.size === 0) return;
    const oldest = Math.min(...this.inFlight.values());
    this.ackTimer = setTimeout(() => {
      const now = Date.now();
      for (const [clientId, sentAt] of this.inFlight) if (now - sentAt >= this.ackTimeoutMs) this.inFlight.delete(clientId);
      void this.flush();
    }, Math.max(0, oldest + this.ackTimeoutMs - Date.now()));
  }
}

/** The frame of an outbox item: its ref is its client_id, so an error names the send it refuses. */
export function sendFrame(item: OutboxItem) {
  const { created_at: _created, ...fields } = item;
  return { type: "message.send" as const, ref: item.client_id, ...fields };
}
