// One conversation as a client sees it, whatever carries it (its own socket, or a subscription on
// the shared inbox socket): every message exactly once and in seq order across reconnects, an
// outbox that retries sends under the same client_id until they are acked, throttled typing, and
// the conversation's commands. The transport only says when it is ready or gone, hands frames in
// and sends frames out.
import type { ChatApiError, ClientErrorCode } from "./errors.js";
import { Emitter } from "./emitter.js";
import { MemoryOutboxStorage, type OutboxItem, type OutboxStorage } from "./outbox.js";
import { SendQueue, type SendInput, type SendQueueEvents } from "./send-queue.js";
import type { SocketError, SocketEvents } from "./socket.js";
import { cancelTimeout, type Timeout } from "./timers.js";
import type { ClientFrame, CreateOfferBody, Message, RespondOfferBody, ServerFrame, ServerFrameOf } from "./types.js";

/** Options of one conversation, on its own socket or as a subscription. */
export interface ConversationOptions {
  /**
   * Deliver every message after this seq (typically the last seq the app already has from history;
   * 0 for everything). Omitted: start from the conversation's last seq when first connected.
   */
  afterSeq?: number;
  /** Where pending sends are kept (default in memory). Give a persistent one to survive reloads. */
  outboxStorage?: OutboxStorage;
  /** A send not acked this long on an open connection is sent again (same client_id). Default 10 000. */
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
  /** A send of this conversation's outbox was stored by the server (its message comes as a `message` event too). */
  ack: SendQueueEvents["ack"];
  /** A send the server refused for good (validation, closed conversation…); it left the outbox. */
  "send.failed": { item: OutboxItem; error: ChatApiError };
  /** The outbox changed: the sends still waiting for their ack, oldest first. */
  outbox: readonly OutboxItem[];
}

/** A command of the conversation, as a conversation socket takes it (the inbox socket adds `conversation_id`). */
export type ConversationCommand = Exclude<ClientFrame, { type: "ping" }>;

/** The frames of a conversation a transport hands in (the transport handles `hello` and `pong`). */
export type ConversationFrame = Exclude<ServerFrame, { type: "hello" | "pong" }>;

export abstract class ConversationCore<Events extends ConversationEvents> extends Emitter<Events> {
  readonly conversationId: string;
  private readonly settings: ConversationOptions;
  private readonly sends: SendQueue;

  // Ordering: the highest seq emitted with nothing missing below it, and what arrived early.
  private lastDelivered: number | null;
  private readonly early = new Map<number, Message>();
  private syncing = false;
  private syncFrom = 0;
  private syncsWithoutProgress = 0;
  private refs = 0;
  private session = false;

  // Typing.
  private typingActive = false;
  private typingSentAt = Number.NEGATIVE_INFINITY;
  private typingStopTimer: Timeout | undefined;

  protected constructor(conversationId: string, options: ConversationOptions) {
    super();
    this.conversationId = conversationId;
    this.settings = options;
    this.lastDelivered = options.afterSeq ?? null;
    this.sends = new SendQueue(options.outboxStorage ?? new MemoryOutboxStorage(), options.ackTimeoutMs ?? 10_000, {
      transmit: (frame) => this.transmit(frame),
      emit: (event, payload) => (this.fire as (event: keyof SendQueueEvents, payload: unknown) => void)(event, payload),
      error: (error) => this.fire("error", error),
    });
  }

  /** The seq of the last message emitted (every one up to it has been); null before the first connect. */
  get lastSeq(): number | null {
    return this.lastDelivered;
  }

  /** Sends waiting for their ack, oldest first. */
  get pending(): readonly OutboxItem[] {
    return this.sends.outbox.pending;
  }

  /** Settles once the outbox has been read from its storage. */
  get outboxReady(): Promise<void> {
    return this.sends.outbox.ready;
  }

  /** Settles when every outbox change so far has been handed to its storage. */
  outboxFlushed(): Promise<void> {
    return this.sends.outbox.flushed();
  }

  /**
   * Queues a message and sends it now or as soon as the connection is up, again after a reconnect
   * or a timeout, under one client_id, until the server acks it. Resolves with the stored message;
   * rejects (ChatApiError) only when the server refuses it for good.
   */
  send(input: SendInput): Promise<Message> {
    const sent = this.sends.send(input);
    this.stopTyping();
    return sent;
  }

  /** Typing indicator: call on every keystroke; sends at most one `typing.start` per throttle window. */
  typing(): void {
    if (!this.session) return;
    const now = Date.now();
    if (now - this.typingSentAt >= (this.settings.typingThrottleMs ?? 3_000) && this.transmit({ type: "typing.start" })) {
      this.typingActive = true;
      this.typingSentAt = now;
    }
    const stopAfter = this.settings.typingStopAfterMs ?? 5_000;
    cancelTimeout(this.typingStopTimer);
    if (stopAfter > 0) this.typingStopTimer = setTimeout(() => this.stopTyping(), stopAfter);
  }

  /**
   * Sends `typing.stop` if a start was sent (sending a message does this too). The throttle starts
   * over: typing right after a send is a new indicator, shown at once.
   */
  stopTyping(): void {
    cancelTimeout(this.typingStopTimer);
    this.typingSentAt = Number.NEGATIVE_INFINITY;
    if (!this.typingActive) return;
    this.typingActive = false;
    this.transmit({ type: "typing.stop" });
  }

  /** Moves the read cursor (default: to the last message). False when not connected. */
  markRead(upToSeq?: number): boolean {
    return this.transmit(upToSeq === undefined ? { type: "read" } : { type: "read", up_to_seq: upToSeq });
  }

  edit(messageId: string, content: string): boolean {
    return this.transmit({ type: "message.edit", ref: ++this.refs, message_id: messageId, content });
  }

  deleteMessage(messageId: string): boolean {
    return this.transmit({ type: "message.delete", ref: ++this.refs, message_id: messageId });
  }

  react(messageId: string, emoji: string, add = true): boolean {
    return this.transmit({ type: add ? "reaction.add" : "reaction.remove", ref: ++this.refs, message_id: messageId, emoji });
  }

  /** Makes an offer (it arrives as an `offer` message). False when not connected. */
  offer(body: CreateOfferBody): boolean {
    return this.transmit({ type: "offer.send", ref: ++this.refs, ...body });
  }

  /** Accepts, rejects, counters or withdraws an offer. False when not connected. */
  respondToOffer(offerId: string, body: RespondOfferBody): boolean {
    return this.transmit({ type: "offer.respond", ref: ++this.refs, offer_id: offerId, ...body });
  }

  // ── For the transport ──

  /** Sends one of this conversation's commands; false when nothing is connected. */
  protected abstract transmit(frame: ConversationCommand): boolean;

  /** Emits an event of every conversation (the class's own `emit` is typed for its subclass's events). */
  protected fire<K extends keyof ConversationEvents>(event: K, payload: ConversationEvents[K]): void {
    (this.emit as (event: K, payload: ConversationEvents[K]) => void)(event, payload);
  }

  /**
   * The transport is connected and knows the conversation's `last_seq`; `replaying` when it asked
   * for the messages after {@link lastSeq} already (a subscribe with `after_seq`).
   */
  protected started(lastSeq: number, replaying: boolean): void {
    if (this.lastDelivered === null) this.lastDelivered = lastSeq;
    this.session = true;
    if (replaying) this.replayStarted();
    else this.requestSync();
    this.sends.resume();
  }

  /** The transport is gone: state about frames in flight is reset. */
  protected stopped(): void {
    this.session = false;
    this.syncing = false;
    this.typingActive = false;
    cancelTimeout(this.typingStopTimer);
    this.sends.pause();
  }

  /** The conversation can no longer be written to by this user (removed): every pending send fails. */
  protected failAll(code: ClientErrorCode, message: string): void {
    this.sends.failAll(code, message);
  }

  protected receive(frame: ConversationFrame): void {
    switch (frame.type) {
      case "sync.batch":
        for (const message of frame.messages) this.accept(message);
        return;
      case "sync.done":
        return this.syncDone(frame.last_seq);
      case "message.new":
        this.accept(frame.message);
        // Recipients online when it was appended have it: their delivered horizon reached it.
        for (const userId of frame.delivered_to ?? []) this.fire("delivered", { user_id: userId, up_to_seq: frame.message.seq });
        return;
      case "message.ack":
        if (frame.client_id !== null) this.sends.acked(frame.client_id, frame.message);
        return this.accept(frame.message);
      case "message.updated":
        return this.fire("message.updated", frame.message);
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
      this.fire("message", next);
    }
  }

  private requestSync(): void {
    if (this.lastDelivered === null) return;
    if (this.transmit({ type: "sync", ref: ++this.refs, after_seq: this.lastDelivered })) this.replayStarted();
  }

  private replayStarted(): void {
    this.syncing = true;
    this.syncFrom = this.lastDelivered ?? 0;
  }

  private syncDone(lastSeq: number): void {
    this.syncing = false;
    this.drain();
    const delivered = this.lastDelivered ?? lastSeq;
    if (delivered < lastSeq || this.early.size > 0) {
      // Still a hole: ask again, but not forever if the server sends nothing new.
      this.syncsWithoutProgress = delivered > this.syncFrom ? 0 : this.syncsWithoutProgress + 1;
      if (this.syncsWithoutProgress < 3) return this.requestSync();
      this.fire("error", { code: "SYNC_INCOMPLETE", message: `sync stopped at seq ${delivered}; the server has ${lastSeq}` });
      return;
    }
    this.syncsWithoutProgress = 0;
    this.fire("synced", { last_seq: delivered });
  }

  private serverError(frame: ServerFrameOf<"error">): void {
    const error: SocketError = { code: frame.code, message: frame.message };
    if (frame.ref !== undefined) error.ref = frame.ref;
    if (frame.retry_after_ms !== undefined) error.retry_after_ms = frame.retry_after_ms;
    this.fire("error", error);
    this.sends.refused(frame);
  }
}
