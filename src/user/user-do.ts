import { DurableObject } from "cloudflare:workers";
import { database } from "../db/client";
import { closeInbox, openInbox } from "../db/conversations";
import type { Env } from "../env";
import { readConfig } from "../lib/config";
import { nextStamp, nowIso } from "../lib/ids";
import { announcePresence, type PresenceChange } from "../mirror/presence";
import { encodeMirror } from "../mirror/summary";
import { closeQuietly, CLOSE_TOKEN_EXPIRED, expiredSockets, frameTooLarge, MAX_FRAME_BYTES, tokenExpired } from "../lib/protocol";
import { debit, take, type UserBucket } from "../conversation/limiter";
import type { Conversation } from "../schemas/conversations";
import type { HistoryPage, Message } from "../schemas/messages";
import { InboxState } from "./inbox-state";
import { InboxSubscriptions } from "./subscriptions";
import { conversationStub } from "../conversation/access";
import type { Actor, Result } from "../conversation/conversation";
import type { ErrorDetail, ErrorInfo } from "../lib/errors";
import { parseInboxFrame, type ConversationCommand, type InboxClientFrame, type Subscribed, type UnsubscribeReason } from "../schemas/inbox-frames";
import type { FrameRef } from "../schemas/frames";

/** Conversations told at once that the user's inbox opened or closed. */
const CONVERSATIONS_TOLD_AT_ONCE = 50;
/** How long after a user's last message in a conversation it is told when the user is throttled. */
const SENDING_WINDOW_MS = 60_000;

/** Frames of the inbox socket (DESIGN.md, Realtime: inbox socket). */
export type InboxFrame =
  | { type: "hello"; user_id: string; unread_count: number; conversations: { id: string; unread_count: number }[] }
  | { type: "notification.message"; conversation_id: string; message: Message }
  | { type: "unread"; conversation_id: string; unread_count: number; total: number }
  | { type: "presence"; user_id: string; online: boolean; last_seen: string | null }
  | { type: "friend.request"; request: Record<string, unknown> }
  | { type: "conversation.created"; conversation: Conversation }
  | { type: "pong"; ref?: FrameRef }
  | ({ type: "subscribed"; ref?: FrameRef } & Subscribed)
  | { type: "unsubscribed"; ref?: FrameRef; conversation_id: string; reason?: UnsubscribeReason }
  | { type: "sync.batch"; ref?: FrameRef; conversation_id: string; messages: Message[] }
  | { type: "sync.done"; ref?: FrameRef; conversation_id: string; last_seq: number }
  | { type: "error"; ref?: FrameRef; conversation_id?: string; code: string; message: string; details?: ErrorDetail[]; retry_after_ms?: number };

/** A conversation's unread count for the user, stamped so the newer of two counts is known (Conversation.inboxCount). */
export interface InboxCount {
  unreadCount: number;
  stamp: number;
}

export interface ConversationActivity extends InboxCount {
  conversationId: string;
  /** New messages while the user had no socket open on that conversation: each becomes a notification. */
  messages: Message[];
}

/** What an inbox socket carries through hibernation. */
interface InboxIdentity {
  userId: string;
  exp: number;
  admin?: boolean;
  /** Names the socket in the subscriptions table (sockets accepted before subscriptions existed have none). */
  socketId?: string;
}

/** History pages a replay (subscribe with after_seq, or sync) reads at a time. */
const REPLAY_PAGE = 100;

/**
 * One per user: inbox sockets (hibernatable), unread totals and presence. Conversations tell
 * it about activity without waiting on it; it is online while any socket of the user, inbox
 * or conversation, is open, and queues presence for D1's mirror only when that changes.
 */
export class UserDO extends DurableObject<Env> {
  private inboxState: InboxState | null = null;
  private inboxSubscriptions: InboxSubscriptions | null = null;
  private readonly socketIds = new WeakMap<WebSocket, string>();
  /** Inbox sockets accepted but not greeted yet, with the frames waiting for their hello. */
  private readonly greeting = new Map<WebSocket, string[]>();
  /** While the first inbox's counts are being seeded: the stamp of the count taken per conversation (see takeCount). */
  private seedStamps: Map<string, number> | null = null;
  /** The seeding under way, which a second inbox opening meanwhile waits for. */
  private seeding: Promise<void> | null = null;
  /** Conversations where the user sent within SENDING_WINDOW_MS, with when: told when the user is throttled. */
  private readonly sendingIn = new Map<string, number>();
  /** The last subscribe/unsubscribe call per conversation, so they reach it in the order they were decided. */
  private readonly subscriptionCalls = new Map<string, Promise<unknown>>();
  /** The latest throttle the user's conversations were told of. */
  private throttledUntil = 0;
  /** The last presence change queued for D1 (its stamp orders the changes: see nextStamp). */
  private lastPresence: PresenceChange | null = null;
  /** The inbox's last opening or closing being recorded: the next waits for it, so D1 and the conversations end with the latest. */
  private inboxTransition: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  /**
   * The storage parts are built on first use: a conversation asking whether a newly added
   * participant's inbox is open (hasInbox) must not create storage for every member of a group.
   */
  private get state(): InboxState {
    return (this.inboxState ??= new InboxState(this.ctx.storage.sql));
  }

  private get subscriptions(): InboxSubscriptions {
    return (this.inboxSubscriptions ??= new InboxSubscriptions(this.ctx.storage.sql));
  }

  // ── RPC ──

  async conversationActivity(activity: ConversationActivity): Promise<void> {
    if (this.inboxSockets().length === 0) {
      // Within the grace after the last inbox closed, counts are still kept (a quick reconnect
      // finds them current). Past it, a conversation that still reports here missed the close:
      // correct it; the counts are seeded from D1 when an inbox next opens.
      if (this.state.isPending("inbox-closed")) {
        this.state.setUnread(activity.conversationId, activity.unreadCount);
        return;
      }
      const userId = this.ctx.id.name;
      if (userId) await conversationStub(this.env, activity.conversationId).inboxPresence(userId, false);
      return;
    }
    // A socket subscribed to the conversation has had these as message.new already.
    const subscribed = this.subscriptions.socketsOf(activity.conversationId);
    for (const message of activity.messages) this.broadcast({ type: "notification.message", conversation_id: activity.conversationId, message }, subscribed);
    if (this.takeCount(activity.conversationId, activity) || activity.messages.length > 0) {
      this.broadcast({ type: "unread", conversation_id: activity.conversationId, unread_count: this.state.unreadOf(activity.conversationId), total: this.state.totalUnread() });
    }
  }

  /**
   * A conversation reports messages the user sent there (batched, after the fact). They come off
   * the user's bucket for all of their conversations, which may go into debt; while it is empty
   * the answer is until when the user is throttled, and the other conversations where the user
   * sent lately are told too. Otherwise null.
   */
  async messagesSpent(userId: string, conversationId: string, count: number, perMinute: number): Promise<number | null> {
    const now = Date.now();
    this.sendingIn.set(conversationId, now);
    const { bucket, throttledUntil } = debit(this.state.bucket("messages"), count, now, perMinute);
    this.state.setBucket("messages", bucket);
    if (throttledUntil === null) return null;
    if (throttledUntil > this.throttledUntil) {
      this.throttledUntil = throttledUntil;
      this.ctx.waitUntil(this.tellThrottled(userId, throttledUntil, conversationId));
    }
    return throttledUntil;
  }

  /** Takes a token of one of the user's own buckets (creating a conversation). */
  async takeToken(kind: UserBucket, perMinute: number): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const result = take(this.state.bucket(kind), Date.now(), perMinute);
    if (!result.allowed) return { allowed: false, retryAfterMs: result.retryAfterMs };
    this.state.setBucket(kind, result.bucket);
    return { allowed: true, retryAfterMs: 0 };
  }

  /** A conversation object reports how many sockets this user has open there. */
  async conversationSockets(userId: string, conversationId: string, count: number, stamp: number): Promise<void> {
    await this.withPresence(userId, () => this.state.setConversationSockets(conversationId, count, stamp));
  }

  /** Whether an inbox socket of this user is open (a conversation that just added them asks). */
  async hasInbox(): Promise<boolean> {
    return this.inboxSockets().length > 0;
  }

  /**
   * A subscribed conversation's frames, in order, for the sockets subscribed to it. Returns
   * false (and ends the subscription there) when none is left, e.g. after a missed close.
   */
  async deliver(conversationId: string, frames: string[]): Promise<boolean> {
    const sockets = this.socketsIn(this.subscriptions.socketsOf(conversationId));
    if (sockets.length === 0) {
      const userId = this.ctx.id.name;
      if (userId) await this.releaseIfUnused(conversationId, userId);
      return false;
    }
    for (const ws of sockets) for (const frame of frames) this.send(ws, frame);
    return true;
  }

  /** The conversation ended the user's subscription (they were removed): the sockets are told at once. */
  async subscriptionEnded(conversationId: string, reason: UnsubscribeReason): Promise<void> {
    const frame: InboxFrame = { type: "unsubscribed", conversation_id: conversationId, reason };
    for (const ws of this.socketsIn(this.subscriptions.removeConversation(conversationId))) this.send(ws, frame);
  }

  /** Whether any socket of this user, inbox or conversation, is open (a message.unread check asks). */
  async hasSockets(): Promise<boolean> {
    return this.isOnline();
  }

  /** Pushes events (friend requests, new conversations, the presence of contacts) to the inbox sockets, in order. */
  async push(frames: InboxFrame[]): Promise<void> {
    for (const frame of frames) this.broadcast(frame);
  }

  // ── Inbox socket ──

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const identity = JSON.parse(request.headers.get("x-chat-actor") ?? "null") as Actor | null;
    if (!identity) return new Response("missing identity", { status: 400 });
    const { 0: client, 1: server } = new WebSocketPair();
    // An inbox that closed within the grace period left this user registered with their
    // conversations, so the counts kept here are current; otherwise they are seeded.
    const first = this.inboxSockets().length === 0 && !this.state.cancel("inbox-closed");
    // Accepted before anything is awaited: activity arriving while this inbox opens finds it
    // open, so it is kept (never dropped, and no conversation is told there is no inbox); what is
    // broadcast before the hello waits for it.
    this.greeting.set(server, []);
    const presence = this.withPresence(identity.id, () => {
      this.ctx.acceptWebSocket(server);
      server.serializeAttachment({ userId: identity.id, exp: identity.exp, admin: identity.isAdmin, socketId: crypto.randomUUID() } satisfies InboxIdentity);
    });
    if (first) this.seeding = this.seed(identity.id).finally(() => (this.seeding = null));
    try {
      await presence;
      await this.seeding; // a second inbox opening meanwhile waits for the same counts
      await this.scheduleAlarm(); // for this socket's token expiry
    } catch (err) {
      this.greeting.delete(server);
      server.close(1011, "inbox could not open");
      throw err;
    }
    this.send(server, { type: "hello", user_id: identity.id, unread_count: this.state.totalUnread(), conversations: this.state.unreadList() });
    for (const frame of this.greeting.get(server) ?? []) this.send(server, frame);
    this.greeting.delete(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * The first inbox's unread counts: D1's, then each conversation's own, which it answers when
   * it learns of the inbox (D1's mirror trails the conversations). Activity arriving meanwhile
   * is newer than D1's counts; against a conversation's answer, the larger stamp wins.
   */
  private async seed(userId: string): Promise<void> {
    const stamps = new Map<string, number>();
    this.seedStamps = stamps;
    try {
      await this.inboxTransitioned(async () => {
        const db = database(this.env.DB);
        // The user is online now: the change that made them so, if D1 may not have it yet.
        const presence = this.lastPresence?.online ? this.lastPresence : null;
        const { counts, presenceTaken } = await openInbox(db, userId, presence);
        if (presence && presenceTaken) this.ctx.waitUntil(announcePresence(this.env, db, [presence]));
        this.state.seedUnread(counts, new Set(stamps.keys()));
        await this.announceInbox(userId, true, counts.map((c) => c.id));
      });
    } catch (err) {
      console.error("inbox seed failed", err);
    } finally {
      this.seedStamps = null;
    }
  }

  /** Stores a conversation's count unless, while seeding, a newer one was taken already. Returns true when the stored count changed. */
  private takeCount(conversationId: string, count: InboxCount): boolean {
    const stamps = this.seedStamps;
    if (stamps) {
      if ((stamps.get(conversationId) ?? -1) >= count.stamp) return false;
      stamps.set(conversationId, count.stamp);
    }
    return this.state.setUnread(conversationId, count.unreadCount);
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const identity = ws.deserializeAttachment() as InboxIdentity | null;
    if (frameTooLarge(raw)) {
      this.send(ws, { type: "error", code: "PAYLOAD_TOO_LARGE", message: `frames are limited to ${MAX_FRAME_BYTES} bytes` });
      return closeQuietly(ws, 1009, "frame too large");
    }
    if (!identity || tokenExpired(identity.exp, Date.now())) return this.closeExpired(ws);
    const parsed = parseInboxFrame(raw);
    if (!parsed.ok) return this.send(ws, { type: "error", ...(parsed.ref !== undefined && { ref: parsed.ref }), code: parsed.code, message: parsed.message, details: parsed.details });
    const frame = parsed.frame;
    if (frame.type === "ping") return this.send(ws, { type: "pong", ref: frame.ref });
    await this.guarded("frame", async () => {
      const error = await this.handleFrame(ws, identity, frame);
      if (error) this.send(ws, errorFrame(frame.ref, frame.conversation_id, error));
    });
  }

  // ── One socket per client: subscriptions and conversation commands ──

  /** A frame naming a conversation; returns the error to send back, if any. */
  private async handleFrame(ws: WebSocket, identity: InboxIdentity, frame: Exclude<InboxClientFrame, { type: "ping" }>): Promise<ErrorInfo | null> {
    const actor: Actor = { id: identity.userId, isAdmin: identity.admin ?? false, isService: false, exp: identity.exp };
    const conversationId = frame.conversation_id;
    const stub = conversationStub(this.env, conversationId);
    switch (frame.type) {
      case "subscribe": {
        // Recorded first: frames the conversation delivers while it answers find this socket.
        if (identity.socketId) this.subscriptions.add(identity.socketId, conversationId);
        const result = await this.inOrder(conversationId, async (): Promise<Result<Subscribed>> => stub.subscribe(actor));
        if (!result.ok) {
          if (identity.socketId) this.subscriptions.remove(identity.socketId, conversationId);
          return result.error;
        }
        this.send(ws, { type: "subscribed", ...(frame.ref !== undefined && { ref: frame.ref }), ...result.value });
        return frame.after_seq === undefined ? null : this.replay(ws, actor, conversationId, frame.after_seq, frame.ref);
      }
      case "unsubscribe": {
        if (identity.socketId && this.subscriptions.remove(identity.socketId, conversationId)) await this.releaseIfUnused(conversationId, actor.id);
        this.send(ws, { type: "unsubscribed", ...(frame.ref !== undefined && { ref: frame.ref }), conversation_id: conversationId });
        return null;
      }
      case "sync":
        return this.replay(ws, actor, conversationId, frame.after_seq, frame.ref);
      default: {
        const { replies, error } = await stub.command(actor, frame as ConversationCommand);
        for (const reply of replies) this.send(ws, reply);
        return error;
      }
    }
  }

  /**
   * Every message after `afterSeq` as sync.batch frames, then sync.done: read a page at a time
   * from the conversation's history, so a long replay never holds the conversation up.
   */
  private async replay(ws: WebSocket, actor: Actor, conversationId: string, afterSeq: number, ref: FrameRef): Promise<ErrorInfo | null> {
    const stub = conversationStub(this.env, conversationId);
    const refField = ref !== undefined ? { ref } : {};
    let after = afterSeq;
    for (;;) {
      // Typed as the plain Result the object returns (the RPC type's Disposable parts defeat narrowing).
      const page = (await stub.replayPage(actor, after, REPLAY_PAGE)) as Result<HistoryPage>;
      if (!page.ok) return page.error;
      const { messages, has_more: more } = page.value;
      if (messages.length > 0) {
        this.send(ws, { type: "sync.batch", ...refField, conversation_id: conversationId, messages });
        after = messages[messages.length - 1]!.seq;
      }
      if (!more) break;
    }
    this.send(ws, { type: "sync.done", ...refField, conversation_id: conversationId, last_seq: after });
    return null;
  }

  /** The open sockets among `socketIds`. */
  private socketsIn(socketIds: ReadonlySet<string>): WebSocket[] {
    if (socketIds.size === 0) return [];
    return this.inboxSockets().filter((ws) => socketIds.has(this.socketIdOf(ws)));
  }

  /** A socket's id from its attachment, deserialised once per socket per instance. */
  private socketIdOf(ws: WebSocket): string {
    let id = this.socketIds.get(ws);
    if (id === undefined) {
      id = (ws.deserializeAttachment() as InboxIdentity | null)?.socketId ?? "";
      this.socketIds.set(ws, id);
    }
    return id;
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    if (code !== 1005 && code !== 1006) closeQuietly(ws, code, reason);
    await this.guarded("socket close", () => this.onInboxGone(ws));
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.guarded("socket error", () => this.onInboxGone(ws));
  }

  /** Runtime handlers never throw: a failure is logged, and the socket's own close does the rest. */
  private async guarded(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      console.error(`inbox ${what} failed`, err);
    }
  }

  // ── Presence ──

  private async onInboxGone(ws: WebSocket): Promise<void> {
    const identity = ws.deserializeAttachment() as InboxIdentity | null;
    if (!identity) return;
    if (identity.socketId) await this.endSubscriptions(identity.userId, identity.socketId);
    await this.withPresence(identity.userId, () => undefined, ws);
    if (this.inboxSockets(ws).length > 0) return;
    this.state.schedule("inbox-closed", identity.userId, Date.now() + readConfig(this.env).presenceGraceMs);
    await this.scheduleAlarm();
  }

  /** A gone socket's subscriptions end; a conversation no other socket of the user subscribed to stops sending. */
  private async endSubscriptions(userId: string, socketId: string): Promise<void> {
    const told = await Promise.allSettled(this.subscriptions.removeSocket(socketId).map((id) => this.releaseIfUnused(id, userId)));
    for (const r of told) if (r.status === "rejected") console.error("unsubscribe failed", r.reason);
  }

  /**
   * Tells the conversation to stop sending, unless a socket subscribed again by the time the
   * call goes out. Calls about one conversation go one after another, each deciding when it
   * runs, so a late unsubscribe of a closed socket never ends a newer socket's subscription.
   */
  private releaseIfUnused(conversationId: string, userId: string): Promise<void> {
    return this.inOrder(conversationId, async () => {
      if (!this.subscriptions.isSubscribed(conversationId)) await conversationStub(this.env, conversationId).unsubscribe(userId);
    });
  }

  private inOrder<T>(conversationId: string, work: () => Promise<T>): Promise<T> {
    const next = (this.subscriptionCalls.get(conversationId) ?? Promise.resolve()).catch(() => undefined).then(work);
    this.subscriptionCalls.set(conversationId, next);
    const forget = () => {
      if (this.subscriptionCalls.get(conversationId) === next) this.subscriptionCalls.delete(conversationId);
    };
    next.then(forget, forget);
    return next;
  }

  /**
   * Tells each of the user's conversations that an inbox opened (or the last one closed), so
   * messages are turned into notifications only while someone can receive them. Costs one call
   * per conversation of the user, on those two transitions only.
   */
  private async announceInbox(userId: string, open: boolean, ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CONVERSATIONS_TOLD_AT_ONCE) {
      const batch = ids.slice(i, i + CONVERSATIONS_TOLD_AT_ONCE);
      const told = await Promise.allSettled(batch.map((id) => conversationStub(this.env, id).inboxPresence(userId, open)));
      told.forEach((r, n) => {
        if (r.status === "rejected") console.error("inbox presence report failed", r.reason);
        else if (r.value) this.takeCount(batch[n]!, r.value);
      });
    }
  }

  /** Tells the other conversations where the user sent lately that they are throttled until `until`. */
  private async tellThrottled(userId: string, until: number, reporter: string): Promise<void> {
    const now = Date.now();
    const told: Promise<void>[] = [];
    for (const [conversationId, at] of this.sendingIn) {
      if (at < now - SENDING_WINDOW_MS) this.sendingIn.delete(conversationId);
      else if (conversationId !== reporter) told.push(conversationStub(this.env, conversationId).throttle(userId, until));
    }
    for (const r of await Promise.allSettled(told)) if (r.status === "rejected") console.error("throttle notice failed", r.reason);
  }

  private inboxSockets(except?: WebSocket): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN);
  }

  private isOnline(except?: WebSocket): boolean {
    return this.inboxSockets(except).length > 0 || this.state.conversationSocketCount() > 0;
  }

  /**
   * Runs a change to the user's sockets; if it flips online/offline, records it in D1 and tells
   * the audience (friends and co-participants who are online). Going offline waits
   * PRESENCE_GRACE_MS (an alarm), and coming back within it announces nothing at all, so a
   * reconnect does not flicker. `closing` is a socket being closed: it counted before the
   * change and does not after.
   */
  private async withPresence(userId: string, change: () => void, closing?: WebSocket): Promise<void> {
    const before = this.inboxSockets(closing).length + (closing ? 1 : 0) > 0 || this.state.conversationSocketCount() > 0;
    change();
    const online = this.isOnline(closing);
    if (before === online) return;
    if (online) {
      if (!this.state.cancel("offline")) await this.announce(userId, true);
      return;
    }
    this.state.schedule("offline", userId, Date.now() + readConfig(this.env).presenceGraceMs);
    await this.scheduleAlarm();
  }

  override async alarm(): Promise<void> {
    try {
      const now = Date.now();
      const offline = this.state.takeDue("offline", now);
      if (offline && !this.isOnline()) await this.announce(offline, false);
      const inboxClosed = this.state.takeDue("inbox-closed", now);
      if (inboxClosed && this.inboxSockets().length === 0) {
        await this.inboxTransitioned(async () => this.announceInbox(inboxClosed, false, await closeInbox(database(this.env.DB), inboxClosed)));
      }
      // An inbox that sends nothing (or only the auto-answered ping) never wakes this object.
      for (const ws of expiredSockets(this.inboxSockets(), expOf, now).expired) this.closeExpired(ws);
    } catch (err) {
      console.error("user alarm failed", err);
    }
    await this.scheduleAlarm();
  }

  /** The alarm serves the grace timers and inbox sockets' token expiry (an earlier alarm may have fired before one was due). */
  private async scheduleAlarm(): Promise<void> {
    const candidates = [this.state.nextDueAt(), expiredSockets(this.inboxSockets(), expOf, Date.now()).nextAt].filter((t): t is number => t !== null);
    if (candidates.length === 0) return;
    const at = Math.min(...candidates);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Queues the change for D1's mirror; the queue's consumer writes it with other users' in one
   * batch and then tells the user's online contacts (see src/mirror/presence.ts). Whichever
   * writes it first announces it: the consumer, or the first inbox opening (seed).
   */
  private async announce(userId: string, online: boolean): Promise<void> {
    const change: PresenceChange = { user_id: userId, online, at: nowIso(), stamp: nextStamp(this.lastPresence?.stamp ?? 0) };
    this.lastPresence = change;
    await this.env.MIRROR.send(encodeMirror({ kind: "presence", change }));
  }

  /** Runs an inbox opening or closing after the one before it has been recorded. */
  private inboxTransitioned(work: () => Promise<void>): Promise<void> {
    const next = this.inboxTransition.catch(() => undefined).then(work);
    this.inboxTransition = next;
    return next;
  }

  /** Told why, then closed with 4001 (the client may reconnect with a new token). */
  private closeExpired(ws: WebSocket): void {
    this.send(ws, { type: "error", code: "INVALID_TOKEN", message: "token has expired" });
    closeQuietly(ws, CLOSE_TOKEN_EXPIRED, "token expired");
  }

  /** To every inbox socket, but those named in `exceptSocketIds`. */
  private broadcast(frame: InboxFrame, exceptSocketIds?: ReadonlySet<string>): void {
    const text = JSON.stringify(frame);
    for (const ws of this.inboxSockets()) {
      if (exceptSocketIds?.has(this.socketIdOf(ws))) continue;
      const waiting = this.greeting.get(ws);
      if (waiting) waiting.push(text);
      else this.send(ws, text);
    }
  }

  private send(ws: WebSocket, frame: InboxFrame | string): void {
    try {
      ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    } catch {
      // closed under us
    }
  }
}

const expOf = (ws: WebSocket): number | null => (ws.deserializeAttachment() as InboxIdentity | null)?.exp ?? null;

function errorFrame(ref: FrameRef, conversationId: string, error: ErrorInfo): InboxFrame {
  return {
    type: "error",
    ...(ref !== undefined && { ref }),
    conversation_id: conversationId,
    code: error.code,
    message: error.message,
    ...(error.details !== undefined && { details: error.details }),
    ...(error.retryAfterMs !== undefined && { retry_after_ms: error.retryAfterMs }),
  };
}
