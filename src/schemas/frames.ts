import { z } from "@hono/zod-openapi";
import type { ErrorCode } from "../lib/errors";
import { SendInputSchema, type Message } from "./messages";
import { CreateOfferBodySchema, OfferActionSchema, type Offer } from "./offers";

const Ref = z.union([z.string().max(128), z.number()]).optional();
const Seq = z.number().int().min(0);

/** Frames a client may send on a conversation socket (DESIGN.md, Realtime). */
export const ClientFrameSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("message.send"),
    ref: Ref,
    client_id: z.string().trim().min(1).max(128),
    content: SendInputSchema.shape.content,
    message_type: SendInputSchema.shape.type,
    data: SendInputSchema.shape.data,
    reply_to: SendInputSchema.shape.reply_to,
    attachment_id: SendInputSchema.shape.attachment_id,
  }),
  z.object({ type: z.literal("message.edit"), ref: Ref, message_id: z.string().max(128), content: z.string().max(100_000) }),
  z.object({ type: z.literal("message.delete"), ref: Ref, message_id: z.string().max(128) }),
  z.object({ type: z.literal("reaction.add"), ref: Ref, message_id: z.string().max(128), emoji: z.string().max(64) }),
  z.object({ type: z.literal("reaction.remove"), ref: Ref, message_id: z.string().max(128), emoji: z.string().max(64) }),
  z.object({ type: z.literal("offer.send"), ref: Ref, ...CreateOfferBodySchema.shape }),
  z.object({
    type: z.literal("offer.respond"),
    ref: Ref,
    offer_id: z.string().max(128),
    action: OfferActionSchema,
    counter_amount: CreateOfferBodySchema.shape.amount.optional(),
    message: CreateOfferBodySchema.shape.message,
  }),
  z.object({ type: z.literal("typing.start"), ref: Ref }),
  z.object({ type: z.literal("typing.stop"), ref: Ref }),
  z.object({ type: z.literal("read"), ref: Ref, up_to_seq: Seq.optional() }),
  z.object({ type: z.literal("sync"), ref: Ref, after_seq: Seq.default(0) }),
  z.object({ type: z.literal("ping"), ref: Ref }),
]);
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
  | { type: "message.new"; message: Message; delivered_to: string[] }
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
  | { type: "error"; ref?: FrameRef; code: ErrorCode; message: string; retry_after_ms?: number };

export type ParsedFrame =
  | { ok: true; frame: ClientFrame }
  | { ok: false; ref: FrameRef; code: ErrorCode; message: string };

/** Pure: raw conversation-socket text → a typed frame, or the error frame's content naming what was wrong. */
export function parseClientFrame(raw: string): ParsedFrame {
  return parseFrame(ClientFrameSchema, raw);
}

/** A union of frame objects told apart by their literal `type`. */
type FrameUnion = z.ZodDiscriminatedUnion<z.ZodObject<{ type: z.ZodLiteral<string> } & z.ZodRawShape>[]>;

/** Pure: raw socket text → a frame of `schema`, or the error frame's content naming what was wrong (both socket kinds). */
export function parseFrame<S extends FrameUnion>(schema: S, raw: string): { ok: true; frame: z.infer<S> } | { ok: false; ref: FrameRef; code: ErrorCode; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, ref: undefined, code: "VALIDATION_ERROR", message: "frame is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, ref: undefined, code: "VALIDATION_ERROR", message: "frame must be a JSON object" };
  }
  const candidate = value as { ref?: unknown; type?: unknown };
  const ref = typeof candidate.ref === "string" || typeof candidate.ref === "number" ? candidate.ref : undefined;
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, frame: result.data };
  const known = schema.options.some((o) => o.shape.type.value === candidate.type);
  if (!known) {
    return { ok: false, ref, code: "VALIDATION_ERROR", message: `unknown frame type ${JSON.stringify(candidate.type ?? null)}` };
  }
  const message = result.error.issues.map((i) => `${i.path.map(String).join(".") || "frame"}: ${i.message}`).join("; ");
  return { ok: false, ref, code: "VALIDATION_ERROR", message };
}
