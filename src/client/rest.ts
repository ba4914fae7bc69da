// The REST client: one typed method per endpoint of /api/v1. Failures throw ChatApiError.
import { ChatConnection, type ConnectionOptions } from "./connection.js";
import { ConversationSocket, type ConversationSocketOptions } from "./conversation-socket.js";
import { ConversationsApi } from "./conversations-api.js";
import { seg, toError, type ApiClientOptions } from "./http.js";
import { InboxSocket, type InboxSocketOptions } from "./inbox-socket.js";
import type {
  AddParticipantBody,
  Attachment,
  Block,
  Conversation,
  ConversationList,
  ConversationStats,
  CreateConversationBody,
  CreateOfferBody,
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
  SendToPersonBody,
  SentToPerson,
  SendMessageBody,
  TokenSource,
  Unread,
  User,
  UserList,
  WebSocketImplementation,
  WsTicket,
} from "./types.js";

export interface ChatClientOptions extends ApiClientOptions {
  /**
   * The WebSocket class for every socket this client opens (default `globalThis.WebSocket`).
   * Node 20 has none: pass the `ws` package's (`import { WebSocket } from "ws"`).
   */
  WebSocket?: WebSocketImplementation;
}

/** Socket options the client fills in itself (base URL and a fresh one-use ticket per connect). */
type SocketExtras = Omit<ConversationSocketOptions, "conversationId" | "baseUrl">;

/** The API as one user (their token): every endpoint of /api/v1 a user calls. */
export class ChatClient extends ConversationsApi {
  private readonly WebSocketImpl: WebSocketImplementation | undefined;

  constructor(options: ChatClientOptions = {}) {
    super(options);
    this.WebSocketImpl = options.WebSocket;
  }

  // ── Auth ──

  /** Development login (`DEV_LOGIN`): creates or finds the user; the client keeps the token. */
  async login(body: LoginBody): Promise<LoginResponse> {
    const result = await this.request<LoginResponse>("POST", "/auth/login", { json: body, auth: false });
    this.setToken(result.access_token);
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

  listConversations(query: ListConversationsQuery = {}): Promise<ConversationList> {
    return this.request("GET", "/conversations", { query });
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

  /** Sends to a person in one call: create-or-get the direct conversation with them (for `context` when given), then the message. */
  sendToPerson(body: SendToPersonBody): Promise<SentToPerson> {
    return this.request("POST", "/messages", { json: body });
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

  /**
   * One connection for everything (DESIGN.md: one socket per client): the inbox socket's events,
   * and `subscribe(conversationId)` for each conversation to follow over the same socket. Unless
   * `token` or `getTicket` is given, a fresh one-use ticket per connect.
   */
  connect(options: Omit<ConnectionOptions, "baseUrl"> = {}): ChatConnection {
    return new ChatConnection({ ...this.socketDefaults(options), ...options, baseUrl: this.baseUrl });
  }

  /** A conversation socket; unless `token` or `getTicket` is given, a fresh one-use ticket per connect. */
  conversationSocket(conversationId: string, options: SocketExtras = {}): ConversationSocket {
    return new ConversationSocket({ ...this.socketDefaults(options), ...options, baseUrl: this.baseUrl, conversationId });
  }

  /** The inbox socket; unless `token` or `getTicket` is given, a fresh one-use ticket per connect. */
  inboxSocket(options: Omit<InboxSocketOptions, "baseUrl"> = {}): InboxSocket {
    return new InboxSocket({ ...this.socketDefaults(options), ...options, baseUrl: this.baseUrl });
  }

  // ── Plumbing ──

  /** The client's WebSocket class, and a fresh one-use ticket per connect unless the socket has its own credentials. */
  private socketDefaults(options: { token?: TokenSource; getTicket?: () => Promise<string> }): Pick<SocketExtras, "WebSocket" | "getTicket"> {
    const WebSocket = this.WebSocketImpl && { WebSocket: this.WebSocketImpl };
    if (options.token !== undefined || options.getTicket) return { ...WebSocket };
    return { ...WebSocket, getTicket: async () => (await this.wsTicket()).ticket };
  }
}

function fileName(file: Blob, fallback: string): string {
  const name = (file as { name?: unknown }).name;
  return typeof name === "string" && name ? name : fallback;
}
