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
   * Each user's sockets here: read from the runtime's list once per wake-up, then kept by accept
   * and gone. Broadcasts, who is online and a user's open sockets are read from it without asking
   * the runtime (each ask builds an array of every socket's handle): a connect to a big group
   * names up to 100 online people, a message goes to everyone online. A socket closing meanwhile
   * may still be held, as in the runtime's own list until its close arrives: sends to it are
   * caught, each use checks its state, and a user with none open is dropped when met.
   */
  private byUser: Map<string, Set<WebSocket>> | null = null;

  /** `relay` passes every broadcast on to the inbox sockets subscribed here (but those of `exceptUserId`). */
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly relay: (frame: string, exceptUserId?: string) => void,
  ) {}

  accept(ws: WebSocket, identity: SocketIdentity): void {
    this.ctx.acceptWebSocket(ws, [identity.userId]);
    ws.serializeAttachment(identity);
    this.identities.set(ws, identity);
    if (this.byUser) addTo(this.byUser, identity.userId, ws);
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
    return [...(this.users().get(userId) ?? [])].filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN);
  }

  /** Every user with an open socket. */
  onlineUsers(): Set<string> {
    const online = new Set<string>();
    const users = this.users();
    for (const [userId, sockets] of users) {
      if (hasOpen(sockets)) online.add(userId);
      else users.delete(userId);
    }
    return online;
  }

  /**
   * The users holding a socket here, each once, in the order they came, without asking each
   * socket's state: a socket whose close is on its way still counts, as it does until then
   * everywhere. For a greeting, which names up to 100 of them on every connect.
   */
  heldUserIds(): IterableIterator<string> {
    return this.users().keys();
  }

  /**
   * Whether one of the user's sockets was opened by a participant (not by an admin watching):
   * such a socket is closed when its user is removed, so it stands for membership without a
   * storage read. A big group's first message after a wake-up would otherwise look up every
   * online person in storage.
   */
  openedAsParticipant(userId: string): boolean {
    for (const ws of this.users().get(userId) ?? []) if (this.identity(ws)?.watcher !== true) return true;
    return false;
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
    for (const [id, sockets] of this.users()) {
      if (id !== userId) for (const ws of sockets) this.send(ws, text);
    }
    this.relay(text, userId);
  }

  /** A socket closed or failed (its handler ran): it leaves its user's record. */
  gone(ws: WebSocket): void {
    const userId = this.identity(ws)?.userId;
    const sockets = userId === undefined ? undefined : this.byUser?.get(userId);
    sockets?.delete(ws);
    if (sockets?.size === 0) this.byUser?.delete(userId!);
  }

  /** Every socket held, user by user. */
  private *sockets(): Generator<WebSocket> {
    for (const sockets of this.users().values()) yield* sockets;
  }

  private users(): Map<string, Set<WebSocket>> {
    if (!this.byUser) {
      this.byUser = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        const identity = this.identity(ws);
        if (identity) addTo(this.byUser, identity.userId, ws);
      }
    }
    return this.byUser;
  }

  closeUser(userId: string, code: number, reason: string): void {
    for (const ws of this.ctx.getWebSockets(userId)) closeQuietly(ws, code, reason);
  }
}

function addTo(byUser: Map<string, Set<WebSocket>>, userId: string, ws: WebSocket): void {
  const sockets = byUser.get(userId);
  if (sockets) sockets.add(ws);
  else byUser.set(userId, new Set([ws]));
}

function hasOpen(sockets: Set<WebSocket>): boolean {
  for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) return true;
  return false;
}
