import { z } from "@hono/zod-openapi";
import { IsoTime } from "./common";

export const AttachmentKindSchema = z.enum(["image", "audio", "document"]);

/** What a message's `attachment` holds and what an upload returns. */
export const AttachmentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    size: z.number().int(),
    content_type: z.string(),
    kind: AttachmentKindSchema,
    url: z.string(),
    duration: z.number().nullable().openapi({ description: "Seconds, for voice notes" }),
    uploader_id: z.string(),
    created_at: IsoTime,
  })
  .openapi("Attachment");
export type Attachment = z.infer<typeof AttachmentSchema>;

export const DurationField = z.coerce.number().positive().max(3600).optional().openapi({ description: "Seconds" });

export const UploadFormSchema = z
  .object({
    file: z.any().openapi({ type: "string", format: "binary" }),
    duration: DurationField,
  })
  .openapi("AttachmentUpload");

export const VoiceNoteFormSchema = z
  .object({
    voice_note: z.any().openapi({ type: "string", format: "binary" }),
    duration: z.coerce.number().positive().max(3600).openapi({ description: "Seconds" }),
    client_id: z.string().max(128).optional(),
    content: z.string().max(100_000).optional(),
    reply_to: z.string().max(128).optional(),
  })
  .openapi("VoiceNoteUpload");
