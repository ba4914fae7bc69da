import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { readConfig } from "../lib/config";
import { errorResponse, AppError, type ErrorInfo } from "../lib/errors";
import { closeQuietly, CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, EXPIRY_SWEEP_DELAY_MS, expiredSockets, frameTooLarge, MAX_FRAME_BYTES, tokenExpired } from "../lib/protocol";
import type { Attachment } from "../schemas/attachments";
import { PARTICIPANTS_LISTED, PRESENCE_GROUP_LIMIT, type ParticipantRole } from "../schemas/conversations";
import { parseClientFrame, type ClientFrame, type FrameRef, type ServerFrame } from "../schemas/frames";
import type { HistoryPage, HistoryQuery, Message, Profile, ReadState, Receipts, SearchQuery, SendMessageBody } from "../schemas/messages";
import type { CreateOfferInput, RespondOfferInput } from "../schemas/offers";
import { accessDenied, Conversation, fail, invalidField, ok, type Actor, type Origin, type Result } from "./conversation";
import type { UploadBucket } from "./limiter";
import type { ConversationStatus, NewConversation, Refusal } from "./membership";
import { MembershipDesk, type ConversationState, type NewParticipant } from "./membership-desk";
import { OfferBook } from "./offer-book";
import { OfferDesk } from "./offer-desk";
import type { ReactionMap } from "./reactions";
import type { SocketIdentity } from "./socket-hub";
import { hasSchema, migrate } from "./storage";
import { withConversationId, type ConversationCommand, type Subscribed } from "../schemas/inbox-frames";
import { inboxStub } from "../user/inbox";
import type { InboxCount } from "../user/user-do";

export type { Actor, Result } from "./conversation";

/** The receipts session of a watching admin's socket: none (session ids start at 1). */
const NO_SESSION = 0;
/** User objects asked at once when a conversation learns who of its new participants has an inbox open. */
const INBOX_QUERIES_AT_ONCE = 50;

type Need = "participant" | "viewer";

/**
 * One conversation: the single writer of its message log and the authority of its membership.
 * The Worker authenticates and routes here; every RPC and socket upgrade is decided here, from
 * this object's own state. The methods and runtime handlers are thin: they check access and
 * delegate to the Conversation's commands, the membership desk and the offer desk.
 */
export class ConversationDO extends DurableObject<Env> {
  /** Null for an id that was never created: such an object answers and writes nothing. */
  private parts: { chat: Conversation; offers: OfferDesk; members: MembershipDesk } | null = null;
  /** When the alarm next closes sockets whose token expired (ms), shortly after the earliest expiry, even if they never send a frame. */
  private expirySweepAt: number | null = null;
  /** When the alarm is set for, as this instance set it (null: none; undefined: not known yet, asked of storage once). */
  private alarmAt: number | null | undefined = undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // The exact frame {"type":"ping"} is answered by the runtime without waking this object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    if (hasSchema(ctx.storage.sql)) this.start();
  }

  // ── RPC, called by the Worker with the actor it authenticated ──

  /** Creates the conversation here first; the Worker writes D1's rows once this answered. */
  async create(input: NewConversation): Promise<Result<ConversationState>> {
    const result = this.start().members.create(input);
    if (result.ok) this.ctx.waitUntil(this.learnInboxes(input.participants.map((p) => p.userId)));
    return result;
  }

  /**
   * A user's object reports that their inbox opened or closed: only open inboxes get
   * notifications. An opening is answered with the user's unread count here, which D1's mirror
   * may not show yet.
   */
  async inboxPresence(userId: string, open: boolean): Promise<InboxCount | null> {
    const chat = this.parts?.chat;
    if (!chat || (open && !chat.membership.isParticipant(userId))) return null;
    chat.watchInbox(userId, open);
    return open ? chat.inboxCount(userId) : null;
  }

  async describe(actor: Actor): Promise<Result<ConversationState>> {
    return this.with(actor, "viewer", ({ members }) => ok(members.state(actor.id)));
  }

  async setStatus(actor: Actor, status: ConversationStatus): Promise<Result<ConversationState>> {
    return this.settled(this.with(actor, "viewer", ({ members }) => members.setStatus(actor, status)));
  }

  async addParticipant(actor: Actor, person: NewParticipant): Promise<Result<{ added: boolean; state: ConversationState }>> {
    const result = this.with(actor, "viewer", ({ members }) => members.add(actor, person));
    // Not awaited: until the user's object answers, at most a notification is missed, never a
    // message. Someone without an inbox open is not asked: building a group of 1,000 asks no user object.
    if (result.ok && result.value.added && person.inboxOpen) this.ctx.waitUntil(this.learnInboxes([person.userId]));
    return this.settled(result);
  }

  async removeParticipant(actor: Actor, userId: string): Promise<Result<ConversationState>> {
    return this.settled(this.with(actor, "viewer", ({ members }) => members.remove(actor, userId)));
  }

  // ── Subscriptions of inbox sockets (one socket per client), called by the user's object ──

  /** Subscribes the actor's inbox sockets here; answers what `hello` would say. */
  async subscribe(actor: Actor): Promise<Result<Subscribed>> {
    return this.with(actor, "viewer", ({ chat }) => {
      chat.subscribe(actor.id);
      return ok(this.greeting(chat));
    });
  }

  /** The user's last socket subscribed here unsubscribed or closed. */
  async unsubscribe(userId: string): Promise<void> {
    this.parts?.chat.unsubscribe(userId);
  }

  /**
   * A conversation command from a subscribed inbox socket: decided exactly as on a conversation
   * socket; the replies meant for the sending socket (the ack) are returned to be passed on.
   */
  async command(actor: Actor, frame: ConversationCommand): Promise<{ replies: string[]; error: ErrorInfo | null }> {
    const replies: string[] = [];
    const refused = this.parts ? this.parts.chat.access(actor, "viewer") : accessDenied(actor);
    if (refused) return { replies, error: refused.ok ? null : refused.error };
    const chat = this.parts!.chat;
    const error = this.runCommand(actor, frame, { ref: frame.ref, reply: (text) => replies.push(withConversationId(text, chat.id)) });
    return { replies, error };
  }

  /** A participant's name or avatar changed: their messages carry the new one from now on. */
  async setProfile(userId: string, profile: Profile): Promise<void> {
    this.parts?.chat.membership.setProfile(userId, profile);
  }

  /** The user's object says the user is over their message limit across conversations until `until` (ms). */
  async throttle(userId: string, until: number): Promise<void> {
    this.parts?.chat.senders.throttle(userId, until);
  }

  /** The pair of a direct conversation blocked, unblocked, befriended or unfriended each other. */
  async setRefusals(refusals: Record<string, Refusal>): Promise<void> {
    this.parts?.members.setRefusals(refusals);
  }

  async sendMessage(actor: Actor, input: SendMessageBody): Promise<Result<{ message: Message; created: boolean }>> {
    if (actor.isService) return this.with(actor, "viewer", ({ chat }) => chat.sendForService(actor, input));
    const { sender_id: senderId, type, ...fields } = input;
    if (type === "system") return invalidField("type", "system messages are written by the server and the app's backend");
    if (senderId !== undefined && senderId !== actor.id) return fail("FORBIDDEN", "only the app's backend sends as someone else");
    return this.with(actor, "participant", ({ chat }) => chat.send(actor, { ...fields, type }, null));
  }

  async setParticipantRole(actor: Actor, userId: string, role: ParticipantRole): Promise<Result<ConversationState>> {
    return this.settled(this.with(actor, "viewer", ({ members }) => members.setRole(actor, userId, role)));
  }

  async editMessage(actor: Actor, messageId: string, content: string): Promise<Result<Message>> {
    return this.with(actor, "participant", ({ chat }) => chat.edit(actor, messageId, content));
  }

  async deleteMessage(actor: Actor, messageId: string): Promise<Result<Message>> {
    return this.with(actor, "viewer", ({ chat }) => chat.remove(actor, messageId));
  }

  async react(actor: Actor, messageId: string, emoji: string, add: boolean): Promise<Result<{ message_id: string; reactions: ReactionMap }>> {
    return this.with(actor, "participant", ({ chat }) => chat.react(actor, messageId, emoji, add));
  }

  async receipts(actor: Actor, messageId: string): Promise<Result<Receipts>> {
    return this.with(actor, "viewer", ({ chat }) => chat.receiptsOf(messageId));
  }

  /** The messages after `afterSeq`, a page at a time, for a replay through the user's inbox socket (as a conversation socket's sync gives them). */
  async replayPage(actor: Actor, afterSeq: number, limit: number): Promise<Result<HistoryPage>> {
    return this.with(actor, "viewer", ({ chat }) => ok(chat.fetchPage(actor, { after_seq: afterSeq, limit })));
  }

  async history(actor: Actor, query: HistoryQuery): Promise<Result<HistoryPage>> {
    return this.with(actor, "viewer", ({ chat }) => ok(chat.history(actor, query)));
  }

  /** Full-text search, for whoever may read the history (participants, admins). */
  async search(actor: Actor, query: SearchQuery): Promise<Result<HistoryPage>> {
    return this.with(actor, "viewer", ({ chat }) => chat.searchMessages(query));
  }

  async markRead(actor: Actor, upToSeq: number | undefined): Promise<Result<ReadState>> {
    // The REST caller may list or count unread right after this returns: let D1 catch up first.
    return this.settled(this.with(actor, "participant", ({ chat }) => chat.read(actor, upToSeq)));
  }

  async createOffer(actor: Actor, input: CreateOfferInput): Promise<Result<{ message: Message; created: boolean }>> {
    return this.with(actor, "participant", ({ offers }) => offers.create(actor, input, null));
  }

  async respondToOffer(actor: Actor, offerId: string, input: RespondOfferInput): Promise<Result<Message>> {
    return this.with(actor, "participant", ({ offers }) => offers.respond(actor, offerId, input, null));
  }

  /** Checks membership, open state and the upload's bucket (voice notes have their own) before the Worker stores any bytes. */
  async admitUpload(actor: Actor, bucket: UploadBucket = "uploads"): Promise<Result<null>> {
    return this.with(actor, "participant", ({ chat }) => chat.admitUpload(actor, bucket));
  }

  /**
   * The Worker stored the bytes (R2) and metadata (D1); from now on sends may use it. Decided
   * again now, not at admission: a removal, close or block that landed while the body was
   * arriving refuses it, and the Worker then deletes what it stored.
   */
  async registerAttachment(actor: Actor, attachment: Attachment): Promise<Result<null>> {
    return this.with(actor, "participant", ({ chat }) => chat.registerAttachment(actor, attachment));
  }

  /** Forgets an upload whose voice message was refused. */
  async discardAttachment(attachmentId: string): Promise<void> {
    this.parts?.chat.attachments.discard(attachmentId);
  }

  /** What this conversation has cost since the instance started (admin stats, benchmarks). */
  async costs(actor: Actor): Promise<Result<ReturnType<Conversation["costs"]>>> {
    return this.with(actor, "viewer", ({ chat }) => ok(chat.costs()));
  }

  // ── Socket upgrade, forwarded by the Worker with the identity it verified ──

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const actor = JSON.parse(request.headers.get("x-chat-actor") ?? "null") as Actor | null;
    if (!actor) return new Response("missing identity", { status: 400 });
    const refused = this.parts ? this.parts.chat.access(actor, "viewer") : accessDenied(actor);
    if (refused && !refused.ok) return errorResponse(AppError.from(refused.error));
    return this.openSocket(this.parts!.chat, actor);
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const parts = this.parts;
    const identity = parts?.chat.hub.identity(ws);
    if (!parts || !identity) return closeQuietly(ws, 1011, "socket has no identity");
    const { chat } = parts;
    if (frameTooLarge(raw)) {
      chat.hub.send(ws, { type: "error", code: "PAYLOAD_TOO_LARGE", message: `frames are limited to ${MAX_FRAME_BYTES} bytes` });
      return closeQuietly(ws, 1009, "frame too large");
    }
    if (tokenExpired(identity.exp, Date.now())) return closeExpired(chat, ws);
    if (!identity.admin && !chat.membership.isParticipant(identity.userId)) {
      return closeQuietly(ws, CLOSE_REMOVED, "no longer a participant");
    }
    const parsed = parseClientFrame(raw);
    if (!parsed.ok) return chat.hub.send(ws, errorFrame(parsed.ref, parsed));
    try {
      const error = this.handleFrame(ws, identity, parsed.frame);
      if (error) chat.hub.send(ws, errorFrame(parsed.frame.ref, error));
    } catch (err) {
      console.error("conversation frame failed", err);
      chat.hub.send(ws, errorFrame(parsed.frame.ref, { code: "INTERNAL", message: "internal error" }));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // 1005/1006 say no close frame arrived: the socket is gone, there is nothing to answer.
    if (code !== 1005 && code !== 1006) closeQuietly(ws, code, reason);
    this.guarded("socket close", () => this.onSocketGone(ws));
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.guarded("socket error", () => this.onSocketGone(ws));
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null; // a fired alarm is no longer set
    const parts = this.parts;
    if (!parts) return;
    const { chat } = parts;
    try {
      this.closeExpiredSockets(chat);
      chat.replays.turn();
      if (chat.saveAt !== null && chat.saveAt <= Date.now()) chat.save();
      if (chat.receipts.writeAt !== null && chat.receipts.writeAt <= Date.now()) chat.receipts.writeOpened();
      this.announceOffline(chat);
      for (const userId of chat.typing.expire()) chat.broadcastTyping(userId, false);
      chat.inboxes.flush();
      if (chat.senders.followUpAt !== null && chat.senders.followUpAt <= Date.now()) chat.senders.flush();
      if (chat.summary.pending) await chat.summary.kick();
    } catch (err) {
      console.error("conversation alarm failed", err);
    }
    await this.scheduleAlarm();
  }

  // ── Internals ──

  /** Builds the parts over storage (migrating it); called when the object exists or is being created. */
  private start(): NonNullable<ConversationDO["parts"]> {
    if (this.parts) return this.parts;
    const { ctx, env } = this;
    migrate(ctx.storage.sql);
    const chat = new Conversation(ctx, env, readConfig(env), () => void this.scheduleAlarm());
    this.parts = { chat, offers: new OfferDesk(chat, new OfferBook(ctx.storage.sql, () => chat.id)), members: new MembershipDesk(chat) };
    // Receipts sessions outlive a restart only with what they stand for: an open socket, a subscription, an open inbox.
    const accepted = ctx.getWebSockets();
    const sockets = accepted.flatMap((ws) => {
      const identity = chat.hub.identity(ws);
      return identity && identity.session !== NO_SESSION ? [{ session: identity.session, userId: identity.userId }] : [];
    });
    chat.receipts.restore(sockets, [...chat.subscribers.users.openSessions(), ...chat.inboxWatchers.openSessions()], chat.log.lastSeq);
    // Woken from hibernation: the sockets' expiries are known only from their attachments.
    const expiries = expiredSockets(accepted, (ws) => chat.hub.identity(ws)?.exp ?? null, Date.now());
    this.expirySweepAt = expiries.expired.length > 0 ? Date.now() : expiries.nextAt;
    if (chat.summary.pending) void chat.summary.kick();
    void this.scheduleAlarm(); // for anything the parts asked for while being built (a recovered cursor to save)
    return this.parts;
  }

  /** Runs `work` when `actor` may reach this conversation as `need` says; otherwise the refusal. */
  private with<T>(actor: Actor, need: Need, work: (parts: NonNullable<ConversationDO["parts"]>) => Result<T>): Result<T> {
    const parts = this.parts;
    if (!parts) return accessDenied(actor);
    return parts.chat.access(actor, need) ?? work(parts);
  }

  /** Asks new participants' user objects whether their inbox is open (they report changes from then on). */
  private async learnInboxes(userIds: string[]): Promise<void> {
    for (let i = 0; i < userIds.length; i += INBOX_QUERIES_AT_ONCE) {
      const batch = userIds.slice(i, i + INBOX_QUERIES_AT_ONCE);
      const open = await Promise.allSettled(batch.map((id) => inboxStub(this.env, id).hasInbox()));
      batch.forEach((id, n) => {
        const answer = open[n]!;
        if (answer.status === "fulfilled" && answer.value) void this.inboxPresence(id, true);
      });
    }
  }

  /** After a change a list may be read right away: D1's mirror is written before the answer. */
  private async settled<T>(result: Result<T>): Promise<Result<T>> {
    if (result.ok) await this.parts?.chat.summary.settle();
    return result;
  }

  private openSocket(chat: Conversation, actor: Actor): Response {
    const { hub, log, receipts, membership } = chat;
    const { 0: client, 1: server } = new WebSocketPair();
    // An admin who is not a participant watches: not present here, not counted toward their
    // presence, and no receipts session (receipts are the participants').
    const watcher = !membership.isParticipant(actor.id);
    // Back within the grace period: nothing was announced, so nothing is announced now. Big
    // groups announce nothing (every connect would cost a frame per open socket).
    const announce = !watcher && hub.socketsOf(actor.id).length === 0 && !chat.pendingOffline.cancel(actor.id) && membership.count <= PRESENCE_GROUP_LIMIT;
    const session = watcher ? NO_SESSION : receipts.openSocketSession(actor.id, log.lastSeq);
    hub.accept(server, { userId: actor.id, exp: actor.exp, admin: actor.isAdmin, session, ...(watcher ? { watcher: true as const } : {}) });
    this.expirySweepAt = Math.min(this.expirySweepAt ?? Infinity, actor.exp * 1000 + EXPIRY_SWEEP_DELAY_MS);
    void this.scheduleAlarm();
    if (announce) hub.broadcast({ type: "presence", user_id: actor.id, online: true }, server);
    if (!watcher) chat.reportSockets(actor.id);
    hub.send(server, { type: "hello", user_id: actor.id, ...this.greeting(chat) });
    return new Response(null, { status: 101, webSocket: client });
  }

  /** What a new socket or subscription is told: the last seq, who takes part (bounded in big groups) and who is online or typing. */
  private greeting(chat: Conversation): Subscribed {
    const { hub, log, typing, membership } = chat;
    // A big group names only PARTICIPANTS_LISTED online participants: the scan of its sockets
    // stops there, so a connect costs the same with 10 or 1,000 people online.
    const small = membership.count <= PARTICIPANTS_LISTED;
    const online = new Set<string>();
    for (const id of chain(hub.heldUserIds(), chat.subscribers.users.ids())) {
      if (!small && online.size >= PARTICIPANTS_LISTED) break;
      if (small || membership.isParticipant(id)) online.add(id);
    }
    const listed = small ? membership.ids() : [...online];
    return {
      conversation_id: chat.id,
      last_seq: log.lastSeq,
      participants: listed.map((id) => ({ id, online: online.has(id) })),
      participant_count: membership.count,
      typing: typing.typingUsers(),
    };
  }

  /** Dispatches one valid frame of a conversation socket; returns the error to send back, if any. */
  private handleFrame(ws: WebSocket, identity: SocketIdentity, frame: ClientFrame): ErrorInfo | null {
    const { chat } = this.parts!;
    // Sockets are users' (the service opens none).
    const actor: Actor = { id: identity.userId, isAdmin: identity.admin, isService: false, exp: identity.exp };
    switch (frame.type) {
      case "sync":
        chat.replays.start(ws, actor.id, frame.after_seq, frame.ref);
        if (chat.replays.nextAt !== null) void this.scheduleAlarm();
        return null;
      case "ping": {
        const spent = chat.spend(actor, "pings", () => null);
        if (spent.ok) chat.hub.send(ws, { type: "pong", ref: frame.ref });
        return spent.ok ? null : spent.error;
      }
      default:
        return this.runCommand(actor, frame, { ref: frame.ref, reply: (text) => chat.hub.send(ws, text) });
    }
  }

  /** A command of either socket kind (a sync through an inbox is replayed by the user's object from history pages). */
  private runCommand(actor: Actor, frame: Exclude<ClientFrame, { type: "ping" }>, origin: Origin): ErrorInfo | null {
    const { chat, offers } = this.parts!;
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
        return errorOf(offers.create(actor, input, origin));
      }
      case "offer.respond": {
        const { offer_id, action, counter_amount, message } = frame;
        return errorOf(offers.respond(actor, offer_id, { action, counter_amount, message }, origin));
      }
      case "typing.start":
      case "typing.stop":
        if (chat.setTyping(actor, frame.type === "typing.start")) void this.scheduleAlarm();
        return null;
      case "read":
        return errorOf(chat.read(actor, frame.up_to_seq));
      case "sync":
        return { code: "VALIDATION_ERROR", message: "sync through an inbox socket is replayed by the user's object" };
    }
  }

  private onSocketGone(ws: WebSocket): void {
    const chat = this.parts?.chat;
    chat?.hub.gone(ws);
    const identity = chat?.hub.identity(ws);
    if (!chat || !identity) return;
    const { hub, receipts, log, typing } = chat;
    if (identity.watcher) return;
    receipts.closeSession(identity.session, log.lastSeq);
    chat.reportSockets(identity.userId, ws);
    if (hub.socketsOf(identity.userId, ws).length > 0) return;
    if (typing.stop(identity.userId)) chat.broadcastTyping(identity.userId, false);
    if (chat.membership.count > PRESENCE_GROUP_LIMIT) return;
    chat.pendingOffline.schedule(identity.userId, Date.now() + chat.config.presenceGraceMs);
    void this.scheduleAlarm();
  }

  /** Closes (4001) every socket whose token has expired, and notes when the next one expires. */
  private closeExpiredSockets(chat: Conversation): void {
    const open = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    const { expired, nextAt } = expiredSockets(open, (ws) => chat.hub.identity(ws)?.exp ?? null, Date.now());
    for (const ws of expired) closeExpired(chat, ws);
    this.expirySweepAt = nextAt;
  }

  /** Announces offline whoever's grace ended with no socket reopened. */
  private announceOffline(chat: Conversation): void {
    for (const userId of chat.pendingOffline.takeDue(Date.now())) {
      if (chat.hub.socketsOf(userId).length === 0) chat.hub.broadcast({ type: "presence", user_id: userId, online: false });
    }
  }

  /** Runtime handlers never throw: a failure is logged, and the socket's own close does the rest. */
  private guarded(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      console.error(`conversation ${what} failed`, err);
    }
  }

  /** One alarm serves write-behind saves (the cursor, socket sessions), typing expiry, summary retries, follow-up rounds, paced replays and sockets' token expiry: it is set for whichever comes first. */
  private async scheduleAlarm(): Promise<void> {
    const chat = this.parts?.chat;
    if (!chat) return;
    const candidates = [chat.saveAt, chat.receipts.writeAt, chat.pendingOffline.nextAt(), chat.typing.nextExpiry(), chat.summary.retryAt, chat.inboxes.followUpAt, chat.senders.followUpAt, chat.replays.nextAt, this.expirySweepAt].filter((t): t is number => t !== null);
    if (candidates.length === 0) return;
    const next = Math.min(...candidates);
    // Asked often (after sends, rounds, socket changes): storage is asked once per instance.
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= next) return;
    this.alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }
}

/** A socket whose token has expired: told why, then closed with 4001 (the client may reconnect with a new token). */
function closeExpired(chat: Conversation, ws: WebSocket): void {
  chat.hub.send(ws, { type: "error", code: "INVALID_TOKEN", message: "token has expired" });
  closeQuietly(ws, CLOSE_TOKEN_EXPIRED, "token expired");
}

function* chain<T>(...sources: Iterable<T>[]): Generator<T> {
  for (const source of sources) yield* source;
}

function errorFrame(ref: FrameRef, error: ErrorInfo): ServerFrame {
  const frame: ServerFrame = { type: "error", code: error.code, message: error.message };
  if (ref !== undefined) frame.ref = ref;
  if (error.details?.length) frame.details = error.details;
  if (error.retryAfterMs !== undefined) frame.retry_after_ms = error.retryAfterMs;
  return frame;
}
