import { z } from "@hono/zod-openapi";
import { MAX_SEARCH_WORDS, searchWords } from "../lib/search-query";
import { AttachmentSchema } from "./attachments";
import { boundedObject, IdSchema, IsoTime } from "./common";

export const MessageTypeSchema = z.enum(["text", "image", "file", "voice", "product", "offer", "offer_response", "system"]);

/**
 * Types a client may send itself. image/file/voice need an attachment (and are derived from it
 * when the client says text); offers go through the offer endpoints; system is the server's.
 */
export const ClientMessageTypeSchema = z.enum(["text", "product", "image", "file", "voice"]);

/** A sender's name and avatar as they were when the message was sent. */
export const SenderSchema = z.object({ id: z.string(), name: z.string(), avatar_url: z.string().nullable() }).openapi("Sender");
export type Sender = z.infer<typeof SenderSchema>;
export type Profile = Omit<Sender, "id">;

/** Of one's own message: delivered or read by every other participant (history pages only). */
export const DeliveryStatusSchema = z.enum(["sent", "delivered", "read"]);
export type DeliveryStatus = z.infer<typeof DeliveryStatusSchema>;

export const MessageSchema = z
  .object({
    id: z.string(),
    conversation_id: z.string(),
    seq: z.number().int().positive(),
    sender_id: z.string().nullable(),
    sender: SenderSchema.nullable().openapi({ description: "The sender's profile when the message was sent; null for system messages" }),
    type: MessageTypeSchema,
    content: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
    reply_to: z.string().nullable(),
    attachment: AttachmentSchema.nullable(),
    reactions: z.record(z.string(), z.array(z.string())),
    client_id: z.string().nullable(),
    edited_at: IsoTime.nullable(),
    deleted_at: IsoTime.nullable(),
    created_at: IsoTime,
    status: DeliveryStatusSchema.optional().openapi({ description: "History pages only, on the viewer's own messages: delivered or read by every other participant" }),
  })
  .openapi("Message");
export type Message = z.infer<typeof MessageSchema>;

/** Fields shared by the REST send body and the socket's message.send frame. */
const sendFields = {
  content: z.string().max(100_000).default("").openapi({ description: "Required unless attachment_id is given" }),
  client_id: z.string().trim().min(1).max(128).optional(),
  reply_to: IdSchema.optional(),
  data: boundedObject(8 * 1024).optional(),
  attachment_id: IdSchema.optional(),
};

/** A participant's send, from REST or a socket. */
export const SendInputSchema = z.strictObject({ ...sendFields, type: ClientMessageTypeSchema.default("text") });
export type SendInput = z.infer<typeof SendInputSchema>;

/** The REST body: a participant's send, or the app's backend's (a system message, or one on behalf of a participant). */
export const SendMessageBodySchema = SendInputSchema.extend({
  type: z
    .enum([...ClientMessageTypeSchema.options, "system"])
    .default("text")
    .openapi({ description: "`system` only from the app's backend (service token); from users: 400" }),
  sender_id: IdSchema.optional().openapi({ description: "The app's backend only: send as this participant (every rule of their sends applies)" }),
}).openapi("SendMessageBody");
export type SendMessageBody = z.infer<typeof SendMessageBodySchema>;

const SeqParam = z.coerce.number().int().min(0);

export const HistoryQuerySchema = z.object({
  before_seq: SeqParam.optional(),
  after_seq: SeqParam.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export type HistoryQuery = z.infer<typeof HistoryQuerySchema>;

/** Search text: words (letters and digits) matched in full, the last one also as a prefix. */
const SearchText = z
  .string()
  .max(256)
  .refine((q) => searchWords(q).length > 0, "must contain at least one word (letters or digits)")
  .refine((q) => searchWords(q).length <= MAX_SEARCH_WORDS, `must contain at most ${MAX_SEARCH_WORDS} words`)
  .openapi({ description: "Words to find (all of them; the last one also as a prefix). Punctuation and search operators only separate words." });

const SearchLimit = z.coerce.number().int().min(1).max(100).default(50);

/** GET …/messages: history, or with `q` a search (`after_seq` is for history only). */
export const MessagesQuerySchema = HistoryQuerySchema.extend({ q: SearchText.optional() });

/** A search in one conversation: matches below `before_seq`, newest first. */
export const SearchQuerySchema = z.object({ q: SearchText, before_seq: SeqParam.optional(), limit: SearchLimit });
export type SearchQuery = z.infer<typeof SearchQuerySchema>;

/** GET /api/v1/search/messages. */
export const GlobalSearchQuerySchema = z.object({ q: SearchText, limit: SearchLimit });

export const HistoryResponseSchema = z
  .object({ messages: z.array(MessageSchema), has_more: z.boolean() })
  .openapi("MessagePage");
export type HistoryPage = z.infer<typeof HistoryResponseSchema>;

export const SearchResultsSchema = z
  .object({ results: z.array(z.object({ conversation_id: z.string(), message: MessageSchema })) })
  .openapi("SearchResults");
export type SearchResults = z.infer<typeof SearchResultsSchema>;

export const EditMessageBodySchema = z.strictObject({ content: z.string().max(100_000) }).openapi("EditMessageBody");

export const ReactionsSchema = z
  .object({ message_id: z.string(), reactions: z.record(z.string(), z.array(z.string())) })
  .openapi("Reactions");

export const ReceiptSchema = z
  .object({
    user_id: z.string(),
    status: z.enum(["sent", "delivered", "read"]),
    delivered_at: IsoTime.nullable(),
    read_at: IsoTime.nullable(),
  })
  .openapi("Receipt");
export type Receipt = z.infer<typeof ReceiptSchema>;

export const ReceiptsSchema = z
  .object({ message_id: z.string(), seq: z.number().int(), receipts: z.array(ReceiptSchema) })
  .openapi("Receipts");
export type Receipts = z.infer<typeof ReceiptsSchema>;

export const ReadBodySchema = z.strictObject({ up_to_seq: z.number().int().min(0).optional() }).openapi("ReadBody");

export const ReadResponseSchema = z
  .object({ last_read_seq: z.number().int(), unread_count: z.number().int() })
  .openapi("ReadState");
export type ReadState = z.infer<typeof ReadResponseSchema>;
