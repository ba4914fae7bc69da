// One conversation carried by the shared inbox socket (DESIGN.md, Realtime: one socket per
// client): the same conversation as a ConversationSocket gives (conversation-core.ts), its frames
// those of the inbox socket that name it, its commands sent with its `conversation_id`. Every
// (re)connect subscribes again with `after_seq` = the last seq emitted, so nothing is lost.
import { ConversationCore, type ConversationCommand, type ConversationEvents, type ConversationFrame, type ConversationOptions } from "./conversation-core.js";
import type { Listener } from "./emitter.js";
import type { ClientErrorCode } from "./errors.js";
import type { SocketError, SocketEvents } from "./socket.js";
import { cancelTimeout, type Timeout } from "./timers.js";
import type { InboxFrameOf } from "./types.js";

export type SubscriptionOptions = ConversationOptions;

export interface SubscriptionEvents extends ConversationEvents {
  /**
   * The subscription ended for good: `unsubscribe()` was called (`requested`), the user was
   * removed from the conversation (`removed`; pending sends fail), or the server refused the
   * subscribe (`refused`, with its error: not a participant, unknown conversation).
   */
  unsubscribed: { reason: "requested" | "removed" | "refused"; error?: SocketError };
}

/** A frame of the inbox socket that names a conversation. */
export type ConversationScoped = { type: string; conversation_id: string } & Record<string, unknown>;

/** How a connection drives its subscriptions. */
export interface SubscriptionLink {
  readonly subscription: ConversationSubscription;
  /** A socket opened: subscribe (again). */
  opened(): void;
  /** The socket is gone. */
  closed(): void;
  frame(frame: ConversationScoped): void;
}

/** What a subscription needs from its connection. */
export interface SubscriptionCarrier {
  /** Sends a frame on the open socket; false when none is open. */
  send(frame: object): boolean;
  isOpen(): boolean;
  /** The user the connection's hello named. */
  userId(): string;
  attach(link: SubscriptionLink): void;
  detach(link: SubscriptionLink): void;
  on<K extends keyof SocketEvents>(event: K, listener: Listener<SocketEvents[K]>): () => void;
}

/** Refusals of a subscribe worth trying again. */
const TRANSIENT = new Set<string>(["RATE_LIMIT_EXCEEDED", "INTERNAL"]);
/** Connection events a subscription passes on as its own. */
const CONNECTION_EVENTS = ["state", "reconnecting", "disconnected", "closed"] as const;

let subscribeRefs = 0;

export class ConversationSubscription extends ConversationCore<SubscriptionEvents> {
  private active = true;
  /** The ref of the subscribe waiting for its answer, and whether it asked for a replay. */
  private subscribing: { ref: string; replay: boolean } | null = null;
  private retryTimer: Timeout | undefined;
  private readonly link: SubscriptionLink;
  private readonly forwarding: (() => void)[];

  constructor(
    private readonly carrier: SubscriptionCarrier,
    conversationId: string,
    options: SubscriptionOptions = {},
  ) {
    super(conversationId, options);
    this.link = { subscription: this, opened: () => this.subscribeNow(), closed: () => this.connectionLost(), frame: (frame) => this.onFrame(frame) };
    this.forwarding = CONNECTION_EVENTS.map((event) => carrier.on(event, (payload) => this.emit(event, payload as never)));
    carrier.attach(this.link);
    if (carrier.isOpen()) this.subscribeNow();
  }

  /** False once the subscription has ended (then make a new one with `connection.subscribe`). */
  get isActive(): boolean {
    return this.active;
  }

  /** Ends the subscription: the server stops sending its frames (they come as notifications again). */
  unsubscribe(): void {
    if (!this.active) return;
    this.stopTyping();
    this.carrier.send({ type: "unsubscribe", conversation_id: this.conversationId });
    this.end({ reason: "requested" });
  }

  protected transmit(frame: ConversationCommand): boolean {
    return this.active && this.carrier.send({ ...frame, conversation_id: this.conversationId });
  }

  private subscribeNow(): void {
    cancelTimeout(this.retryTimer);
    const after = this.lastSeq;
    const ref = `subscribe:${++subscribeRefs}`;
    const frame = { type: "subscribe", ref, conversation_id: this.conversationId, ...(after !== null && { after_seq: after }) };
    this.subscribing = this.carrier.send(frame) ? { ref, replay: after !== null } : null;
  }

  private connectionLost(): void {
    this.subscribing = null;
    cancelTimeout(this.retryTimer);
    this.stopped();
  }

  private onFrame(scoped: ConversationScoped): void {
    const { conversation_id: _id, ...frame } = scoped;
    switch (frame.type) {
      case "subscribed": {
        const { type: _type, ref: _ref, ...subscribed } = frame as unknown as InboxFrameOf<"subscribed">;
        this.started(subscribed.last_seq, this.subscribing?.replay ?? false);
        this.subscribing = null;
        this.emit("hello", { ...subscribed, conversation_id: this.conversationId, user_id: this.carrier.userId() });
        return;
      }
      case "unsubscribed":
        if ((frame as unknown as InboxFrameOf<"unsubscribed">).reason === "removed") this.removed();
        return;
      case "error":
        if (this.subscribing && frame.ref === this.subscribing.ref) return this.refused(frame as unknown as InboxFrameOf<"error">);
        break;
    }
    this.receive(frame as unknown as ConversationFrame);
  }

  private refused(frame: InboxFrameOf<"error">): void {
    this.subscribing = null;
    const error: SocketError = { code: frame.code, message: frame.message };
    if (TRANSIENT.has(frame.code)) {
      this.emit("error", error);
      this.retryTimer = setTimeout(() => this.carrier.isOpen() && this.subscribeNow(), frame.retry_after_ms ?? 1_000);
      return;
    }
    this.end({ reason: "refused", error });
    this.failAll(frame.code as ClientErrorCode, `subscribe refused: ${frame.message}`);
  }

  private removed(): void {
    this.end({ reason: "removed" });
    this.failAll("CHAT_ACCESS_DENIED", "removed from the conversation");
  }

  private end(payload: SubscriptionEvents["unsubscribed"]): void {
    this.active = false;
    this.connectionLost();
    this.carrier.detach(this.link);
    for (const off of this.forwarding) off();
    this.emit("unsubscribed", payload);
  }
}
