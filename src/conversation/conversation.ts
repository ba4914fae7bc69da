import type { Env } from "../env";
import type { Config } from "../lib/config";
import { isReactionEmoji } from "../lib/emoji";
import { PARTICIPANTS_LISTED } from "../schemas/conversations";
import type { ErrorCode, ErrorInfo } from "../lib/errors";
import { nextStamp, nowIso } from "../lib/ids";
import { jittered } from "../lib/jitter";
import type { Attachment } from "../schemas/attachments";
import { DELIVERED_LISTED, type FrameRef } from "../schemas/frames";
import type { DeliveryStatus, HistoryPage, HistoryQuery, Message, ReadState, Receipts as ReceiptList, SearchQuery, SendInput, SendMessageBody } from "../schemas/messages";
import { ftsMatch, searchWords } from "../lib/search-query";
import { AttachmentRegistry } from "./attachment-registry";
import { CostMeter, type CostSnapshot } from "./cost-meter";
import { BUCKETS, Limiter, type BucketKind, type UploadBucket } from "./limiter";
import { Members } from "./members";
import { MessageLog, type NewMessage } from "./message-log";
import { Reactions, type ReactionMap } from "./reactions";
import { Receipts } from "./receipts";
import { SearchIndex } from "./search-index";
import { SocketHub } from "./socket-hub";
import { Membership } from "./membership";
import { StateStore } from "./storage";
import { SummaryMirror } from "./summary-mirror";
import { TypingState } from "./typing";
import { inboxStub } from "../user/inbox";
import type { InboxCount } from "../user/user-do";
import { InboxNotifier } from "./inbox-notifier";
import { UserSessions } from "./user-sessions";
import { PendingOffline } from "./pending-offline";
import { Replays } from "./replays";
import { UserThrottle } from "./user-throttle";
import { Subscribers } from "./subscribers";
import { WebhookOutbox } from "../webhooks/outbox";

/** Who acts, as the Worker (or the socket's attachment) authenticated them. */
export interface Actor {
  id: string;
  isAdmin: boolean;
  /** The app's backend: reaches every conversation like an admin, and is never a participant. */
  isService: boolean;
  /** Token expiry, seconds since the epoch. */
  exp: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

/** The socket a command came from (a conversation socket, or an inbox socket through its user object): it gets the ack. */
export interface Origin {
  ref: FrameRef;
  reply(frame: string): void;
}

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (code: ErrorCode, message: string, extra: Partial<ErrorInfo> = {}): Result<never> => ({
  ok: false,
  error: { code, message, ...extra },
});
/** Admins and the app's backend act on conversations they do not take part in (close binds, roles they set are locked). */
export const isModerator = (actor: Actor): boolean => actor.isAdmin || actor.isService;

/** The refusal for someone who may not reach a conversation, or for one that does not exist: only moderators learn which. */
export const accessDenied = (actor: Actor): Result<never> =>
  isModerator(actor) ? fail("CONVERSATION_NOT_FOUND", "conversation not found") : fail("CHAT_ACCESS_DENIED", "you are not a participant of this conversation");

export const invalidField = (field: string, message: string): Result<never> =>
  fail("VALIDATION_ERROR", `${field}: ${message}`, { details: [{ field, message }] });

/** The idempotency index (sender_id, client_id) refused an insert: the transaction rolled back. */
const isDuplicateClientId = (err: unknown) => err instanceof Error && /UNIQUE constraint failed: messages\.sender_id, messages\.client_id/.test(err.message);

/**
 * About how long in-memory counters wait before they are saved (see Conversation.save), jittered.
 * What they hold is cheap to lose (a bucket's refill) or is recovered from the log (senders'
 * cursors), and a save is a transaction and an alarm of its own, so it is kept rare.
 */
const WRITE_BEHIND_MS = 30_000;
/**
 * The write-behind save indexes waiting messages for search once at least this many wait: the
 * index's fixed cost per batch (a few segment rows) is then spread thin. A search indexes
 * whatever waits first, so fewer waiting are never missed.
 */
const SEARCH_INDEX_BATCH = 64;

const EDITABLE = new Set<Message["type"]>(["text", "product", "image", "file", "voice"]);
/** One user's reactions on one message (DESIGN: Messages). */
const REACTIONS_PER_USER = 10;
const KIND_TO_TYPE = { image: "image", audio: "voice", document: "file" } as const;

/**
 * The conversation's state and the commands over it, shared by REST (RPC) and sockets. Every
 * command validates first and writes in one transactionSync, so a refusal leaves no trace;
 * frames go out only after the write commits.
 */
export class Conversation {
  readonly membership: Membership;
  readonly log: MessageLog;
  readonly members: Members;
  readonly limiter: Limiter;
  readonly typing: TypingState;
  readonly hub: SocketHub;
  readonly reactions: Reactions;
  readonly receipts: Receipts;
  readonly attachments: AttachmentRegistry;
  readonly summary: SummaryMirror;
  readonly meter: CostMeter;
  readonly inboxes: InboxNotifier;
  /** Participants whose inbox socket is open: the only ones a new message is worth an inbox notification to. */
  readonly inboxWatchers: UserSessions;
  readonly subscribers: Subscribers;
  readonly pendingOffline: PendingOffline;
  readonly senders: UserThrottle;
  readonly replays: Replays;
  readonly search: SearchIndex;
  readonly webhooks: WebhookOutbox;

  /** When what is kept in memory (buckets, senders' cursors, the mirrored seq) is next saved; null when nothing waits. */
  saveAt: number | null = null;
  private lastReportStamp = 0;
  private readonly state: StateStore;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    readonly config: Config,
    private readonly requestAlarm: () => void,
  ) {
    const sql = ctx.storage.sql;
    const state = new StateStore(sql);
    this.state = state;
    this.membership = new Membership(sql, state);
    const conversationId = () => this.id;
    this.reactions = new Reactions(sql);
    this.log = new MessageLog(sql, this.reactions, conversationId, (userId) => this.membership.profileOf(userId));
    const unsaved = () => this.markUnsaved();
    this.members = new Members(sql, unsaved);
    this.members.recover(Number(state.get("saved_through_seq") ?? 0));
    this.limiter = new Limiter(sql, unsaved);
    this.typing = new TypingState(sql, () => config.typingTimeoutMs);
    this.subscribers = new Subscribers(sql, env, conversationId);
    this.hub = new SocketHub(ctx, (frame, exceptUserId) => this.subscribers.relay(frame, exceptUserId));
    this.receipts = new Receipts(sql);
    this.attachments = new AttachmentRegistry(sql);
    this.meter = new CostMeter(sql);
    this.inboxes = new InboxNotifier(env, requestAlarm, this.meter);
    this.inboxWatchers = new UserSessions(sql, "inbox_watchers");
    this.pendingOffline = new PendingOffline(state);
    this.senders = new UserThrottle(env, conversationId, () => config.rates.messagesPerMin, requestAlarm);
    this.search = new SearchIndex(sql, state);
    this.replays = new Replays(this.hub, this.log, (userId, seq) => this.markDelivered(userId, seq));
    this.webhooks = new WebhookOutbox(env.WEBHOOKS, config.webhooks, config.presenceGraceMs, {
      participants: () => this.membership.ids(),
      hasInbox: (userId) => this.inboxWatchers.has(userId),
      unreadOf: (userId) => this.unreadOf(userId),
    });
    this.summary = new SummaryMirror(env.DB, env.MIRROR, state, this.log, this.members, this.membership, this.attachments, () => this.membership.current?.id ?? null, requestAlarm, this.meter);
  }

  /** One storage transaction; when it rolls back, the parts forget what they keep in memory of storage. */
  transaction<T>(work: () => T): T {
    try {
      return this.ctx.storage.transactionSync(work);
    } catch (err) {
      this.state.forget();
      this.log.forget();
      this.members.forget();
      this.membership.forget();
      this.attachments.forget();
      throw err;
    }
  }

  /**
   * Write-behind: a message writes its own row and nothing else; counters that change with
   * every message are saved at most once per window, by the alarm. An object is evicted only
   * after being idle, and what the log itself says (senders' cursors) is recovered from it.
   */
  private markUnsaved(): void {
    if (this.saveAt !== null) return;
    this.saveAt = Date.now() + jittered(WRITE_BEHIND_MS);
    this.requestAlarm();
  }

  save(): void {
    this.saveAt = null;
    this.transaction(() => {
      this.limiter.save();
      this.members.save();
      this.summary.saveMirrored();
      const through = String(this.log.lastSeq);
      if (this.state.get("saved_through_seq") !== through) this.state.set("saved_through_seq", through);
      if (this.search.pending(this.log.lastSeq) >= SEARCH_INDEX_BATCH) this.search.catchUp(this.log.lastSeq);
    });
  }

  /** The conversation's id ("" before it was created). */
  get id(): string {
    return this.membership.current?.id ?? "";
  }

  /**
   * The object decides who may reach it: participants, and for `viewer` also admins and the
   * service. Anyone else gets CHAT_ACCESS_DENIED, for a conversation that does not exist too, so
   * existence is not revealed; only moderators learn CONVERSATION_NOT_FOUND.
   */
  access(actor: Actor, need: "participant" | "viewer"): Result<never> | null {
    if (!this.membership.current) return accessDenied(actor);
    if (this.membership.isParticipant(actor.id)) return null;
    if (isModerator(actor)) return need === "viewer" ? null : fail("CHAT_ACCESS_DENIED", "only participants may do this");
    return accessDenied({ ...actor, isAdmin: false, isService: false });
  }

  requireParticipant(actor: Actor): Result<never> | null {
    return this.membership.isParticipant(actor.id) ? null : fail("CHAT_ACCESS_DENIED", "only participants may do this");
  }

  /** Blocked by the other side of a direct conversation, or not friends under DM_POLICY=friends. */
  requireMaySend(actor: Actor): Result<never> | null {
    const refusal = this.membership.refusalFor(actor.id);
    if (refusal === "BLOCKED") return fail("BLOCKED", "the other participant has blocked you");
    if (refusal === "NOT_FRIENDS") return fail("NOT_FRIENDS", "direct messages need an accepted friendship");
    return null;
  }

  requireOpen(): Result<never> | null {
    return this.membership.current?.status === "closed" ? fail("CONVERSATION_CLOSED", "this conversation is closed") : null;
  }

  /**
   * The one place a token is taken (the policy is the table BUCKETS): one token of the actor's
   * `kind` bucket pays for `work`, which runs in one transaction; over the limit, or while the
   * user's object says the user is over their message limit across conversations, nothing is
   * written and the refusal says when to retry. Message tokens are reported to the user's object.
   * Work that writes one statement (`writes: "one"`, a plain message's insert) is atomic by
   * itself and runs without the transaction's savepoint, which cost a tenth of a busy
   * conversation's time.
   */
  spend<T>(actor: Actor, kind: BucketKind, work: () => T, writes: "one" | "many" = "many"): Result<T> {
    const { rate, refusal, acrossConversations } = BUCKETS[kind];
    const now = Date.now();
    const throttled = acrossConversations ? this.senders.throttledFor(actor.id, now) : 0;
    if (throttled > 0) return fail("RATE_LIMIT_EXCEEDED", refusal, { retryAfterMs: throttled });
    const allowance = this.limiter.check(actor.id, kind, this.config.rates[rate], now);
    if (!allowance.allowed) return fail("RATE_LIMIT_EXCEEDED", refusal, { retryAfterMs: allowance.retryAfterMs });
    const value = writes === "one" ? work() : this.transaction(work);
    this.limiter.commit(actor.id, kind, allowance.bucket);
    if (acrossConversations) this.senders.spent(actor.id);
    return ok(value);
  }

  /**
   * Appends inside the caller's transaction. A sender's own message moves their read cursor
   * (members.recordSent), which is what keeps unread = last_seq − cursor exact.
   */
  append(input: Omit<NewMessage, "sender">): Message {
    const message = this.log.append({ ...input, sender: input.senderId ? this.membership.profileOf(input.senderId) : null });
    this.meter.messages++;
    if (input.senderId) this.members.recordSent(input.senderId, message.seq);
    return message;
  }

  /** A retry of a send this sender already made under `clientId`: ack the first message again. */
  retried(actor: Actor, clientId: string, origin: Origin | null): Message | null {
    const existing = this.log.byClientId(actor.id, clientId);
    if (existing && origin) origin.reply(JSON.stringify({ type: "message.ack", client_id: clientId, ref: origin.ref ?? null, message: existing }));
    return existing;
  }

  /**
   * After commit: ack to the origin, message.new to every socket and subscription (one
   * serialisation), D1 summary. `delivered_to` names the participants it reached live: on a
   * conversation socket, a subscribed inbox socket, or an open inbox (as a notification) — at
   * most DELIVERED_LISTED of them, with `delivered_count` when there were more.
   */
  publish(messages: Message[], origin: Origin | null, acked: Message | null = messages[0] ?? null): void {
    const watching = this.hub.onlineUsers();
    const reached = new Set(watching);
    for (const id of this.subscribers.users.ids()) reached.add(id);
    for (const id of this.inboxWatchers.ids()) reached.add(id);
    for (const message of messages) {
      const recipients: string[] = [];
      for (const id of reached) {
        if (id !== message.sender_id && ((watching.has(id) && this.hub.openedAsParticipant(id)) || this.membership.isParticipant(id))) recipients.push(id);
      }
      const body = JSON.stringify(message);
      if (origin && message === acked) {
        origin.reply(`{"type":"message.ack","client_id":${JSON.stringify(message.client_id)},"ref":${JSON.stringify(origin.ref ?? null)},"message":${body}}`);
      }
      const listed = recipients.length > DELIVERED_LISTED ? `${JSON.stringify(recipients.slice(0, DELIVERED_LISTED))},"delivered_count":${recipients.length}` : JSON.stringify(recipients);
      this.hub.broadcast(`{"type":"message.new","message":${body},"delivered_to":${listed}}`);
      this.notifyInboxes(message, watching);
      this.webhooks.messageNew(message, watching);
    }
    void this.summary.kick();
  }

  unreadOf(userId: string): number {
    return Math.max(0, this.log.lastSeq - this.members.readCursor(userId));
  }

  /**
   * What the user's object is told of their unread count here. The stamp (last seq plus their
   * read cursor, both only ever growing) grows with every change, so the user's object can tell
   * the newer of two counts that crossed on their way.
   */
  inboxCount(userId: string): InboxCount {
    const cursor = this.members.readCursor(userId);
    return { unreadCount: Math.max(0, this.log.lastSeq - cursor), stamp: this.log.lastSeq + cursor };
  }

  /**
   * Participants with an inbox open who are not watching this conversation (no socket open on
   * it, no inbox socket subscribed to it) get the message as an inbox notification with their
   * new unread count: work for who is online, not for every member. Watchers get nothing here:
   * they see the message live, and their read updates the inbox. Coalesced, never awaited.
   */
  private notifyInboxes(message: Message, watching: Set<string>): void {
    for (const userId of this.inboxWatchers.ids()) {
      // A subscribed inbox socket gets the message itself, like a conversation socket.
      if (userId === message.sender_id || watching.has(userId) || this.subscribers.users.has(userId) || !this.membership.isParticipant(userId)) continue;
      this.inboxes.queue(userId, message.conversation_id, this.inboxCount(userId), message);
    }
  }

  /** A participant's inbox opened or closed: notifications go to open inboxes only, and what reaches one counts as delivered. */
  watchInbox(userId: string, open: boolean): void {
    if (open === this.inboxWatchers.has(userId)) return;
    this.transaction(() => {
      if (open) this.inboxWatchers.add(userId, this.receipts.openSession(userId, this.log.lastSeq));
      else this.receipts.closeSession(this.inboxWatchers.remove(userId) ?? 0, this.log.lastSeq);
    });
  }

  /** Subscribes a user's inbox socket here (idempotent); a participant's subscription delivers like a socket. */
  subscribe(userId: string): void {
    if (this.subscribers.users.has(userId)) return;
    const watcher = !this.membership.isParticipant(userId);
    this.transaction(() => this.subscribers.users.add(userId, watcher ? 0 : this.receipts.openSession(userId, this.log.lastSeq)));
  }

  /** Ends a user's subscription (their last subscribed socket went, they unsubscribed, or they were removed). */
  unsubscribe(userId: string): boolean {
    return this.transaction(() => {
      const session = this.subscribers.users.remove(userId);
      if (session === null) return false;
      this.receipts.closeSession(session, this.log.lastSeq);
      return true;
    });
  }

  /** The user's object counts their open sockets here toward presence. */
  reportSockets(userId: string, closing?: WebSocket): void {
    if (!this.id) return;
    // Reports are not awaited, so two can arrive out of order: the stamp lets the user's object
    // keep the newest (microseconds since the epoch, so it grows across evictions too).
    this.lastReportStamp = nextStamp(this.lastReportStamp);
    inboxStub(this.env, userId)
      .conversationSockets(userId, this.id, this.hub.socketsOf(userId, closing).length, this.lastReportStamp)
      .catch((err: unknown) => console.error("presence report failed", err));
  }

  /** An in-place change (edit, delete, offer status): everyone sees the message as it now is. */
  publishUpdate(message: Message): void {
    this.hub.broadcast({ type: "message.updated", message });
    this.webhooks.emit("message.updated", { conversation_id: this.id, message });
    if (message.seq === this.log.lastSeq) this.summary.markDirty();
    void this.summary.kick();
  }

  // ── Uploads ──

  /** Before the Worker reads an upload's body: the sender may send here, and has tokens in `bucket`. */
  admitUpload(actor: Actor, bucket: UploadBucket): Result<null> {
    const refused = this.requireMaySend(actor) ?? this.requireOpen();
    if (refused) return refused;
    return this.spend(actor, bucket, () => null);
  }

  /** After the bytes are stored: registered only if the uploader may still send here. */
  registerAttachment(actor: Actor, attachment: Attachment): Result<null> {
    const refused = this.requireMaySend(actor) ?? this.requireOpen();
    if (refused) return refused;
    this.attachments.register(attachment);
    return ok(null);
  }

  // ── Messages ──

  send(actor: Actor, input: SendInput, origin: Origin | null): Result<{ message: Message; created: boolean }> {
    const denied = this.requireParticipant(actor);
    if (denied) return denied;
    const appended = this.appendSend(actor, input);
    if (!appended.ok) {
      // Refused, or its client_id was used already: a retry gets the first message, also when
      // the conversation has closed or the limit is reached since. Only this path looks it up.
      const existing = input.client_id ? this.retried(actor, input.client_id, origin) : null;
      return existing ? ok({ message: existing, created: false }) : appended;
    }
    this.publish([appended.value], origin);
    // Sending reads everything before it: the sender's inbox learns (once) that nothing is unread here.
    if (this.inboxWatchers.has(actor.id)) this.inboxes.queue(actor.id, this.id, this.inboxCount(actor.id));
    if (this.typing.stop(actor.id)) this.broadcastTyping(actor.id, false);
    return ok({ message: appended.value, created: true });
  }

  /**
   * The app's backend sends a system message (no sender), or a message as one of the
   * participants, which is that participant's send in every respect (rules, limits, cursor).
   */
  sendForService(actor: Actor, input: SendMessageBody): Result<{ message: Message; created: boolean }> {
    const { sender_id: senderId, ...fields } = input;
    if (senderId === undefined) {
      return fields.type === "system" ? this.sendSystem(fields) : invalidField("sender_id", "the app's backend sends system messages, or names the participant it sends as");
    }
    if (fields.type === "system") return invalidField("sender_id", "a system message has no sender");
    if (!this.membership.isParticipant(senderId)) return invalidField("sender_id", "is not a participant of this conversation");
    return this.send({ id: senderId, isAdmin: false, isService: false, exp: actor.exp }, { ...fields, type: fields.type }, null);
  }

  /**
   * A system message of the app's backend: no sender and no bucket, and allowed in a closed
   * conversation (the backend may say why it closed it). A repeated client_id returns the first.
   */
  private sendSystem(input: Omit<SendMessageBody, "sender_id">): Result<{ message: Message; created: boolean }> {
    if (input.attachment_id !== undefined) return invalidField("attachment_id", "system messages carry no attachment");
    const invalid = this.validateContent(input.content, false);
    if (invalid) return invalid;
    if (input.reply_to !== undefined && !this.log.byId(input.reply_to)) return invalidField("reply_to", "must name a message of this conversation");
    const existing = input.client_id ? this.log.byClientId(null, input.client_id) : null;
    if (existing) return ok({ message: existing, created: false });
    const message = this.transaction(() =>
      this.append({ senderId: null, type: "system", content: input.content.trim(), data: input.data ?? null, replyTo: input.reply_to ?? null, clientId: input.client_id ?? null }),
    );
    this.publish([message], null);
    return ok({ message, created: true });
  }

  /** Checks and appends a new message; the idempotency index refuses a client_id used before. */
  private appendSend(actor: Actor, input: SendInput): Result<Message> {
    const refused = this.requireMaySend(actor) ?? this.requireOpen();
    if (refused) return refused;
    const checked = this.validateSend(actor, input);
    if (!checked.ok) return checked;
    const { attachment } = checked.value;
    try {
      return this.spend(actor, "messages", () => {
        const message = this.append({
          senderId: actor.id,
          type: attachment && input.type === "text" ? KIND_TO_TYPE[attachment.kind] : input.type,
          content: input.content.trim(),
          data: input.data ?? null,
          replyTo: input.reply_to ?? null,
          clientId: input.client_id ?? null,
          attachment,
        });
        if (attachment) this.attachments.bind(attachment.id, message.seq);
        return message;
      }, attachment ? "many" : "one");
    } catch (err) {
      if (input.client_id && isDuplicateClientId(err)) return invalidField("client_id", "was used for an earlier message");
      throw err;
    }
  }

  private validateSend(actor: Actor, input: SendInput): Result<{ attachment: Attachment | null }> {
    let attachment: Attachment | null = null;
    if (input.attachment_id !== undefined) {
      attachment = this.attachments.claimable(input.attachment_id, actor.id);
      if (!attachment) return invalidField("attachment_id", "no unused attachment of yours with this id in this conversation");
      const expected = KIND_TO_TYPE[attachment.kind];
      if (input.type !== "text" && input.type !== expected) return invalidField("type", `this attachment makes a ${expected} message`);
    } else if (input.type === "image" || input.type === "file" || input.type === "voice") {
      return invalidField("attachment_id", `${input.type} messages need an attachment`);
    }
    const invalidContent = this.validateContent(input.content, attachment !== null);
    if (invalidContent) return invalidContent;
    if (input.reply_to !== undefined && !this.log.byId(input.reply_to)) {
      return invalidField("reply_to", "must name a message of this conversation");
    }
    if (input.type === "product" && typeof input.data?.product_id !== "string") {
      return invalidField("data.product_id", "product messages need data.product_id");
    }
    return ok({ attachment });
  }

  validateContent(raw: string, mayBeEmpty: boolean): Result<never> | null {
    const length = [...raw.trim()].length;
    if (length === 0 && !mayBeEmpty) return invalidField("content", "must not be empty");
    if (length > this.config.maxMessageLength) return invalidField("content", `must be at most ${this.config.maxMessageLength} characters`);
    return null;
  }

  /** A message of this conversation that has not been deleted. */
  private liveMessage(messageId: string): Result<Message> {
    const message = this.log.byId(messageId);
    if (!message || message.deleted_at) return fail("MESSAGE_NOT_FOUND", "no such message in this conversation");
    return ok(message);
  }

  edit(actor: Actor, messageId: string, content: string): Result<Message> {
    const denied = this.requireParticipant(actor);
    if (denied) return denied;
    const found = this.liveMessage(messageId);
    if (!found.ok) return found;
    const message = found.value;
    if (message.sender_id !== actor.id) return fail("FORBIDDEN", "only the sender may edit a message");
    if (!EDITABLE.has(message.type)) return fail("FORBIDDEN", `${message.type} messages cannot be edited`);
    const closed = this.requireOpen();
    if (closed) return closed;
    const invalid = this.validateContent(content, message.attachment !== null);
    if (invalid) return invalid;
    const spent = this.spend(actor, "messages", () => {
      this.log.edit(message.seq, content.trim(), nowIso());
      this.search.edited(message);
    });
    if (!spent.ok) return spent;
    const updated = this.log.bySeq(message.seq)!;
    this.publishUpdate(updated);
    return ok(updated);
  }

  /** Soft delete by the sender, or by an admin (which leaves a system note naming the action). */
  remove(actor: Actor, messageId: string): Result<Message> {
    const found = this.liveMessage(messageId);
    if (!found.ok) {
      const existing = this.log.byId(messageId);
      return existing && (existing.sender_id === actor.id || actor.isAdmin) ? ok(existing) : found;
    }
    const message = found.value;
    const byModerator = message.sender_id !== actor.id;
    if (byModerator && !actor.isAdmin) return fail("FORBIDDEN", "only the sender or an admin may delete a message");
    if (!byModerator && !this.membership.isParticipant(actor.id)) return fail("CHAT_ACCESS_DENIED", "only participants may do this");
    const note = this.transaction(() => {
      this.log.softDelete(message.seq, nowIso());
      this.search.forget(message);
      this.attachments.withdraw(message.seq);
      return byModerator ? this.appendSystem("A message was removed by a moderator", { action: "message.deleted", actor_id: actor.id, message_id: message.id }) : null;
    });
    const deleted = this.log.bySeq(message.seq)!;
    this.publishUpdate(deleted);
    if (note) this.publish([note], null);
    return ok(deleted);
  }

  /** Inside a transaction: a server-written note (moderation, offer outcomes). */
  appendSystem(content: string, data: Record<string, unknown>): Message {
    return this.append({ senderId: null, type: "system", content, data, replyTo: null, clientId: null });
  }

  react(actor: Actor, messageId: string, emoji: string, add: boolean): Result<{ message_id: string; reactions: ReactionMap }> {
    const denied = this.requireParticipant(actor);
    if (denied) return denied;
    if (!isReactionEmoji(emoji)) return invalidField("emoji", "must be one emoji or a :short_name:");
    const found = this.liveMessage(messageId);
    if (!found.ok) return found;
    const closed = this.requireOpen();
    if (closed) return closed;
    const { seq, id } = found.value;
    const before = this.reactions.of(seq);
    const overLimit = add ? this.reactionLimit(before, emoji, actor.id) : null;
    if (overLimit) return overLimit;
    const changed = this.spend(actor, "reactions", () => (add ? this.reactions.add(seq, emoji, actor.id, nowIso()) : this.reactions.remove(seq, emoji, actor.id)), "one");
    if (!changed.ok) return changed;
    if (changed.value) this.log.changed(seq);
    const reactions = changed.value ? this.reactions.of(seq) : before;
    if (changed.value) this.hub.broadcast({ type: "reaction.updated", message_id: id, reactions });
    return ok({ message_id: id, reactions });
  }

  /** A new reaction must leave at most MAX_REACTIONS_PER_MESSAGE distinct emoji on the message and REACTIONS_PER_USER of the user's. */
  private reactionLimit(reactions: ReactionMap, emoji: string, userId: string): Result<never> | null {
    if (reactions[emoji]?.includes(userId)) return null; // already there: adding it changes nothing
    const { maxReactionsPerMessage } = this.config;
    if (!(emoji in reactions) && Object.keys(reactions).length >= maxReactionsPerMessage) {
      return invalidField("emoji", `a message holds at most ${maxReactionsPerMessage} different emoji`);
    }
    const own = Object.values(reactions).filter((users) => users.includes(userId)).length;
    if (own >= REACTIONS_PER_USER) return invalidField("emoji", `a message holds at most ${REACTIONS_PER_USER} reactions of one person`);
    return null;
  }

  // ── Reading, delivery, receipts ──

  read(actor: Actor, upToSeq: number | undefined): Result<ReadState> {
    const denied = this.requireParticipant(actor);
    if (denied) return denied;
    const target = Math.min(upToSeq ?? this.log.lastSeq, this.log.lastSeq);
    const before = this.members.readCursor(actor.id);
    const cursor = this.transaction(() => {
      const moved = this.members.markRead(actor.id, target);
      if (moved > before) this.receipts.markRead(actor.id, moved, nowIso());
      return moved;
    });
    if (cursor > before) {
      this.hub.broadcast({ type: "read", user_id: actor.id, up_to_seq: cursor });
      if (this.inboxWatchers.has(actor.id)) this.inboxes.queue(actor.id, this.id, this.inboxCount(actor.id));
    }
    void this.summary.kick();
    return ok({ last_read_seq: cursor, unread_count: Math.max(0, this.log.lastSeq - cursor) });
  }

  /** A page of the log for `actor` (history, or a replay through an inbox): fetching delivers what was fetched to a participant. */
  fetchPage(actor: Actor, query: HistoryQuery): HistoryPage {
    const page = this.log.page(query);
    const newest = page.messages[page.messages.length - 1];
    if (newest) this.markDelivered(actor.id, newest.seq);
    return page;
  }

  /** History over REST: the viewer's own messages carry their status. */
  history(actor: Actor, query: HistoryQuery): HistoryPage {
    const page = this.fetchPage(actor, query);
    return { ...page, messages: this.withStatus(actor.id, page.messages) };
  }

  /**
   * `status` on the viewer's own messages: read or delivered by every other participant. In a
   * group too big to list, only "read" (by the lowest cursor) or "sent" is told.
   */
  private withStatus(viewerId: string, messages: Message[]): Message[] {
    const own = messages.filter((m) => m.sender_id === viewerId).map((m) => m.seq);
    if (own.length === 0) return messages;
    let statuses: Map<number, DeliveryStatus>;
    if (this.membership.count <= PARTICIPANTS_LISTED) {
      const others = this.members.listedCursors(PARTICIPANTS_LISTED).filter((p) => p.userId !== viewerId);
      statuses = this.receipts.statusOf(own, others);
    } else {
      const lowest = this.members.lowestCursorExcept(viewerId) ?? 0;
      statuses = new Map(own.map((seq) => [seq, lowest >= seq ? "read" : "sent"]));
    }
    return messages.map((m) => (m.sender_id === viewerId ? { ...m, status: statuses.get(m.seq) ?? "sent" } : m));
  }

  /**
   * Full-text search, newest first: whatever is not indexed yet is indexed first, so a message
   * is found as soon as it was acknowledged. Finding is not fetching: nothing is marked delivered.
   */
  searchMessages(query: SearchQuery): Result<HistoryPage> {
    const words = searchWords(query.q);
    if (words.length === 0) return invalidField("q", "must contain at least one word (letters or digits)");
    if (this.search.pending(this.log.lastSeq) > 0) this.transaction(() => this.search.catchUp(this.log.lastSeq));
    const seqs = this.search.matching(ftsMatch(words), query.before_seq ?? Number.MAX_SAFE_INTEGER, query.limit + 1);
    return ok({ messages: this.log.atSeqs(seqs.slice(0, query.limit)), has_more: seqs.length > query.limit });
  }

  markDelivered(userId: string, seq: number): void {
    if (!this.membership.isParticipant(userId)) return;
    if (this.receipts.markDelivered(userId, seq, nowIso())) this.hub.broadcast({ type: "delivered", user_id: userId, up_to_seq: seq });
  }

  costs(): CostSnapshot & { frames_sent: number; last_seq: number } {
    return { ...this.meter.snapshot(), frames_sent: this.hub.framesSent, last_seq: this.log.lastSeq };
  }

  receiptsOf(messageId: string): Result<ReceiptList> {
    const message = this.log.byId(messageId);
    if (!message) return fail("MESSAGE_NOT_FOUND", "no such message in this conversation");
    return ok({ message_id: message.id, seq: message.seq, receipts: this.receipts.forMessage(message, this.membership.ids()) });
  }

  // ── Typing ──

  /** Typing beyond the limit, or in a closed conversation, is dropped quietly. Returns true when an alarm is needed. */
  setTyping(actor: Actor, isTyping: boolean): boolean {
    if (!this.membership.isParticipant(actor.id)) return false;
    if (!isTyping) {
      if (this.typing.stop(actor.id)) this.broadcastTyping(actor.id, false);
      return false;
    }
    if (this.membership.current?.status === "closed") return false;
    const started = this.spend(actor, "typing", () => this.typing.start(actor.id));
    if (!started.ok) return false;
    if (started.value) this.broadcastTyping(actor.id, true);
    return true;
  }

  /** Typing goes to everyone but the typist's own sockets. */
  broadcastTyping(userId: string, isTyping: boolean): void {
    this.hub.broadcastToOthers({ type: "typing", user_id: userId, is_typing: isTyping }, userId);
  }
}
