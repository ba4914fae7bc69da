// The app's backend (DESIGN.md, "The app's backend (service role)"): a client holding a service
// token (`roles: ["service"]`) that acts on any conversation without being a chat user.
import { ConversationsApi } from "./conversations-api.js";
import { seg, type ApiClientOptions } from "./http.js";
import type {
  Conversation,
  ConversationStatus,
  LoginResponse,
  Message,
  ParticipantRole,
  SendMessageBody,
  UpsertUserBody,
  User,
} from "./types.js";

export interface ServiceClientOptions extends Omit<ApiClientOptions, "token"> {
  /** The service token, or a function returning a current one. */
  token: NonNullable<ApiClientOptions["token"]>;
}

/** A system message: no sender; allowed in a closed conversation. */
export type SystemMessageBody = Pick<SendMessageBody, "content" | "data" | "client_id">;
/** A participant's send, made by the backend on their behalf. */
export type SendAsBody = Omit<SendMessageBody, "sender_id">;

/**
 * Inherited: `createConversation` (with `participant_ids`, trusted `roles`, `context`,
 * `metadata`), `getConversation` (every participant's `unread_count`), `updateConversation`,
 * `addParticipant`, `removeParticipant`, `sendMessage`, `listMessages` (history) and `receipts`.
 */
export class ServiceClient extends ConversationsApi {
  constructor(options: ServiceClientOptions) {
    super(options);
  }

  /** Posts a `system` message (no sender); retry-safe with `client_id`. */
  sendSystemMessage(conversationId: string, body: SystemMessageBody): Promise<Message> {
    return this.sendMessage(conversationId, { ...body, type: "system" });
  }

  /** Sends as a participant: every rule and limit of their own sends applies. */
  sendAs(conversationId: string, senderId: string, body: SendAsBody): Promise<Message> {
    return this.sendMessage(conversationId, { ...body, sender_id: senderId });
  }

  /** Sets a participant's role; participants cannot change a role the backend set. */
  setRole(conversationId: string, userId: string, role: ParticipantRole): Promise<Conversation> {
    return this.request("PATCH", `/conversations/${seg(conversationId)}/participants/${seg(userId)}`, { json: { role } });
  }

  /** Closes or reopens (a participant cannot reopen what the backend closed). */
  setStatus(conversationId: string, status: ConversationStatus): Promise<Conversation> {
    return this.updateConversation(conversationId, { status });
  }

  updateMetadata(conversationId: string, metadata: Record<string, unknown>): Promise<Conversation> {
    return this.updateConversation(conversationId, { metadata });
  }

  /** Creates or updates a user under the app's own id (the `sub` of that user's tokens). */
  upsertUser(userId: string, body: UpsertUserBody): Promise<User> {
    return this.request("PUT", `/users/${seg(userId)}`, { json: body });
  }

  /** A bearer token for one of the app's users (default `TOKEN_TTL_SECONDS`, at most 30 days). */
  mintToken(userId: string, expiresIn?: number): Promise<LoginResponse> {
    return this.request("POST", "/auth/token", { json: expiresIn === undefined ? { user_id: userId } : { user_id: userId, expires_in: expiresIn } });
  }
}
