// The user's inbox socket: notifications for conversations not being watched, unread totals,
// presence, friend requests and new conversations; reconnects like the conversation socket.
import { ReconnectingSocket, type SocketEvents, type SocketOptions } from "./socket.js";
import type { InboxFrame, InboxFrameOf } from "./types.js";

export type InboxSocketOptions = SocketOptions;

type Payload<T extends InboxFrame["type"]> = Omit<InboxFrameOf<T>, "type">;

export interface InboxEvents extends SocketEvents {
  /** Every (re)connect: the unread total and the per-conversation counts. */
  hello: Payload<"hello">;
  "notification.message": Payload<"notification.message">;
  unread: Payload<"unread">;
  presence: Payload<"presence">;
  "friend.request": Payload<"friend.request">;
  "conversation.created": Payload<"conversation.created">;
}

export class InboxSocket extends ReconnectingSocket<InboxEvents> {
  private unreadTotal: number | null = null;

  constructor(options: InboxSocketOptions) {
    super(options);
    if (options.autoConnect !== false) this.connect();
  }

  /** The last unread total the server reported (null before the first hello). */
  get unreadCount(): number | null {
    return this.unreadTotal;
  }

  protected path(): string {
    return "/api/v1/ws";
  }

  protected onFrame(raw: { type: string } & Record<string, unknown>): void {
    const frame = raw as unknown as InboxFrame;
    switch (frame.type) {
      case "hello": {
        const { type: _type, ...hello } = frame;
        this.unreadTotal = frame.unread_count;
        this.markHealthy();
        this.emit("hello", hello);
        return;
      }
      case "unread": {
        const { type: _type, ...unread } = frame;
        this.unreadTotal = frame.total;
        this.emit("unread", unread);
        return;
      }
      case "notification.message":
      case "presence":
      case "friend.request":
      case "conversation.created": {
        const { type, ...payload } = frame;
        (this.emit as (event: string, payload: unknown) => void)(type, payload);
        return;
      }
      case "error": {
        const { type: _type, ...error } = frame;
        this.emitBase("error", error);
        return;
      }
      case "pong":
        return;
    }
  }
}
