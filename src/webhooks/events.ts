import { nowIso } from "../lib/ids";
import type { Conversation, ParticipantRole } from "../schemas/conversations";
import type { Message } from "../schemas/messages";
import type { Offer } from "../schemas/offers";

/** Each event type with its `data` (DESIGN.md, Webhooks). */
export interface WebhookEventData {
  "message.new": { conversation_id: string; message: Message };
  /** Edits, deletes and an offer message's status change. */
  "message.updated": { conversation_id: string; message: Message };
  "offer.updated": { conversation_id: string; offer: Offer };
  "conversation.created": { conversation: Conversation };
  "conversation.updated": { conversation: Conversation };
  "participant.added": { conversation_id: string; user_id: string; role: ParticipantRole };
  "participant.removed": { conversation_id: string; user_id: string; role: ParticipantRole };
  /** For a participant with no socket open anywhere, PRESENCE_GRACE_MS after the message. */
  "message.unread": { conversation_id: string; user_id: string; message: Message; unread_count: number };
}

export type WebhookEventType = keyof WebhookEventData;

/** The JSON body POSTed to WEBHOOK_URL; `id` is the same on every retry of one event. */
export type WebhookEvent<T extends WebhookEventType = WebhookEventType> = {
  [K in T]: { id: string; type: K; created_at: string; data: WebhookEventData[K] };
}[T];

/** A random event id, `evt_` and 32 hex digits. */
export const newEventId = () => `evt_${crypto.randomUUID().replaceAll("-", "")}`;

export function makeEvent<T extends WebhookEventType>(type: T, data: WebhookEventData[T], id = newEventId(), createdAt = nowIso()): WebhookEvent {
  // TypeScript cannot narrow the mapped union by a generic T; the signature ties data to type.
  return { id, type, created_at: createdAt, data } as unknown as WebhookEvent;
}

/** The conversation an event belongs to (its deliveries are kept in order). */
export function conversationOfEvent(event: WebhookEvent): string {
  return "conversation" in event.data ? event.data.conversation.id : event.data.conversation_id;
}
