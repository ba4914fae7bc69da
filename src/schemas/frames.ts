import { z } from "@hono/zod-openapi";
import { detailSummary, issueDetails, type ErrorCode, type ErrorDetail } from "../lib/errors";
import { SendInputSchema, type Message } from "./messages";
import { CreateOfferBodySchema, OfferActionSchema, type Offer } from "./offers";

/**
 * Recipients a `message.new` names in `delivered_to`; past it `delivered_count` gives the total.
 * Every copy of the frame carries the list: with 100 people online, naming all of them made
 * each message 100 frames of 2.8 KB instead of 0.3 KB and the object fell behind at 200 msg/s.
 */
export const DELIVERED_LISTED = 20;

const Ref = z.union([z.string().max(128), z.number()]).optional();
const Seq = z.number().int().min(0);

/*
 * Every frame is a strict object: a field its schema does not know is refused, not ignored.
 * The conversation commands are exported one by one so another socket can accept them with a
 * field of its own added (`.extend`, which keeps them strict).
 */
export const MessageSendFrame = z.strictObject({
  type: z.literal("message.send"),
  ref: Ref,
  client_id: z.string().trim().min(1).max(128),
  content: SendInputSchema.shape.content,
  message_type: SendInputSchema.shape.type,
  data: SendInputSchema.shape.data,
  reply_to: SendInputSchema.shape.reply_to,
  attachment_id: SendInputSchema.shape.attachment_id,
});
export const MessageEditFrame = z.strictObject({ type: z.literal("message.edit"), ref: Ref, message_id: z.string().max(128), content: z.string().max(100_000) });
export const MessageDeleteFrame = z.strictObject({ type: z.literal("message.delete"), ref: Ref, message_id: z.string().max(128) });
export const ReactionAddFrame = z.strictObject({ type: z.literal("reaction.add"), ref: Ref, message_id: z.string().max(128), emoji: z.string().max(64) });
export const ReactionRemoveFrame = z.strictObject({ type: z.literal("reaction.remove"), ref: Ref, message_id: z.string().max(128), emoji: z.string().max(64) });
export const OfferSendFrame = z.strictObject({ type: z.literal("offer.send"), ref: Ref, ...CreateOfferBodySchema.shape });
export const OfferRespondFrame = z.strictObject({
  type: z.literal("offer.respond"),
  ref: Ref,
  offer_id: z.string().max(128),
  action: OfferActionSchema,
  counter_amount: CreateOfferBodySchema.shape.amount.optional(),
  message: CreateOfferBodySchema.shape.message,
});
export const TypingStartFrame = z.strictObject({ type: z.literal("typing.start"), ref: Ref });
export const TypingStopFrame = z.strictObject({ type: z.literal("typing.stop"), ref: Ref });
export const ReadFrame = z.strictObject({ type: z.literal("read"), ref: Ref, up_to_seq: Seq.optional() });
export const SyncFrame = z.strictObject({ type: z.literal("sync"), ref: Ref, after_seq: Seq.default(0) });
export const PingFrame = z.strictObject({ type: z.literal("ping"), ref: Ref });

/** The commands over one conversation (DESIGN.md, Realtime): everything a conversation socket takes but ping. */
export const ConversationCommandFrames = [
  MessageSendFrame,
  MessageEditFrame,
  MessageDeleteFrame,
  ReactionAddFrame,
  ReactionRemoveFrame,
  OfferSendFrame,
  OfferRespondFrame,
  TypingStartFrame,
  TypingStopFrame,
  ReadFrame,
  SyncFrame,
] as const;

/** Frames a client may send on a conversation socket (DESIGN.md, Realtime). */
export const ClientFrameSchema = z.discriminatedUnion("type", [...ConversationCommandFrames, PingFrame]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
export type FrameRef = string | number | undefined;

/** Frames the server sends on a conversation socket. */
export type ServerFrame =
  | {
      type: "hello";
      conversation_id: string;
      user_id: string;
      last_seq: number;
      /** Every participant up to 100; in bigger groups, the online ones (at most 100). */
      participants: { id: string; online: boolean }[];
      participant_count: number;
      typing: string[];
    }
  | { type: "message.ack"; client_id: string | null; ref: FrameRef | null; message: Message }
  /** `delivered_to` names at most DELIVERED_LISTED; when more were reached, `delivered_count` says how many. */
  | { type: "message.new"; message: Message; delivered_to: string[]; delivered_count?: number }
  | { type: "message.updated"; message: Message }
  | { type: "reaction.updated"; message_id: string; reactions: Record<string, string[]> }
  | { type: "offer.updated"; offer: Offer }
  | { type: "delivered"; user_id: string; up_to_seq: number }
  | { type: "typing"; user_id: string; is_typing: boolean }
  | { type: "read"; user_id: string; up_to_seq: number }
  | { type: "presence"; user_id: string; online: boolean }
  | { type: "sync.batch"; ref?: FrameRef; messages: Message[] }
  | { type: "sync.done"; ref?: FrameRef; last_seq: number }
  | { type: "pong"; ref?: FrameRef }
  | { type: "error"; ref?: FrameRef; code: ErrorCode; message: string; details?: ErrorDetail[]; retry_after_ms?: number };

export type ParsedFrame<F = ClientFrame> =
  | { ok: true; frame: F }
  | { ok: false; ref: FrameRef; code: ErrorCode; message: string; details: ErrorDetail[] };

export type FrameUnion = z.ZodDiscriminatedUnion<readonly z.ZodObject<{ type: z.ZodLiteral<string> }>[], "type">;

/** Pure: a raw socket frame → a typed frame of `schema`, or the error frame's content naming what was wrong. */
export function parseFrame<S extends FrameUnion>(schema: S, raw: string | ArrayBuffer): ParsedFrame<z.output<S>> {
  if (typeof raw !== "string") return refusal(undefined, "binary frames are not supported", "frame", "must be a text frame");
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return refusal(undefined, "frame is not valid JSON", "frame");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return refusal(undefined, "frame must be a JSON object", "frame");
  }
  const candidate = value as { ref?: unknown; type?: unknown };
  const ref = typeof candidate.ref === "string" || typeof candidate.ref === "number" ? candidate.ref : undefined;
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, frame: result.data };
  const types = schema.options.map((o) => o.shape.type.value);
  if (!types.includes(candidate.type as string)) {
    return refusal(ref, `unknown frame type ${JSON.stringify(candidate.type ?? null)}`, "type", `must be one of: ${types.join(", ")}`);
  }
  const details = issueDetails(result.error.issues, "frame");
  return { ok: false, ref, code: "VALIDATION_ERROR", message: detailSummary(details), details };
}

function refusal(ref: FrameRef, message: string, field: string, detail = message): Extract<ParsedFrame<never>, { ok: false }> {
  return { ok: false, ref, code: "VALIDATION_ERROR", message, details: [{ field, message: detail }] };
}

export const parseClientFrame = (raw: string | ArrayBuffer): ParsedFrame => parseFrame(ClientFrameSchema, raw);
