// The conversation endpoints a user and the app's backend share (the server decides what each
// may do with them): create, read, change participants, send, history, receipts.
import { ApiClient, seg } from "./http.js";
import type {
  AddParticipantBody,
  Conversation,
  CreateConversationBody,
  HistoryQuery,
  Message,
  MessagePage,
  PatchConversationBody,
  Receipts,
  SendMessageBody,
} from "./types.js";

export class ConversationsApi extends ApiClient {
  /** Creates a conversation; a direct one for the same pair and context is returned as it is. */
  createConversation(body: CreateConversationBody): Promise<Conversation> {
    return this.request("POST", "/conversations", { json: body });
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

  /** 201 with the new message, or the first message again for a repeated client_id. */
  sendMessage(conversationId: string, body: SendMessageBody): Promise<Message> {
    return this.request("POST", `/conversations/${seg(conversationId)}/messages`, { json: body });
  }

  /** Ascending by seq; with no cursor, the newest `limit`. */
  listMessages(conversationId: string, query: HistoryQuery = {}): Promise<MessagePage> {
    return this.request("GET", `/conversations/${seg(conversationId)}/messages`, { query });
  }

  receipts(conversationId: string, messageId: string): Promise<Receipts> {
    return this.request("GET", `/conversations/${seg(conversationId)}/messages/${seg(messageId)}/receipts`);
  }
}
