// One conversation's socket: every message exactly once and in seq order across reconnects,
// an outbox that retries sends under the same client_id until they are acked, and throttled typing.
import { ChatApiError, statusForCode, type ClientErrorCode } from "./errors.js";
import { newClientId, utf8Length } from "./ids.js";
import { MemoryOutboxStorage, Outbox, type OutboxItem, type OutboxStorage } from "./outbox.js";
import { CLOSE_REMOVED, ReconnectingSocket, type SocketError, type SocketEvents, type SocketOptions } from "./socket.js";
import { cancelTimeout, type Timeout } from "./timers.js";
import type { Message, SendFrameFields, ServerFrame, ServerFrameOf } from "./types.js";

/** The server's frame limit; a bigger send would close the socket with 1009 on every retry. */
export const MAX_FRAME_BYTES = 64 * 1024;

export interface ConversationSocketOptions extends SocketOptions {
  conversationId: string;
  /**
   * Deliver every message after this seq (typically the last seq the app already has from history;
   * 0 for everything). Omitted: start from the conversation's last seq when first connected.
   */
  afterSeq?: number;
  /** Where pending sends are kept (default in memory). Give a persistent one to survive reloads. */
  outboxStorage?: OutboxStorage;
  /** A send not acked this long on an open socket is sent again (same client_id). Default 10 000. */
  ackTimeoutMs?: number;
  /** At most one `typing.start` per this many ms. Default 3 000. */
  typingThrottleMs?: number;
  /** `typing.stop` after this long without `typing()`; 0 never. Default 5 000. */
  typingStopAfterMs?: number;
}

type Payload<T extends ServerFrame["type"]> = Omit<ServerFrameOf<T>, "type">;

export interface ConversationEvents extends SocketEvents {
  /** Every (re)connect: the conversation's last seq, who is online and typing. */
  hello: Payload<"hello">;
  /** Each message exactly once, in seq order, with no gaps: live, replayed, or the ack of one's own send. */
  message: Message;
  /** An edit, a delete (content withheld) or an offer's status change of an earlier message. */
  "message.updated": Message;
  "reaction.updated": Payload<"reaction.updated">;
  "offer.updated": Payload<"offer.updated">;
  typing: Payload<"typing">;
  read: Payload<"read">;
  /** A participant's delivered horizon moved: from `delivered` frames, and from `message.new`'s `delivered_to`. */
  delivered: Payload<"delivered">;
  presence: Payload<"presence">;
  /** Caught up after a (re)connect: every message up to `last_seq` has been emitted. */
  synced: { last_seq: number };
  /** A send of this socket's outbox was stored by the server (its message comes as a `message` event too). */
  ack: { client_id: string; message: Message };
  /** A send the server refused for good (validation, closed conversation…); it left the outbox. */
  "send.failed": { item: OutboxItem; error: ChatApiError };
  /** The outbox changed: the sends still waiting for their ack, oldest first. */
  outbox: readonly OutboxItem[];
}

/** What `send()` takes: a text, or the fields of a `message.send` frame (client_id optional). */
export type SendInput = string | (Omit<SendFrameFields, "client_id"> & { client_id?: string });

interface Waiter {
  promise: Promise<Message>;
  resolve(message: Message): void;
  reject(error: ChatApiError): void;
}

/** Error codes worth retrying: the same send may succeed later. */
const TRANSIENT = new Set<string>(["RATE_LIMIT_EXCEEDED", "INTERNAL"]);

export class ConversationSocket extends ReconnectingSocket<ConversationEvents> {
  readonly conversationId: string;
  private readonly opts: ConversationSocketOptions;
  private readonly outbox: Outbox;
  private readonly waiters = new Map<string, Waiter>();

  // Ordering: the highest seq emitted with nothing missing below it, and what arrived early.
  private lastDelivered: number | null;
  private readonly early = new Map<number, Message>();
  private syncing = false;
  private syncFrom = 0;
  private syncsWithoutProgress = 0;
  private refs = 0;

  // Outbox on the current connection.
  private session = false;
  private readonly inFlight = new Map<string, number>();
  private pausedUntil = 0;
  private ackTimer: Timeout | undefined;
  private resumeTimer: Timeout | undefined;

  // Typing.
  private typingActive = false;
  private typingSentAt = Number.NEGATIVE_INFINITY;
  private typingStopTimer: Timeout | undefined;

  constructor(options: ConversationSocketOptions) {
    super(options);
    this.opts = options;
    this.conversationId = options.conversationId;
    this.lastDelivered = options.afterSeq ?? null;
    this.outbox = new Outbox(options.outboxStorage ?? new MemoryOutboxStorage(), (err) =>
      this.emitBase("error", { code: "STORAGE_FAILED", message: `outbox storage: ${String(err)}` }),
    );
    this.on("closed", ({ code }) => {
      if (code === CLOSE_REMOVED) this.failAll("CHAT_ACCESS_DENIED", "removed from the conversation");
    });
    void this.outbox.ready.then(() => {
      if (this.outbox.size > 0) this.emit("outbox", this.outbox.pending);
      void this.flush();
    });
    if (options.autoConnect !== false) this.connect();
  }

  /** The seq of the last message emitted (every one up to it has been); null before the first hello. */
  get lastSeq(): number | null {
    return this.lastDelivered;
  }

  /** Sends waiting for their ack, oldest first. */
  get pending(): readonly OutboxItem[] {
    return this.outbox.pending;
  }

  /** Settles once the outbox has been read from its storage. */
  get outboxReady(): Promise<void> {
    return this.outbox.ready;
  }

  /** Settles when every outbox change so far has been handed to its storage. */
  outboxFlushed(): Promise<void> {
    return this.outbox.flushed();
  }

  /**
   * Queues a message and sends it now or as soon as a socket is open, again after a reconnect or
   * a timeout, under one client_id, until the server acks it. Resolves with the stored message;
   * rejects (ChatApiError) only when the server refuses it for good.
   */
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
    this.emit("outbox", this.outbox.pending);
    this.stopTyping();
    void this.flush();
    return waiter.promise;
  }

  /** Typing indicator: call on every keystroke; sends at most one `typing.start` per throttle window. */
  typing(): void {
    if (!this.session) return;
    const now = Date.now();
    if (now - this.typingSentAt >= (this.opts.typingThrottleMs ?? 3_000) && this.sendFrame({ type: "typing.start" })) {
      this.typingActive = true;
      this.typingSentAt = now;
    }
    const stopAfter = this.opts.typingStopAfterMs ?? 5_000;
    cancelTimeout(this.typingStopTimer);
    if (stopAfter > 0) this.typingStopTimer = setTimeout(() => this.stopTyping(), stopAfter);
  }

  /** Sends `typing.stop` if a start was sent (sending a message does this too). */
  stopTyping(): void {
    cancelTimeout(this.typingStopTimer);
    if (!this.typingActive) return;
    this.typingActive = false;
    this.sendFrame({ type: "typing.stop" });
  }

  /** Moves the read cursor (default: to the last message). False when no socket is open. */
  markRead(upToSeq?: number): boolean {
    return this.sendFrame(upToSeq === undefined ? { type: "read" } : { type: "read", up_to_seq: upToSeq });
  }

  edit(messageId: string, content: string): boolean {
    return this.sendFrame({ type: "message.edit", ref: ++this.refs, message_id: messageId, content });
  }

  deleteMessage(messageId: string): boolean {
    return this.sendFrame({ type: "message.delete", ref: ++this.refs, message_id: messageId });
  }

  react(messageId: string, emoji: string, add = true): boolean {
    return this.sendFrame({ type: add ? "reaction.add" : "reaction.remove", ref: ++this.refs, message_id: messageId, emoji });
  }

  // ── Connection hooks ──

  protected path(): string {
    return `/api/v1/conversations/${encodeURIComponent(this.conversationId)}/ws`;
  }

  protected override onDisconnect(): void {
    this.session = false;
    this.syncing = false;
    this.inFlight.clear();
    this.typingActive = false;
    cancelTimeout(this.typingStopTimer);
    cancelTimeout(this.ackTimer);
    cancelTimeout(this.resumeTimer);
  }

  protected onFrame(raw: { type: string } & Record<string, unknown>): void {
    const frame = raw as unknown as ServerFrame;
    switch (frame.type) {
      case "hello": {
        const { type: _type, ...hello } = frame;
        if (this.lastDelivered === null) this.lastDelivered = frame.last_seq;
        this.session = true;
        this.emit("hello", hello);
        this.requestSync();
        void this.flush();
        return;
      }
      case "sync.batch":
        for (const message of frame.messages) this.accept(message);
        return;
      case "sync.done":
        return this.syncDone(frame.last_seq);
      case "message.new":
        this.accept(frame.message);
        // Recipients online when it was appended have it: their delivered horizon reached it.
        for (const userId of frame.delivered_to ?? []) this.emit("delivered", { user_id: userId, up_to_seq: frame.message.seq });
        return;
      case "message.ack":
        return this.acked(frame.client_id, frame.message);
      case "message.updated":
        return this.emit("message.updated", frame.message);
      case "reaction.updated":
      case "offer.updated":
      case "typing":
      case "read":
      case "delivered":
      case "presence": {
        const { type, ...payload } = frame;
        (this.emit as (event: string, payload: unknown) => void)(type, payload);
        return;
      }
      case "error":
        return this.serverError(frame);
      case "pong":
        return;
    }
  }

  // ── Ordering ──

  /** Takes a message from any source; emits what is now contiguous, drops what was emitted. */
  private accept(message: Message): void {
    if (message.conversation_id !== this.conversationId) return;
    if (this.lastDelivered !== null && message.seq <= this.lastDelivered) return;
    this.early.set(message.seq, message);
    if (this.lastDelivered === null) return;
    this.drain();
    // Something is missing below what arrived: ask for it (once a sync is running, it brings it).
    if (this.early.size > 0 && !this.syncing) this.requestSync();
  }

  private drain(): void {
    while (this.lastDelivered !== null) {
      const next = this.early.get(this.lastDelivered + 1);
      if (!next) return;
      this.early.delete(next.seq);
      this.lastDelivered = next.seq;
      this.emit("message", next);
    }
  }

  private requestSync(): void {
    if (this.lastDelivered === null) return;
    if (this.sendFrame({ type: "sync", ref: ++this.refs, after_seq: this.lastDelivered })) {
      this.syncing = true;
      this.syncFrom = this.lastDelivered;
    }
  }

  private syncDone(lastSeq: number): void {
    this.syncing = false;
    this.drain();
    const delivered = this.lastDelivered ?? lastSeq;
    if (delivered < lastSeq || this.early.size > 0) {
      // Still a hole: ask again, but not forever if the server sends nothing new.
      this.syncsWithoutProgress = delivered > this.syncFrom ? 0 : this.syncsWithoutProgress + 1;
      if (this.syncsWithoutProgress < 3) return this.requestSync();
      this.emitBase("error", { code: "SYNC_INCOMPLETE", message: `sync stopped at seq ${delivered}; the server has ${lastSeq}` });
      return;
    }
    this.syncsWithoutProgress = 0;
    this.markHealthy();
    this.emit("synced", { last_seq: delivered });
  }

  // ── Outbox ──

  private waiterFor(clientId: string): Waiter {
    let waiter = this.waiters.get(clientId);
    if (!waiter) {
      let resolve!: (message: Message) => void;
      let reject!: (error: ChatApiError) => void;
      const promise = new Promise<Message>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {}); // a refusal is also an event; an app that ignores the promise must not crash
      waiter = { promise, resolve, reject };
      this.waiters.set(clientId, waiter);
    }
    return waiter;
  }

  /** Sends every pending item not already in flight on this connection, oldest first. */
  private async flush(): Promise<void> {
    await this.outbox.ready;
    if (!this.session || this.outbox.size === 0) return;
    const now = Date.now();
    if (now < this.pausedUntil) {
      cancelTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(() => void this.flush(), this.pausedUntil - now);
      return;
    }
    for (const item of this.outbox.pending) {
      if (this.inFlight.has(item.client_id)) continue;
      if (!this.sendFrame(sendFrame(item))) break;
      this.inFlight.set(item.client_id, now);
    }
    this.scheduleAckCheck();
  }

  private scheduleAckCheck(): void {
    cancelTimeout(this.ackTimer);
    if (this.inFlight.size === 0) return;
    const timeout = this.opts.ackTimeoutMs ?? 10_000;
    const oldest = Math.min(...this.inFlight.values());
    this.ackTimer = setTimeout(() => {
      const now = Date.now();
      for (const [clientId, sentAt] of this.inFlight) if (now - sentAt >= timeout) this.inFlight.delete(clientId);
      void this.flush();
    }, Math.max(0, oldest + timeout - Date.now()));
  }

  private acked(clientId: string | null, message: Message): void {
    if (clientId !== null) {
      this.inFlight.delete(clientId);
      const item = this.outbox.remove(clientId);
      const waiter = this.waiters.get(clientId);
      this.waiters.delete(clientId);
      if (item) {
        this.emit("outbox", this.outbox.pending);
        this.emit("ack", { client_id: clientId, message });
      }
      waiter?.resolve(message);
    }
    this.accept(message);
  }

  /** Every pending send fails (the conversation can no longer be written to by this user). */
  private failAll(code: ClientErrorCode, message: string): void {
    for (const item of [...this.outbox.pending]) {
      this.outbox.remove(item.client_id);
      const error = new ChatApiError({ code, status: statusForCode(code), message });
      this.emit("send.failed", { item, error });
      this.waiters.get(item.client_id)?.reject(error);
      this.waiters.delete(item.client_id);
    }
    this.emit("outbox", this.outbox.pending);
  }

  private serverError(frame: ServerFrameOf<"error">): void {
    const error: SocketError = { code: frame.code, message: frame.message };
    if (frame.ref !== undefined) error.ref = frame.ref;
    if (frame.retry_after_ms !== undefined) error.retry_after_ms = frame.retry_after_ms;
    this.emitBase("error", error);
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
    this.outbox.remove(clientId);
    const failure = new ChatApiError({ code: frame.code as ClientErrorCode, status: statusForCode(frame.code), message: frame.message });
    const waiter = this.waiters.get(clientId);
    this.waiters.delete(clientId);
    this.emit("outbox", this.outbox.pending);
    this.emit("send.failed", { item, error: failure });
    waiter?.reject(failure);
  }
}

function sendFrame(item: OutboxItem) {
  const { created_at: _created, ...fields } = item;
  return { type: "message.send" as const, ref: item.client_id, ...fields };
}
