// Every request and response type of the SDK, inferred from the server's own zod schemas.
// Type-only imports: nothing here exists at run time, so the SDK carries no zod and no server code.
import type { z } from "zod";
import type { AttachmentSchema } from "../schemas/attachments.js";
import type { ErrorCodeSchema, ErrorSchema } from "../schemas/common.js";
import type {
  AddParticipantBodySchema,
  ContextSchema,
  ConversationListSchema,
  ConversationSchema,
  ConversationStatsSchema,
  ConversationStatusSchema,
  CreateConversationBodySchema,
  ListConversationsQuerySchema,
  ParticipantSchema,
  ParticipantRoleSchema,
  PatchConversationBodySchema,
  SetRoleBodySchema,
  UnreadSchema,
} from "../schemas/conversations.js";
import type { ClientFrameSchema, ServerFrame as ServerFrameType } from "../schemas/frames.js";
import type {
  EditMessageBodySchema,
  HistoryQuerySchema,
  HistoryResponseSchema,
  MessageSchema,
  ReactionsSchema,
  ReadBodySchema,
  ReadResponseSchema,
  ReceiptsSchema,
  SearchQuerySchema,
  SearchResultsSchema,
  SendMessageBodySchema,
} from "../schemas/messages.js";
import type { SendToPersonBodySchema, SentToPersonSchema } from "../schemas/direct-messages.js";
import type { CreateOfferBodySchema, OfferSchema, RespondOfferBodySchema } from "../schemas/offers.js";
import type {
  BlockSchema,
  FriendListSchema,
  FriendRequestListSchema,
  FriendRequestSchema,
  OnlineFriendsSchema,
  PresenceListSchema,
  PresenceQuerySchema,
  UserIdBodySchema,
} from "../schemas/social.js";
import type {
  LoginBodySchema,
  LoginResponseSchema,
  PatchMeBodySchema,
  UpsertUserBodySchema,
  UserListSchema,
  UserSchema,
  WsTicketResponseSchema,
} from "../schemas/users.js";
import type { InboxFrame as InboxFrameType } from "../user/user-do.js";

// ── Responses (what the server sends: the schemas' output types) ──
export type User = z.infer<typeof UserSchema>;
export type UserList = z.infer<typeof UserListSchema>;
export type LoginResponse = z.infer<typeof LoginResponseSchema>;
export type WsTicket = z.infer<typeof WsTicketResponseSchema>;
export type Conversation = z.infer<typeof ConversationSchema>;
export type ConversationContext = z.infer<typeof ContextSchema>;
export type Participant = z.infer<typeof ParticipantSchema>;
export type ParticipantRole = z.infer<typeof ParticipantRoleSchema>;
export type ConversationStatus = z.infer<typeof ConversationStatusSchema>;
export type ConversationList = z.infer<typeof ConversationListSchema>;
export type ConversationStats = z.infer<typeof ConversationStatsSchema>;
export type Unread = z.infer<typeof UnreadSchema>;
export type Message = z.infer<typeof MessageSchema>;
export type MessagePage = z.infer<typeof HistoryResponseSchema>;
export type SearchQuery = Partial<Omit<z.infer<typeof SearchQuerySchema>, "q">>;
export type SearchResults = z.infer<typeof SearchResultsSchema>;
export type Reactions = z.infer<typeof ReactionsSchema>;
export type Receipts = z.infer<typeof ReceiptsSchema>;
export type ReadState = z.infer<typeof ReadResponseSchema>;
export type Offer = z.infer<typeof OfferSchema>;
export type Attachment = z.infer<typeof AttachmentSchema>;
export type FriendRequest = z.infer<typeof FriendRequestSchema>;
export type FriendRequests = z.infer<typeof FriendRequestListSchema>;
export type FriendList = z.infer<typeof FriendListSchema>;
export type OnlineFriends = z.infer<typeof OnlineFriendsSchema>;
export type Block = z.infer<typeof BlockSchema>;
export type PresenceList = z.infer<typeof PresenceListSchema>;
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;
export type ErrorBody = z.infer<typeof ErrorSchema>;
export type ErrorDetail = ErrorBody["error"]["details"][number];

// ── Requests (what the server accepts: the schemas' input types, defaults optional) ──
export type LoginBody = z.input<typeof LoginBodySchema>;
export type PatchMeBody = z.input<typeof PatchMeBodySchema>;
export type CreateConversationBody = z.input<typeof CreateConversationBodySchema>;
export type PatchConversationBody = z.input<typeof PatchConversationBodySchema>;
export type AddParticipantBody = z.input<typeof AddParticipantBodySchema>;
export type SendMessageBody = z.input<typeof SendMessageBodySchema>;
export type SendToPersonBody = z.input<typeof SendToPersonBodySchema>;
export type SentToPerson = z.infer<typeof SentToPersonSchema>;
export type EditMessageBody = z.input<typeof EditMessageBodySchema>;
export type ReadBody = z.input<typeof ReadBodySchema>;
export type CreateOfferBody = z.input<typeof CreateOfferBodySchema>;
export type RespondOfferBody = z.input<typeof RespondOfferBodySchema>;
export type UserIdBody = z.input<typeof UserIdBodySchema>;
export type SetRoleBody = z.input<typeof SetRoleBodySchema>;
export type UpsertUserBody = z.input<typeof UpsertUserBodySchema>;

/** Query strings: the parsed (output) types, every field optional (the server fills defaults). */
export type ListConversationsQuery = Partial<z.infer<typeof ListConversationsQuerySchema>>;
export type HistoryQuery = Partial<z.infer<typeof HistoryQuerySchema>>;
export type PresenceUserIds = z.infer<typeof PresenceQuerySchema>["user_ids"];

// ── Socket frames ──
/** A frame a client may send on a conversation socket (input type: defaults optional). */
export type ClientFrame = z.input<typeof ClientFrameSchema>;
/** The fields of a `message.send` frame, without `type` and `ref`. */
export type SendFrameFields = Omit<Extract<ClientFrame, { type: "message.send" }>, "type" | "ref">;
/** A frame the server sends on a conversation socket. */
export type ServerFrame = ServerFrameType;
/** A frame the server sends on the inbox socket. */
export type InboxFrame = InboxFrameType;
export type ServerFrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;
export type InboxFrameOf<T extends InboxFrame["type"]> = Extract<InboxFrame, { type: T }>;

/** The part of the platform's WebSocket the SDK uses: browsers, React Native, Node 22 (global) and `ws`. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * What the `WebSocket` option accepts: any constructor taking a URL whose instances behave like
 * {@link WebSocketLike} (`globalThis.WebSocket`, React Native's, or the `ws` package's).
 */
export type WebSocketImplementation = new (url: string) => unknown;

/** A bearer token, or a function returning a current one (called before every connect and after a 4001). */
export type TokenSource = string | (() => string | Promise<string>);

/** A webhook request's JSON body, as `verifyWebhook` vouches for it (see README, Webhooks). */
export type { WebhookEvent, WebhookEventData, WebhookEventType } from "../webhooks/events.js";
