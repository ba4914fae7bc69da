import { closeQuietly } from "../lib/protocol";
import type { ServerFrame } from "../schemas/frames";

/** What a socket carries through hibernation (serializeAttachment): kept small. */
export interface SocketIdentity {
  userId: string;
  /** Token expiry, seconds since the epoch. */
  exp: number;
  admin: boolean;
  /** The receipts session this socket delivers for. */
  session: number;
  /** Opened by an admin who is not a participant: watching, never announced or counted as present. */
  watcher?: true;
}

/** The conversation's sockets: who is on which, and fan-out with one serialisation per frame. */
export class SocketHub {
  /** Attachments deserialised once per socket per wake-up, not once per broadcast. */
  private readonly identities = new WeakMap<WebSocket, SocketIdentity | null>();

  /** Frames handed to the runtime, for the cost report. */
  framesSent = 0;
  /**
   * The runtime's socket list, read again only after a socket was accepted or has gone (reading
   * it builds an array of every socket; a message needs it for who is online and to broadcast).
   * A socket closing meanwhile may still be listed, as in the runtime's own list until its close
   * arrives: sends to it are caught, and who is online checks each socket's state.
   */
  private current: WebSocket[] | null = null;
  /**
   * Users who may have an open socket here: read from the runtime's list once per wake-up, added
   * to on accept, and pruned when a look (by tag) finds none of theirs open. Naming who is online
   * then costs a look per user named, not a pass over every socket (a connect to a big group
   * names at most the 100 it lists).
   */
  private maybeOnline: Set<string> | null = null;

  /** `relay` passes every broadcast on to the inbox sockets subscribed here (but those of `exceptUserId`). */
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly relay: (frame: string, exceptUserId?: string) => void,
  ) {}

  accept(ws: WebSocket, identity: SocketIdentity): void {
    this.current = null;
    this.ctx.acceptWebSocket(ws, [identity.userId]);
    ws.serializeAttachment(identity);
    this.identities.set(ws, identity);
    this.maybeOnline?.add(identity.userId);
  }

  identity(ws: WebSocket): SocketIdentity | null {
    let identity = this.identities.get(ws);
    if (identity === undefined) {
      identity = (ws.deserializeAttachment() as SocketIdentity | null) ?? null;
      this.identities.set(ws, identity);
    }
    return identity;
  }

  socketsOf(userId: string, except?: WebSocket): WebSocket[] {
    return this.ctx.getWebSockets(userId).filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN);
  }

  /** Every user with an open socket (but `except`): one pass over the socket list, which a broadcast walks anyway. */
  onlineUsers(except?: WebSocket): Set<string> {
    const users = new Set<string>();
    for (const ws of this.sockets()) {
      if (ws === except || ws.readyState !== WebSocket.OPEN) continue;
      const identity = this.identity(ws);
      if (identity) users.add(identity.userId);
    }
    return users;
  }

  /** The users with an open socket, each once, read lazily (see maybeOnline): a caller that needs only a few stops early. */
  *onlineUserIds(): Generator<string> {
    this.maybeOnline ??= new Set(this.sockets().flatMap((ws) => this.identity(ws)?.userId ?? []));
    for (const userId of this.maybeOnline) {
      if (this.socketsOf(userId).length > 0) yield userId;
      else this.maybeOnline.delete(userId);
    }
  }

  send(ws: WebSocket, frame: ServerFrame | string): void {
    try {
      ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
      this.framesSent++;
    } catch {
      // The socket closed under us; its close handler does the bookkeeping.
    }
  }

  /** Sends one already-serialised frame to every open socket, optionally skipping one. */
  broadcast(frame: ServerFrame | string, except?: WebSocket): void {
    const text = typeof frame === "string" ? frame : JSON.stringify(frame);
    for (const ws of this.sockets()) {
      if (ws !== except) this.send(ws, text);
    }
    this.relay(text);
  }

  /** Sends to every open socket except those of `userId`. */
  broadcastToOthers(frame: ServerFrame, userId: string): void {
    const text = JSON.stringify(frame);
    for (const ws of this.sockets()) {
      if (this.identity(ws)?.userId !== userId) this.send(ws, text);
    }
    this.relay(text, userId);
  }

  /** A socket closed or failed (its handler ran): the list is read again when next needed. */
  gone(): void {
    this.current = null;
  }

  private sockets(): WebSocket[] {
    return (this.current ??= this.ctx.getWebSockets());
  }

  closeUser(userId: string, code: number, reason: string): void {
    for (const ws of this.ctx.getWebSockets(userId)) closeQuietly(ws, code, reason);
  }
}
