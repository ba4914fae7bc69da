import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { readConfig } from "../lib/config";
import type { ErrorInfo } from "../lib/errors";
import type { Attachment } from "../schemas/attachments";
import { parseClientFrame, type ClientFrame, type FrameRef, type ServerFrame } from "../schemas/frames";
import type { HistoryPage, HistoryQuery, Message, ReadState, Receipts, SendInput } from "../schemas/messages";
import type { CreateOfferInput, RespondOfferInput } from "../schemas/offers";
import { Conversation, fail, ok, type Actor, type Origin, type Result } from "./conversation";
import { OfferBook } from "./offer-book";
import { OfferDesk } from "./offer-desk";
import type { ReactionMap } from "./reactions";
import type { SocketIdentity } from "./socket-hub";
import type { ConversationSnapshot } from "./snapshot";
import { migrate } from "./storage";

export type { Actor, Result } from "./conversation";

export const MAX_FRAME_BYTES = 64 * 1024;
const SYNC_BATCH = 100;
/** Close codes beyond the standard ones; documented in the README. */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_REMOVED = 4003;

/**
 * One conversation: the single writer of its message log. The RPC methods and runtime handlers
 * here are thin: they restore context (snapshot, socket identity) and delegate to the
 * Conversation's commands and the offer desk.
 */
export class ConversationDO extends DurableObject<Env> {
  private readonly chat: Conversation;
  private readonly offers: OfferDesk;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrate(ctx.storage.sql);
    this.chat = new Conversation(ctx, env, readConfig(env), () => void this.scheduleAlarm());
    this.offers = new OfferDesk(this.chat, new OfferBook(ctx.storage.sql, () => this.chat.snapshot.current?.id ?? ""));
    // The exact frame {"type":"ping"} is answered by the runtime without waking this object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    const open = new Set(ctx.getWebSockets().map((ws) => this.chat.hub.identity(ws)?.session ?? -1));
    this.chat.receipts.closeAllExcept(open, this.chat.log.lastSeq);
    if (this.chat.summary.pending) void this.chat.summary.kick();
  }

  // ── RPC, called by the Worker after it has authenticated and authorised the actor ──

  async sendMessage(actor: Actor, snapshot: ConversationSnapshot, input: SendInput): Promise<Result<{ message: Message; created: boolean }>> {
    this.applySnapshot(snapshot);
    return this.chat.send(actor, input, null);
  }

  async editMessage(actor: Actor, snapshot: ConversationSnapshot, messageId: string, content: string): Promise<Result<Message>> {
    this.applySnapshot(snapshot);
    return this.chat.edit(actor, messageId, content);
  }

  async deleteMessage(actor: Actor, snapshot: ConversationSnapshot, messageId: string): Promise<Result<Message>> {
    this.applySnapshot(snapshot);
    return this.chat.remove(actor, messageId);
  }

  async react(actor: Actor, snapshot: ConversationSnapshot, messageId: string, emoji: string, add: boolean): Promise<Result<{ message_id: string; reactions: ReactionMap }>> {
    this.applySnapshot(snapshot);
    return this.chat.react(actor, messageId, emoji, add);
  }

  async receipts(snapshot: ConversationSnapshot, messageId: string): Promise<Result<Receipts>> {
    this.applySnapshot(snapshot);
    return this.chat.receiptsOf(messageId);
  }

  async history(actor: Actor, snapshot: ConversationSnapshot, query: HistoryQuery): Promise<HistoryPage> {
    this.applySnapshot(snapshot);
    return this.chat.history(actor, query);
  }

  async markRead(actor: Actor, snapshot: ConversationSnapshot, upToSeq: number | undefined): Promise<Result<ReadState>> {
    this.applySnapshot(snapshot);
    const result = this.chat.read(actor, upToSeq);
    // The REST caller may list or count unread right after this returns: let D1 catch up first.
    if (result.ok) await this.chat.summary.settle();
    return result;
  }

  async createOffer(actor: Actor, snapshot: ConversationSnapshot, input: CreateOfferInput): Promise<Result<{ message: Message; created: boolean }>> {
    this.applySnapshot(snapshot);
    return this.offers.create(actor, input, null);
  }

  async respondToOffer(actor: Actor, snapshot: ConversationSnapshot, offerId: string, input: RespondOfferInput): Promise<Result<Message>> {
    this.applySnapshot(snapshot);
    return this.offers.respond(actor, offerId, input, null);
  }

  /** Checks membership, open state and the upload bucket before the Worker stores any bytes. */
  async admitUpload(actor: Actor, snapshot: ConversationSnapshot): Promise<Result<null>> {
    this.applySnapshot(snapshot);
    const refused = this.chat.requireParticipant(actor) ?? this.chat.requireOpen();
    if (refused) return refused;
    const allowance = this.chat.limiter.check(actor.id, "uploads", this.chat.config.rates.uploadsPerMin);
    if (!allowance.allowed) return fail("RATE_LIMIT_EXCEEDED", "too many uploads; slow down", { retryAfterMs: allowance.retryAfterMs });
    this.chat.limiter.commit(actor.id, "uploads", allowance.bucket);
    return ok(null);
  }

  /** The Worker stored the bytes (R2) and metadata (D1); from now on sends may use it. */
  async registerAttachment(snapshot: ConversationSnapshot, attachment: Attachment): Promise<void> {
    this.applySnapshot(snapshot);
    this.chat.attachments.register(attachment);
  }

  /** What this conversation has cost since the instance started (admin stats, benchmarks). */
  async costs(): Promise<ReturnType<Conversation["costs"]>> {
    return this.chat.costs();
  }

  /** Forgets an upload whose voice message was refused. */
  async discardAttachment(attachmentId: string): Promise<void> {
    this.chat.attachments.discard(attachmentId);
  }

  /**
   * Called after D1 changed the conversation (status, participants) so sockets learn at once.
   * A moderator's status change leaves a system note naming the action and who took it.
   */
  async refresh(snapshot: ConversationSnapshot, moderation: { actorId: string; change: "closed" | "reopened" } | null): Promise<void> {
    this.applySnapshot(snapshot);
    if (!moderation) return;
    const { actorId, change } = moderation;
    const note = this.chat.transaction(() =>
      this.chat.appendSystem(change === "closed" ? "Conversation closed by a moderator" : "Conversation reopened by a moderator", {
        action: `conversation.${change}`,
        actor_id: actorId,
      }),
    );
    this.chat.publish([note], null);
  }

  // ── Socket upgrade, forwarded by the Worker with the identity it verified ──

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const actor = JSON.parse(request.headers.get("x-chat-actor") ?? "null") as Actor | null;
    const snapshot = JSON.parse(request.headers.get("x-chat-snapshot") ?? "null") as ConversationSnapshot | null;
    if (!actor || !snapshot) return new Response("missing identity", { status: 400 });
    this.applySnapshot(snapshot);

    const { hub, log, receipts, typing } = this.chat;
    const { 0: client, 1: server } = new WebSocketPair();
    const wasOnline = hub.socketsOf(actor.id).length > 0;
    const session = receipts.openSession(actor.id, log.lastSeq);
    hub.accept(server, { userId: actor.id, exp: actor.exp, admin: actor.isAdmin, session });
    if (!wasOnline) hub.broadcast({ type: "presence", user_id: actor.id, online: true }, server);
    this.chat.reportSockets(actor.id);
    const online = hub.onlineUsers();
    hub.send(server, {
      type: "hello",
      conversation_id: snapshot.id,
      user_id: actor.id,
      last_seq: log.lastSeq,
      participants: snapshot.participantIds.map((id) => ({ id, online: online.has(id) })),
      typing: typing.typingUsers(),
    });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const { hub, snapshot } = this.chat;
    const identity = hub.identity(ws);
    if (!identity) return ws.close(1011, "socket has no identity");
    if (frameBytes(raw) > MAX_FRAME_BYTES) {
      hub.send(ws, { type: "error", code: "PAYLOAD_TOO_LARGE", message: `frames are limited to ${MAX_FRAME_BYTES} bytes` });
      return ws.close(1009, "frame too large");
    }
    if (Date.now() >= identity.exp * 1000) {
      hub.send(ws, { type: "error", code: "INVALID_TOKEN", message: "token has expired" });
      return ws.close(CLOSE_TOKEN_EXPIRED, "token expired");
    }
    if (!identity.admin && !snapshot.isParticipant(identity.userId)) {
      return ws.close(CLOSE_REMOVED, "no longer a participant");
    }
    if (typeof raw !== "string") {
      return hub.send(ws, { type: "error", code: "VALIDATION_ERROR", message: "binary frames are not supported" });
    }
    const parsed = parseClientFrame(raw);
    if (!parsed.ok) return hub.send(ws, errorFrame(parsed.ref, { code: parsed.code, message: parsed.message }));
    try {
      const error = this.handleFrame(ws, identity, parsed.frame);
      if (error) hub.send(ws, errorFrame(parsed.frame.ref, error));
    } catch (err) {
      console.error("conversation frame failed", err);
      hub.send(ws, errorFrame(parsed.frame.ref, { code: "INTERNAL", message: "internal error" }));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed by the runtime
    }
    this.onSocketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.onSocketGone(ws);
  }

  override async alarm(): Promise<void> {
    for (const userId of this.chat.typing.expire()) this.chat.broadcastTyping(userId, false);
    this.chat.inboxes.flush();
    if (this.chat.summary.pending) await this.chat.summary.kick();
    await this.scheduleAlarm();
  }

  // ── Internals ──

  /** Takes D1's view of the conversation; people removed lose their sockets at once. */
  private applySnapshot(next: ConversationSnapshot): void {
    for (const userId of this.chat.snapshot.update(next).removed) this.chat.hub.closeUser(userId, CLOSE_REMOVED, "no longer a participant");
  }

  /** Dispatches one valid frame; returns the error to send back, if any. */
  private handleFrame(ws: WebSocket, identity: SocketIdentity, frame: ClientFrame): ErrorInfo | null {
    const chat = this.chat;
    const actor: Actor = { id: identity.userId, isAdmin: identity.admin, exp: identity.exp };
    const origin: Origin = { ws, ref: frame.ref };
    const errorOf = (result: Result<unknown>) => (result.ok ? null : result.error);
    switch (frame.type) {
      case "message.send": {
        const { client_id, content, message_type, data, reply_to, attachment_id } = frame;
        return errorOf(chat.send(actor, { client_id, content, type: message_type, data, reply_to, attachment_id }, origin));
      }
      case "message.edit":
        return errorOf(chat.edit(actor, frame.message_id, frame.content));
      case "message.delete":
        return errorOf(chat.remove(actor, frame.message_id));
      case "reaction.add":
      case "reaction.remove":
        return errorOf(chat.react(actor, frame.message_id, frame.emoji, frame.type === "reaction.add"));
      case "offer.send": {
        const { type: _type, ref: _ref, ...input } = frame;
        return errorOf(this.offers.create(actor, input, origin));
      }
      case "offer.respond": {
        const { offer_id, action, counter_amount, message } = frame;
        return errorOf(this.offers.respond(actor, offer_id, { action, counter_amount, message }, origin));
      }
      case "typing.start":
      case "typing.stop":
        if (chat.setTyping(actor, frame.type === "typing.start")) void this.scheduleAlarm();
        return null;
      case "read":
        return errorOf(chat.read(actor, frame.up_to_seq));
      case "sync":
        this.replay(ws, actor, frame.after_seq, frame.ref);
        return null;
      case "ping": {
        const allowance = chat.limiter.check(actor.id, "pings", chat.config.rates.pingsPerMin);
        if (!allowance.allowed) return { code: "RATE_LIMIT_EXCEEDED", message: "too many pings", retryAfterMs: allowance.retryAfterMs };
        chat.limiter.commit(actor.id, "pings", allowance.bucket);
        chat.hub.send(ws, { type: "pong", ref: frame.ref });
        return null;
      }
    }
  }

  /** sync: every message after `afterSeq` in batches of 100, then sync.done; what was sent is delivered. */
  private replay(ws: WebSocket, actor: Actor, afterSeq: number, ref: FrameRef): void {
    const { hub, log } = this.chat;
    let cursor = afterSeq;
    for (;;) {
      const batch = log.after(cursor, SYNC_BATCH);
      if (batch.length === 0) break;
      hub.send(ws, { type: "sync.batch", ref, messages: batch });
      cursor = batch[batch.length - 1]!.seq;
      if (batch.length < SYNC_BATCH) break;
    }
    hub.send(ws, { type: "sync.done", ref, last_seq: log.lastSeq });
    if (cursor > afterSeq) this.chat.markDelivered(actor.id, cursor);
  }

  private onSocketGone(ws: WebSocket): void {
    const { hub, receipts, log, typing } = this.chat;
    const identity = hub.identity(ws);
    if (!identity) return;
    receipts.closeSession(identity.session, log.lastSeq);
    this.chat.reportSockets(identity.userId, ws);
    if (hub.socketsOf(identity.userId, ws).length > 0) return;
    if (typing.stop(identity.userId)) this.chat.broadcastTyping(identity.userId, false);
    hub.broadcast({ type: "presence", user_id: identity.userId, online: false }, ws);
  }

  /** One alarm serves typing expiry, summary retries and follow-up rounds: it is set for whichever comes first. */
  private async scheduleAlarm(): Promise<void> {
    const candidates = [this.chat.typing.nextExpiry(), this.chat.summary.retryAt, this.chat.inboxes.followUpAt].filter((t): t is number => t !== null);
    if (candidates.length === 0) return;
    const next = Math.min(...candidates);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }
}

function frameBytes(raw: string | ArrayBuffer): number {
  if (typeof raw !== "string") return raw.byteLength;
  // A UTF-16 unit is at most 3 UTF-8 bytes, so most frames need no encoding to be measured.
  return raw.length * 3 <= MAX_FRAME_BYTES ? raw.length : new TextEncoder().encode(raw).byteLength;
}

function errorFrame(ref: FrameRef, error: ErrorInfo): ServerFrame {
  const frame: ServerFrame = { type: "error", code: error.code, message: error.message };
  if (ref !== undefined) frame.ref = ref;
  if (error.retryAfterMs !== undefined) frame.retry_after_ms = error.retryAfterMs;
  return frame;
}
