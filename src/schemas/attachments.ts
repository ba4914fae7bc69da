import { z } from "@hono/zod-openapi";
import { MAX_DURATION_SECONDS } from "../lib/audio-duration";
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
    duration: z.number().nullable().openapi({ description: "Seconds, for audio: as the uploader stated it, else read from the file where that is certain (WAV; M4A movie header; Ogg Opus/Vorbis), else null" }),
    uploader_id: z.string(),
    created_at: IsoTime,
  })
  .openapi("Attachment");
export type Attachment = z.infer<typeof AttachmentSchema>;

export const DurationField = z.coerce.number().positive().max(MAX_DURATION_SECONDS).optional().openapi({ description: "Seconds" });

/** The text fields of a voice-note upload, validated after the body has been read under the size limit. */
export const VoiceNoteFieldsSchema = z.object({
  duration: z.coerce.number().positive().max(MAX_DURATION_SECONDS).optional(),
  client_id: z.string().trim().min(1).max(128).optional(),
  content: z.string().max(100_000).optional(),
  reply_to: z.string().max(128).optional(),
});

/**
 * OpenAPI descriptions of the multipart bodies. They are plain schema objects on purpose: a zod
 * schema here would make the router parse the whole body before the size limit is enforced.
 */
export const uploadBodyDoc = {
  type: "object" as const,
  required: ["file"],
  properties: {
    file: { type: "string" as const, format: "binary" },
    duration: { type: "number" as const, description: "Seconds, for audio; when absent, read from the audio where that is certain, else null" },
  },
};

export const voiceNoteBodyDoc = {
  type: "object" as const,
  required: ["voice_note"],
  properties: {
    voice_note: { type: "string" as const, format: "binary" },
    duration: { type: "number" as const, description: "Seconds; when absent, read from the audio where that is certain (WAV; M4A; Ogg Opus/Vorbis), else null" },
    client_id: { type: "string" as const },
    content: { type: "string" as const, description: "Optional caption" },
    reply_to: { type: "string" as const },
  },
};
