// The REST client: one typed method per endpoint of /api/v1. Failures throw ChatApiError.
import { ConversationSocket, type ConversationSocketOptions } from "./conversation-socket.js";
import { ChatApiError, codeForStatus } from "./errors.js";
import { InboxSocket, type InboxSocketOptions } from "./inbox-socket.js";
import { resolveToken } from "./socket.js";
import type {
  AddParticipantBody,
  Attachment,
  Block,
  Conversation,
  ConversationList,
  ConversationStats,
  CreateConversationBody,
  CreateOfferBody,
  ErrorBody,
  FriendList,
  FriendRequest,
  FriendRequests,
  HistoryQuery,
  ListConversationsQuery,
  LoginBody,
  LoginResponse,
  Message,
  MessagePage,
  OnlineFriends,
  PatchConversationBody,
  PatchMeBody,
  PresenceList,
  PresenceUserIds,
  Reactions,
  ReadState,
  Receipts,
  RespondOfferBody,
  SearchQuery,
  SearchResults,
  SendMessageBody,
  TokenSource,
  Unread,
  User,
  UserList,
  WsTicket,
} from "./types.js";

export interface ChatClientOptions {
  /** Where the Worker is, e.g. `https://chat.example.com`; in a browser, default the page's origin. */
  baseUrl?: string;
  /** A bearer token or a function returning a current one. `login()` sets it too. */
  token?: TokenSource;
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined | null>;

interface RequestInit2 {
  json?: unknown;
  form?: FormData;
  query?: Query;
  auth?: boolean;
}

/** Socket options the client fills in itself (base URL and a fresh one-use ticket per connect). */
type SocketExtras = Omit<ConversationSocketOptions, "conversationId" | "baseUrl">;

const seg = encodeURIComponent;

export class ChatClient {
  readonly baseUrl: string;
  private token: TokenSource | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ChatClientOptions = {}) {
    const page = (globalThis as { location?: { href: string } }).location?.href;
    this.baseUrl = new URL(options.baseUrl ?? "", page).href.replace(/\/+$/, "");
    this.token = options.token;
    const impl = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (!impl) throw new Error("no global fetch: pass the fetch option");
    this.fetchImpl = impl;
  }

  /** Replaces the token (or token function) used from now on; null to forget it. */
  setToken(token: TokenSource | null): void {
    this.token = token ?? undefined;
  }

  /** The current token (asks the token function), or null. */
  async getToken(): Promise<string | null> {
    return this.token === undefined ? null : await resolveToken(this.token);
  }

  // ── Auth ──

  /** Development login (`DEV_LOGIN`): creates or finds the user; the client keeps the token. */
  async login(body: LoginBody): Promise<LoginResponse> {
    const result = await this.request<LoginResponse>("POST", "/auth/login", { json: body, auth: false });
    this.token = result.access_token;
    return result;
  }

  /** A one-use socket ticket, valid 30 s. */
  wsTicket(): Promise<WsTicket> {
    return this.request("POST", "/auth/ws-ticket");
  }

  // ── Users ──

  me(): Promise<User> {
    return this.request("GET", "/users/me");
  }

  updateMe(body: PatchMeBody): Promise<User> {
    return this.request("PATCH", "/users/me", { json: body });
  }

  getUser(userId: string): Promise<User> {
    return this.request("GET", `/users/${seg(userId)}`);
  }

  searchUsers(q: string, limit?: number): Promise<UserList> {
    return this.request("GET", "/users/search", { query: { q, limit } });
  }

  // ── Conversations ──

  /** Creates a conversation; a direct one for the same pair and context is returned as it is. */
  createConversation(body: CreateConversationBody): Promise<Conversation> {
    return this.request("POST", "/conversations", { json: body });
  }

  listConversations(query: ListConversationsQuery = {}): Promise<ConversationList> {
    return this.request("GET", "/conversations", { query });
  }

  getConversation(conversationId: string): Promise<Conversation> {
    return this.request("GET", `/conversations/${seg(conversationId)}`);
  }

  updateConversation(conversationId: string, body: PatchConversationBody): Promise<Conversation> {
    return this.request("PATCH", `/conversations/${seg(conversationId)}`, { json: body });
  }

  addParticipant(conversationId: string, body: AddParticipantBody): Promise<Conversation> {
    return this.request("POST", `/conversations/${seg(conversationId)}/participants`, { json: body });
  }

  /** Leave a group (your own id) or remove someone (creator or admin). */
  removeParticipant(conversationId: string, userId: string): Promise<void> {
    return this.request("DELETE", `/conversations/${seg(conversationId)}/participants/${seg(userId)}`);
  }

  /** Moves the read cursor (default: to the last message). */
  markRead(conversationId: string, upToSeq?: number): Promise<ReadState> {
    return this.request("POST", `/conversations/${seg(conversationId)}/read`, { json: upToSeq === undefined ? {} : { up_to_seq: upToSeq } });
  }

  /** Per-conversation counters (admins). */
  conversationStats(conversationId: string): Promise<ConversationStats> {
    return this.request("GET", `/conversations/${seg(conversationId)}/stats`);
  }

  unread(): Promise<Unread> {
    return this.request("GET", "/unread");
  }

  // ── Messages ──

  /** 201 with the new message, or the first message again for a repeated client_id. */
  sendMessage(conversationId: string, body: SendMessageBody): Promise<Message> {
    return this.request("POST", `/conversations/${seg(conversationId)}/messages`, { json: body });
  }

  /** Ascending by seq; with no cursor, the newest `limit`. */
  listMessages(conversationId: string, query: HistoryQuery = {}): Promise<MessagePage> {
    return this.request("GET", `/conversations/${seg(conversationId)}/messages`, { query });
  }

  /** Full-text search in one conversation, newest first; the next page with `before_seq` = the smallest seq returned. */
  searchMessages(conversationId: string, q: string, query: SearchQuery = {}): Promise<MessagePage> {
    return this.request("GET", `/conversations/${seg(conversationId)}/messages`, { query: { q, ...query } });
  }

  /** Full-text search across your 50 most recently active conversations, newest first. */
  searchAllMessages(q: string, limit?: number): Promise<SearchResults> {
    return this.request("GET", "/search/messages", { query: { q, limit } });
  }

  editMessage(conversationId: string, messageId: string, content: string): Promise<Message> {
    return this.request("PATCH", `/conversations/${seg(conversationId)}/messages/${seg(messageId)}`, { json: { content } });
  }

  deleteMessage(conversationId: string, messageId: string): Promise<Message> {
    return this.request("DELETE", `/conversations/${seg(conversationId)}/messages/${seg(messageId)}`);
  }

  addReaction(conversationId: string, messageId: string, emoji: string): Promise<Reactions> {
    return this.request("PUT", `/conversations/${seg(conversationId)}/messages/${seg(messageId)}/reactions/${seg(emoji)}`);
  }

  removeReaction(conversationId: string, messageId: string, emoji: string): Promise<Reactions> {
    return this.request("DELETE", `/conversations/${seg(conversationId)}/messages/${seg(messageId)}/reactions/${seg(emoji)}`);
  }

  receipts(conversationId: string, messageId: string): Promise<Receipts> {
    return this.request("GET", `/conversations/${seg(conversationId)}/messages/${seg(messageId)}/receipts`);
  }

  // ── Offers ──

  makeOffer(conversationId: string, body: CreateOfferBody): Promise<Message> {
    return this.request("POST", `/conversations/${seg(conversationId)}/offers`, { json: body });
  }

  respondToOffer(conversationId: string, offerId: string, body: RespondOfferBody): Promise<Message> {
    return this.request("POST", `/conversations/${seg(conversationId)}/offers/${seg(offerId)}/respond`, { json: body });
  }

  // ── Attachments ──

  /** Uploads a file (its type is decided by the server from the bytes); then send a message with `attachment_id`. */
  uploadAttachment(conversationId: string, file: Blob, options: { name?: string; duration?: number } = {}): Promise<Attachment> {
    const form = new FormData();
    form.append("file", file, options.name ?? fileName(file, "file"));
    if (options.duration !== undefined) form.append("duration", String(options.duration));
    return this.request("POST", `/conversations/${seg(conversationId)}/attachments`, { form });
  }

  /** Uploads audio and sends it as a `voice` message in one step (retry-safe with `client_id`); without `duration` the server reads it from the audio where it can. */
  sendVoiceNote(
    conversationId: string,
    file: Blob,
    options: { duration?: number; name?: string; client_id?: string; content?: string; reply_to?: string } = {},
  ): Promise<Message> {
    const form = new FormData();
    form.append("voice_note", file, options.name ?? fileName(file, "voice-note"));
    if (options.duration !== undefined) form.append("duration", String(options.duration));
    if (options.client_id !== undefined) form.append("client_id", options.client_id);
    if (options.content !== undefined) form.append("content", options.content);
    if (options.reply_to !== undefined) form.append("reply_to", options.reply_to);
    return this.request("POST", `/conversations/${seg(conversationId)}/voice-notes`, { form });
  }

  /**
   * An absolute URL for an attachment's bytes. For `<img>`/`<audio>` (which send no header), pass
   * `{ ticket }` from `wsTicket()` or `{ token }`.
   */
  attachmentUrl(attachment: string | Pick<Attachment, "id">, auth: { token?: string; ticket?: string } = {}): string {
    const id = typeof attachment === "string" ? attachment : attachment.id;
    const url = new URL(`${this.baseUrl}/api/v1/attachments/${seg(id)}`);
    if (auth.ticket) url.searchParams.set("ticket", auth.ticket);
    else if (auth.token) url.searchParams.set("token", auth.token);
    return url.href;
  }

  /** Fetches an attachment with the bearer token (pass `Range` in `headers` for a part of audio). */
  async fetchAttachment(attachment: string | Pick<Attachment, "id">, init: { headers?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = await this.getToken();
    if (token) headers.set("authorization", `Bearer ${token}`);
    const response = await this.send(this.attachmentUrl(attachment), { method: "GET", headers });
    if (!response.ok) throw await toError(response);
    return response;
  }

  // ── Friends, blocks, presence ──

  sendFriendRequest(userId: string): Promise<FriendRequest> {
    return this.request("POST", "/friends/requests", { json: { user_id: userId } });
  }

  friendRequests(): Promise<FriendRequests> {
    return this.request("GET", "/friends/requests");
  }

  acceptFriendRequest(requestId: string): Promise<FriendRequest> {
    return this.request("POST", `/friends/requests/${seg(requestId)}/accept`);
  }

  declineFriendRequest(requestId: string): Promise<FriendRequest> {
    return this.request("POST", `/friends/requests/${seg(requestId)}/decline`);
  }

  friends(): Promise<FriendList> {
    return this.request("GET", "/friends");
  }

  removeFriend(userId: string): Promise<void> {
    return this.request("DELETE", `/friends/${seg(userId)}`);
  }

  onlineFriends(): Promise<OnlineFriends> {
    return this.request("GET", "/friends/online");
  }

  block(userId: string): Promise<Block> {
    return this.request("POST", "/blocks", { json: { user_id: userId } });
  }

  unblock(userId: string): Promise<void> {
    return this.request("DELETE", `/blocks/${seg(userId)}`);
  }

  /** The given users' presence, or without ids every contact who is online now. */
  presence(userIds?: PresenceUserIds): Promise<PresenceList> {
    return this.request("GET", "/presence", { query: { user_ids: userIds?.join(",") } });
  }

  // ── Sockets ──

  /** A conversation socket; unless `token` or `getTicket` is given, a fresh one-use ticket per connect. */
  conversationSocket(conversationId: string, options: SocketExtras = {}): ConversationSocket {
    return new ConversationSocket({ ...this.socketAuth(options), ...options, baseUrl: this.baseUrl, conversationId });
  }

  /** The inbox socket; unless `token` or `getTicket` is given, a fresh one-use ticket per connect. */
  inboxSocket(options: Omit<InboxSocketOptions, "baseUrl"> = {}): InboxSocket {
    return new InboxSocket({ ...this.socketAuth(options), ...options, baseUrl: this.baseUrl });
  }

  // ── Plumbing ──

  private socketAuth(options: { token?: TokenSource; getTicket?: () => Promise<string> }): { getTicket?: () => Promise<string> } {
    if (options.token !== undefined || options.getTicket) return {};
    return { getTicket: async () => (await this.wsTicket()).ticket };
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(url, init);
    } catch (err) {
      throw new ChatApiError({ code: "NETWORK_ERROR", status: 0, message: `request failed: ${String(err)}`, cause: err });
    }
  }

  /** One API call: JSON or multipart in, JSON out (undefined for 204); errors as ChatApiError. */
  async request<T>(method: string, path: string, init: RequestInit2 = {}): Promise<T> {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [name, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers = new Headers({ accept: "application/json" });
    if (init.auth !== false) {
      const token = await this.getToken();
      if (token) headers.set("authorization", `Bearer ${token}`);
    }
    let body: BodyInit | undefined;
    if (init.form) body = init.form;
    else if (init.json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(init.json);
    }
    const response = await this.send(url.href, { method, headers, body });
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
}

function fileName(file: Blob, fallback: string): string {
  const name = (file as { name?: unknown }).name;
  return typeof name === "string" && name ? name : fallback;
}

async function toError(response: Response): Promise<ChatApiError> {
  const header = response.headers.get("retry-after");
  const seconds = header === null ? NaN : Number(header);
  const retryAfter = Number.isFinite(seconds) ? seconds : null;
  let envelope: Partial<ErrorBody> | null = null;
  try {
    envelope = (await response.json()) as Partial<ErrorBody>;
  } catch {
    // not the API's envelope
  }
  const error = envelope?.error;
  if (error && typeof error.code === "string") {
    return new ChatApiError({ code: error.code, message: error.message ?? response.statusText, status: response.status, details: error.details ?? [], retryAfter });
  }
  return new ChatApiError({ code: codeForStatus(response.status), message: `HTTP ${response.status} ${response.statusText}`.trim(), status: response.status, retryAfter });
}
