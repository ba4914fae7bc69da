// edge-chat client SDK: `import { ChatClient } from "edge-chat/client"` (or /sdk/index.js in a browser).
// Platform only (fetch, WebSocket, FormData, Blob): browsers, React Native, Node 22; Node 20 with a WebSocket class passed in (the `ws` package).
export { ChatClient, type ChatClientOptions } from "./rest.js";
export { ServiceClient, type SendAsBody, type ServiceClientOptions, type SystemMessageBody } from "./service.js";
export { ApiClient, type ApiClientOptions } from "./http.js";
export { ConversationsApi } from "./conversations-api.js";
export { ChatConnection, type ConnectionOptions } from "./connection.js";
export { ConversationSubscription, type SubscriptionEvents, type SubscriptionOptions } from "./subscription.js";
export { ConversationCore, type ConversationOptions } from "./conversation-core.js";
export { ChatApiError, type ClientErrorCode } from "./errors.js";
export {
  ConversationSocket,
  MAX_FRAME_BYTES,
  type ConversationEvents,
  type ConversationSocketOptions,
  type SendInput,
} from "./conversation-socket.js";
export { InboxSocket, type InboxEvents, type InboxSocketOptions } from "./inbox-socket.js";
export {
  CLOSE_DROPPED,
  CLOSE_REMOVED,
  CLOSE_TOKEN_EXPIRED,
  CLOSE_TOO_LARGE,
  ReconnectingSocket,
  type ConnectionState,
  type SocketError,
  type SocketEvents,
  type SocketOptions,
} from "./socket.js";
export { Outbox, MemoryOutboxStorage, keyValueOutboxStorage, type KeyValueStore, type OutboxItem, type OutboxStorage } from "./outbox.js";
export { Emitter, type Listener } from "./emitter.js";
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
export { newClientId } from "./ids.js";
export { verifyWebhook, signWebhook, SIGNATURE_HEADER, DEFAULT_TOLERANCE_SECONDS, type VerifyOptions } from "./webhook-signature.js";
export type * from "./types.js";
