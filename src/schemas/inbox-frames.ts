import { z } from "@hono/zod-openapi";
import { IdSchema } from "./common";
import { ConversationCommandFrames, parseFrame, PingFrame, type ClientFrame, type ParsedFrame, type ServerFrame } from "./frames";

const Ref = PingFrame.shape.ref;
const ConversationId = { conversation_id: IdSchema };

/**
 * Every conversation-socket command, accepted on the inbox socket with the conversation it is
 * for (DESIGN.md, Realtime: one socket per client); strict like the originals. `ping` is the
 * socket's own.
 */
const commandSchemas = ConversationCommandFrames.map((frame) => frame.extend(ConversationId));

/** Frames a client may send on the inbox socket (/api/v1/ws). */
export const InboxClientFrameSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("subscribe"), ref: Ref, ...ConversationId, after_seq: z.number().int().min(0).optional() }),
  z.strictObject({ type: z.literal("unsubscribe"), ref: Ref, ...ConversationId }),
  PingFrame,
  ...commandSchemas,
]);
export type InboxClientFrame = z.infer<typeof InboxClientFrameSchema>;

/** A conversation command that came through the inbox socket. */
export type ConversationCommand = Exclude<ClientFrame, { type: "ping" }> & { conversation_id: string };

export const parseInboxFrame = (raw: string | ArrayBuffer): ParsedFrame<InboxClientFrame> => parseFrame(InboxClientFrameSchema, raw);

/** What a subscription starts with: what `hello` says on a conversation socket. */
export type Subscribed = Omit<Extract<ServerFrame, { type: "hello" }>, "type" | "user_id">;

/** Why a subscription ended without the client asking. */
export type UnsubscribeReason = "removed";

/**
 * A conversation's frame as a subscribed inbox socket gets it: the same frame with
 * `conversation_id` added. Spliced into the serialised text, so a broadcast is serialised once.
 */
export function withConversationId(frame: string, conversationId: string): string {
  return `{"conversation_id":${JSON.stringify(conversationId)},${frame.slice(1)}`;
}
