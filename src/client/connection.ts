// One socket per client (DESIGN.md, Realtime): the inbox socket's events, and any number of
// conversations subscribed over the same socket, each with the guarantees of a ConversationSocket.
import { InboxSocket, type InboxSocketOptions } from "./inbox-socket.js";
import { ConversationSubscription, type ConversationScoped, type SubscriptionLink, type SubscriptionOptions } from "./subscription.js";

export type ConnectionOptions = InboxSocketOptions;

/** Frames that belong to the conversation they name (the inbox's own `notification.message` and `unread` name one too). */
const CONVERSATION_FRAMES = new Set([
  "subscribed",
  "unsubscribed",
  "sync.batch",
  "sync.done",
  "message.new",
  "message.ack",
  "message.updated",
  "reaction.updated",
  "offer.updated",
  "typing",
  "read",
  "delivered",
  "presence",
  "error",
]);

export class ChatConnection extends InboxSocket {
  private readonly links = new Map<string, SubscriptionLink>();
  private user = "";

  /**
   * The conversation over this connection: every message exactly once and in seq order across
   * reconnects, the outbox, typing, reads, edits, reactions and offers, as a ConversationSocket
   * has them. While a subscription to the conversation is active, the same one is returned.
   */
  subscribe(conversationId: string, options: SubscriptionOptions = {}): ConversationSubscription {
    const existing = this.links.get(conversationId);
    if (existing) return existing.subscription;
    return new ConversationSubscription(
      {
        send: (frame) => this.sendFrame(frame),
        isOpen: () => this.connected,
        userId: () => this.user,
        attach: (link) => this.links.set(conversationId, link),
        detach: (link) => this.links.get(conversationId) === link && this.links.delete(conversationId),
        on: (event, listener) => this.on(event, listener),
      },
      conversationId,
      options,
    );
  }

  /** The active subscriptions. */
  get subscriptions(): ConversationSubscription[] {
    return [...this.links.values()].map((link) => link.subscription);
  }

  protected override onOpen(): void {
    for (const link of [...this.links.values()]) link.opened();
  }

  protected override onDisconnect(): void {
    for (const link of [...this.links.values()]) link.closed();
  }

  protected override onFrame(raw: { type: string } & Record<string, unknown>): void {
    if (raw.type === "hello" && typeof raw.user_id === "string") this.user = raw.user_id;
    const conversationId = raw.conversation_id;
    if (typeof conversationId === "string" && CONVERSATION_FRAMES.has(raw.type)) {
      const link = this.links.get(conversationId);
      if (link) return link.frame(raw as ConversationScoped);
      if (raw.type !== "error") return; // a late frame of a subscription that has ended
    }
    // Between a reconnect and its subscribe, the server still notifies; the subscription's replay
    // brings the same message, so the app sees it once, on the subscription.
    if (raw.type === "notification.message" && typeof conversationId === "string" && this.links.has(conversationId)) return;
    super.onFrame(raw);
  }
}
