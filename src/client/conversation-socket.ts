// One conversation's own socket: the conversation (ordering, outbox, typing, commands: see
// conversation-core.ts) over `GET /api/v1/conversations/{id}/ws`, reconnecting with backoff.
import { ConversationCore, type ConversationCommand, type ConversationEvents, type ConversationFrame, type ConversationOptions } from "./conversation-core.js";
import type { OutboxItem } from "./outbox.js";
import type { SendInput } from "./send-queue.js";
import { CLOSE_REMOVED, ReconnectingSocket, type SocketOptions } from "./socket.js";
import type { ClientErrorCode } from "./errors.js";
import type { CreateOfferBody, Message, RespondOfferBody, ServerFrame } from "./types.js";

export type { ConversationEvents } from "./conversation-core.js";
export { MAX_FRAME_BYTES, type SendInput } from "./send-queue.js";

export interface ConversationSocketOptions extends SocketOptions, ConversationOptions {
  conversationId: string;
}

/** What the conversation needs from the socket that carries it. */
interface Carrier {
  transmit(frame: ConversationCommand): boolean;
  emit(event: string, payload: unknown): void;
}

/** The conversation, its events emitted as the socket's own. */
class SocketConversation extends ConversationCore<ConversationEvents> {
  constructor(
    options: ConversationSocketOptions,
    private readonly carrier: Carrier,
  ) {
    super(options.conversationId, options);
  }

  protected transmit(frame: ConversationCommand): boolean {
    return this.carrier.transmit(frame);
  }

  protected override emit<K extends keyof ConversationEvents>(event: K, payload: ConversationEvents[K]): void {
    this.carrier.emit(event, payload);
  }

  // The socket drives these (visibility raised from protected).
  override started(lastSeq: number, replaying: boolean): void {
    super.started(lastSeq, replaying);
  }
  override stopped(): void {
    super.stopped();
  }
  override receive(frame: ConversationFrame): void {
    super.receive(frame);
  }
  override failAll(code: ClientErrorCode, message: string): void {
    super.failAll(code, message);
  }
}

export class ConversationSocket extends ReconnectingSocket<ConversationEvents> {
  readonly conversationId: string;
  private readonly conversation: SocketConversation;

  constructor(options: ConversationSocketOptions) {
    super(options);
    this.conversationId = options.conversationId;
    this.conversation = new SocketConversation(options, {
      transmit: (frame) => this.sendFrame(frame),
      emit: (event, payload) => (this.emit as (event: string, payload: unknown) => void)(event, payload),
    });
    this.on("closed", ({ code }) => {
      if (code === CLOSE_REMOVED) this.conversation.failAll("CHAT_ACCESS_DENIED", "removed from the conversation");
    });
    this.on("synced", () => this.markHealthy());
    if (options.autoConnect !== false) this.connect();
  }

  /** The seq of the last message emitted (every one up to it has been); null before the first hello. */
  get lastSeq(): number | null {
    return this.conversation.lastSeq;
  }

  /** Sends waiting for their ack, oldest first. */
  get pending(): readonly OutboxItem[] {
    return this.conversation.pending;
  }

  /** Settles once the outbox has been read from its storage. */
  get outboxReady(): Promise<void> {
    return this.conversation.outboxReady;
  }

  /** Settles when every outbox change so far has been handed to its storage. */
  outboxFlushed(): Promise<void> {
    return this.conversation.outboxFlushed();
  }

  /** See {@link ConversationCore.send}: through the outbox, resolved once acked. */
  send(input: SendInput): Promise<Message> {
    return this.conversation.send(input);
  }

  /** Typing indicator: call on every keystroke; sends at most one `typing.start` per throttle window. */
  typing(): void {
    this.conversation.typing();
  }

  stopTyping(): void {
    this.conversation.stopTyping();
  }

  /** Moves the read cursor (default: to the last message). False when no socket is open. */
  markRead(upToSeq?: number): boolean {
    return this.conversation.markRead(upToSeq);
  }

  edit(messageId: string, content: string): boolean {
    return this.conversation.edit(messageId, content);
  }

  deleteMessage(messageId: string): boolean {
    return this.conversation.deleteMessage(messageId);
  }

  react(messageId: string, emoji: string, add = true): boolean {
    return this.conversation.react(messageId, emoji, add);
  }

  offer(body: CreateOfferBody): boolean {
    return this.conversation.offer(body);
  }

  respondToOffer(offerId: string, body: RespondOfferBody): boolean {
    return this.conversation.respondToOffer(offerId, body);
  }

  // ── Connection hooks ──

  protected path(): string {
    return `/api/v1/conversations/${encodeURIComponent(this.conversationId)}/ws`;
  }

  protected override onDisconnect(): void {
    this.conversation.stopped();
  }

  protected onFrame(raw: { type: string } & Record<string, unknown>): void {
    const frame = raw as unknown as ServerFrame;
    if (frame.type === "pong") return;
    if (frame.type !== "hello") return this.conversation.receive(frame);
    const { type: _type, ...hello } = frame;
    this.conversation.started(frame.last_seq, false);
    this.emit("hello", hello);
  }
}
