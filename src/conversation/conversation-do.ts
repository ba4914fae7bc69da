import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { readConfig, type Config } from "../lib/config";
import type { ErrorCode, ErrorInfo } from "../lib/errors";
import { parseClientFrame, type ClientFrame, type FrameRef, type ServerFrame } from "../schemas/frames";
import type { HistoryPage, HistoryQuery, Message, ReadState, SendInput } from "../schemas/messages";
import { Limiter } from "./limiter";
import { Members } from "./members";
import { MessageLog } from "./message-log";
import { SocketHub, type SocketIdentity } from "./socket-hub";
import { SnapshotStore, type ConversationSnapshot } from "./snapshot";
import { migrate, StateStore } from "./storage";
import { SummaryMirror } from "./summary-mirror";
import { TypingState } from "./typing";

/** Who acts, as the Worker authenticated them. */
export interface Actor {
  id: string;
  isAdmin: boolean;
  /** Token expiry, seconds since the epoch. */
  exp: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

export const MAX_FRAME_BYTES = 64 * 1024;
const SYNC_BATCH = 100;
/** Close codes beyond the standard ones; documented in the README. */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_REMOVED = 4003;

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = (code: ErrorCode, message: string, extra: Partial<ErrorInfo> = {}): Result<never> => ({
  ok: false,
  error: { code, message, ...extra },
});

/**
 * One conversation: the single writer of its message log. Runtime handlers stay thin and
 * delegate to the named parts; every write that must be atomic goes through one
 * transactionSync, so a refused or failed send leaves nothing behind.
 */
export class ConversationDO extends DurableObject<Env> {
  private readonly config: Config;
  private readonly snapshot: SnapshotStore;
  private readonly log: MessageLog;
  private readonly members: Members;
  private readonly limiter: Limiter;
  private readonly typing: TypingState;
  private readonly hub: SocketHub;
  private readonly summary: SummaryMirror;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    migrate(sql);
    const state = new StateStore(sql);
    this.config = readConfig(env);
    this.snapshot = new SnapshotStore(state);
    const conversationId = () => this.snapshot.current?.id ?? null;
    this.log = new MessageLog(sql, () => conversationId() ?? "");
    this.members = new Members(sql);
    this.limiter = new Limiter(sql);
    this.typing = new TypingState(sql);
    this.hub = new SocketHub(ctx);
    this.summary = new SummaryMirror(env.DB, state, this.log, this.members, conversationId, () => void this.scheduleAlarm());
    // The exact frame {"type":"ping"} is answered by the runtime without waking this object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    if (this.summary.pending) void this.summary.kick();
  }

  // ── RPC, called by the Worker after it has authenticated and authorised the actor ──

  async sendMessage(actor: Actor, snapshot: ConversationSnapshot, input: SendInput): Promise<Result<{ message: Message; created: boolean }>> {
    this.applySnapshot(snapshot);
    return this.send(actor, input, null, undefined);
  }

  async history(snapshot: ConversationSnapshot, query: HistoryQuery): Promise<HistoryPage> {
    this.applySnapshot(snapshot);
    return this.log.page(query);
  }

  async markRead(actor: Actor, snapshot: ConversationSnapshot, upToSeq: number | undefined): Promise<Result<ReadState>> {
    this.applySnapshot(snapshot);
    const result = this.read(actor, upToSeq);
    // The REST caller may list or count unread right after this returns: let D1 catch up first.
    if (result.ok) await this.summary.kick();
    return result;
  }

  /** Called after D1 changed the conversation (status, participants) so sockets learn at once. */
  async refresh(snapshot: ConversationSnapshot): Promise<void> {
    this.applySnapshot(snapshot);
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

    const { 0: client, 1: server } = new WebSocketPair();
    const wasOnline = this.hub.socketsOf(actor.id).length > 0;
    this.hub.accept(server, { userId: actor.id, exp: actor.exp, admin: actor.isAdmin });
    if (!wasOnline) this.hub.broadcast({ type: "presence", user_id: actor.id, online: true }, server);
    const online = this.hub.onlineUsers();
    this.hub.send(server, {
      type: "hello",
      conversation_id: snapshot.id,
      user_id: actor.id,
      last_seq: this.log.lastSeq,
      participants: snapshot.participantIds.map((id) => ({ id, online: online.has(id) })),
      typing: this.typing.typingUsers(),
    });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const identity = this.hub.identity(ws);
    if (!identity) return ws.close(1011, "socket has no identity");
    if (frameBytes(raw) > MAX_FRAME_BYTES) {
      this.hub.send(ws, { type: "error", code: "PAYLOAD_TOO_LARGE", message: `frames are limited to ${MAX_FRAME_BYTES} bytes` });
      return ws.close(1009, "frame too large");
    }
    if (Date.now() >= identity.exp * 1000) {
      this.hub.send(ws, { type: "error", code: "INVALID_TOKEN", message: "token has expired" });
      return ws.close(CLOSE_TOKEN_EXPIRED, "token expired");
    }
    if (!identity.admin && !this.snapshot.isParticipant(identity.userId)) {
      return ws.close(CLOSE_REMOVED, "no longer a participant");
    }
    if (typeof raw !== "string") {
      return this.hub.send(ws, { type: "error", code: "VALIDATION_ERROR", message: "binary frames are not supported" });
    }
    const parsed = parseClientFrame(raw);
    if (!parsed.ok) return this.hub.send(ws, errorFrame(parsed.ref, { code: parsed.code, message: parsed.message }));
    try {
      this.handleFrame(ws, identity, parsed.frame);
    } catch (err) {
      console.error("conversation frame failed", err);
      this.hub.send(ws, errorFrame(parsed.frame.ref, { code: "INTERNAL", message: "internal error" }));
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
    for (const userId of this.typing.expire()) this.broadcastTyping(userId, false);
    if (this.summary.pending) await this.summary.kick();
    await this.scheduleAlarm();
  }

  // ── Commands shared by REST and sockets ──

  private applySnapshot(snapshot: ConversationSnapshot): void {
    const { removed } = this.snapshot.update(snapshot);
    for (const userId of removed) this.hub.closeUser(userId, CLOSE_REMOVED, "no longer a participant");
  }

  private send(actor: Actor, input: SendInput, origin: WebSocket | null, ref: FrameRef): Result<{ message: Message; created: boolean }> {
    const snapshot = this.snapshot.current;
    if (!snapshot || !this.snapshot.isParticipant(actor.id)) return fail("CHAT_ACCESS_DENIED", "only participants may send messages");
    if (input.client_id) {
      const existing = this.log.byClientId(actor.id, input.client_id);
      if (existing) {
        if (origin) this.hub.send(origin, { type: "message.ack", client_id: input.client_id, ref, message: existing });
        return ok({ message: existing, created: false });
      }
    }
    if (snapshot.status === "closed") return fail("CONVERSATION_CLOSED", "this conversation is closed");
    const invalid = this.validateSend(input);
    if (invalid) return invalid;

    const now = Date.now();
    const allowance = this.limiter.check(actor.id, "messages", this.config.rates.messagesPerMin, now);
    if (!allowance.allowed) {
      return fail("RATE_LIMIT_EXCEEDED", "too many messages; slow down", { retryAfterMs: allowance.retryAfterMs });
    }
    const message = this.ctx.storage.transactionSync(() => {
      this.limiter.commit(actor.id, "messages", allowance.bucket);
      const appended = this.log.append(
        {
          senderId: actor.id,
          type: input.type,
          content: input.content.trim(),
          data: input.data ?? null,
          replyTo: input.reply_to ?? null,
          clientId: input.client_id ?? null,
        },
        now,
      );
      this.members.recordSent(actor.id, appended.seq);
      return appended;
    });

    // One serialisation of the message for the ack and the whole fan-out.
    const body = JSON.stringify(message);
    if (origin) {
      this.hub.send(origin, `{"type":"message.ack","client_id":${JSON.stringify(message.client_id)},"ref":${JSON.stringify(ref ?? null)},"message":${body}}`);
    }
    this.hub.broadcast(`{"type":"message.new","message":${body}}`);
    if (this.typing.stop(actor.id, now)) this.broadcastTyping(actor.id, false);
    void this.summary.kick();
    return ok({ message, created: true });
  }

  private validateSend(input: SendInput): Result<never> | null {
    const content = input.content.trim();
    const length = [...content].length;
    if (length === 0) return invalidField("content", "must not be empty");
    if (length > this.config.maxMessageLength) {
      return invalidField("content", `must be at most ${this.config.maxMessageLength} characters`);
    }
    if (input.attachment_id !== undefined) return invalidField("attachment_id", "no such attachment in this conversation");
    if (input.reply_to !== undefined && !this.log.byId(input.reply_to)) {
      return invalidField("reply_to", "must name a message of this conversation");
    }
    if (input.type === "product" && typeof input.data?.product_id !== "string") {
      return invalidField("data.product_id", "product messages need data.product_id");
    }
    return null;
  }

  private read(actor: Actor, upToSeq: number | undefined): Result<ReadState> {
    if (!this.snapshot.isParticipant(actor.id)) return fail("CHAT_ACCESS_DENIED", "only participants have a read cursor");
    const target = Math.min(upToSeq ?? this.log.lastSeq, this.log.lastSeq);
    const before = this.members.readCursor(actor.id);
    const cursor = this.members.markRead(actor.id, target);
    if (cursor > before) this.hub.broadcast({ type: "read", user_id: actor.id, up_to_seq: cursor });
    return ok({ last_read_seq: cursor, unread_count: Math.max(0, this.log.lastSeq - cursor) });
  }

  private handleFrame(ws: WebSocket, identity: SocketIdentity, frame: ClientFrame): void {
    const actor: Actor = { id: identity.userId, isAdmin: identity.admin, exp: identity.exp };
    switch (frame.type) {
      case "message.send": {
        const { client_id, content, message_type, data, reply_to, attachment_id } = frame;
        const result = this.send(actor, { client_id, content, type: message_type, data, reply_to, attachment_id }, ws, frame.ref);
        if (!result.ok) this.hub.send(ws, errorFrame(frame.ref, result.error));
        return;
      }
      case "typing.start":
      case "typing.stop":
        return this.setTyping(actor, frame.type === "typing.start");
      case "read": {
        const result = this.read(actor, frame.up_to_seq);
        if (!result.ok) this.hub.send(ws, errorFrame(frame.ref, result.error));
        else void this.summary.kick();
        return;
      }
      case "sync":
        return this.replay(ws, frame.after_seq, frame.ref);
      case "ping": {
        const allowance = this.limiter.check(actor.id, "pings", this.config.rates.pingsPerMin);
        if (!allowance.allowed) {
          const error = { code: "RATE_LIMIT_EXCEEDED", message: "too many pings", retryAfterMs: allowance.retryAfterMs } as const;
          return this.hub.send(ws, errorFrame(frame.ref, error));
        }
        this.limiter.commit(actor.id, "pings", allowance.bucket);
        return this.hub.send(ws, { type: "pong", ref: frame.ref });
      }
    }
  }

  /** Typing beyond the limit, or in a closed conversation, is dropped quietly. */
  private setTyping(actor: Actor, isTyping: boolean): void {
    if (!this.snapshot.isParticipant(actor.id)) return;
    if (!isTyping) {
      if (this.typing.stop(actor.id)) this.broadcastTyping(actor.id, false);
      return;
    }
    if (this.snapshot.current?.status === "closed") return;
    const allowance = this.limiter.check(actor.id, "typing", this.config.rates.typingPerMin);
    if (!allowance.allowed) return;
    const started = this.ctx.storage.transactionSync(() => {
      this.limiter.commit(actor.id, "typing", allowance.bucket);
      return this.typing.start(actor.id);
    });
    if (started) this.broadcastTyping(actor.id, true);
    void this.scheduleAlarm();
  }

  /** Typing goes to everyone but the typist's own sockets. */
  private broadcastTyping(userId: string, isTyping: boolean): void {
    this.hub.broadcastToOthers({ type: "typing", user_id: userId, is_typing: isTyping }, userId);
  }

  private replay(ws: WebSocket, afterSeq: number, ref: FrameRef): void {
    let cursor = afterSeq;
    for (;;) {
      const batch = this.log.after(cursor, SYNC_BATCH);
      if (batch.length === 0) break;
      this.hub.send(ws, { type: "sync.batch", ref, messages: batch });
      cursor = batch[batch.length - 1]!.seq;
      if (batch.length < SYNC_BATCH) break;
    }
    this.hub.send(ws, { type: "sync.done", ref, last_seq: this.log.lastSeq });
  }

  private onSocketGone(ws: WebSocket): void {
    const identity = this.hub.identity(ws);
    if (!identity || this.hub.socketsOf(identity.userId, ws).length > 0) return;
    if (this.typing.stop(identity.userId)) this.broadcastTyping(identity.userId, false);
    this.hub.broadcast({ type: "presence", user_id: identity.userId, online: false }, ws);
  }

  /** One alarm serves typing expiry and summary retries: it is set for whichever comes first. */
  private async scheduleAlarm(): Promise<void> {
    const candidates = [this.typing.nextExpiry(), this.summary.retryAt].filter((t): t is number => t !== null);
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

function invalidField(field: string, message: string): Result<never> {
  return fail("VALIDATION_ERROR", `${field}: ${message}`, { details: [{ field, message }] });
}

function errorFrame(ref: FrameRef, error: ErrorInfo): ServerFrame {
  const frame: ServerFrame = { type: "error", code: error.code, message: error.message };
  if (ref !== undefined) frame.ref = ref;
  if (error.retryAfterMs !== undefined) frame.retry_after_ms = error.retryAfterMs;
  return frame;
}
