import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth, requireSocketAuth } from "../auth/middleware";
import { actorOf, conversationStub, unwrap } from "../conversation/access";
import { deleteAttachment, findAttachment, insertAttachment } from "../db/attachments";
import { database } from "../db/client";
import type { Env, Identity } from "../env";
import { bearerSecurity, createApp } from "../lib/app";
import { readConfig } from "../lib/config";
import { AppError, fromZodIssues, validationError } from "../lib/errors";
import { newId, nowIso } from "../lib/ids";
import { audioDuration } from "../lib/audio-duration";
import { extensionOf, sniff } from "../lib/sniff";
import { cleanFileName, parseRange, readLimitedForm } from "../lib/uploads";
import { AttachmentSchema, DurationField, uploadBodyDoc, VoiceNoteFieldsSchema, voiceNoteBodyDoc, type Attachment } from "../schemas/attachments";
import type { UploadBucket } from "../conversation/limiter";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import { MessageSchema, type Message } from "../schemas/messages";

/** Uploads, mounted at /api/v1/conversations/{id} (auth per route, so other conversation paths are not touched). */
export const uploadRoutes = createApp();

/** Downloads, mounted at /api/v1/attachments: a header, `?token=` or a ticket, so <img> and <audio> can use them. */
export const attachmentRoutes = createApp();

const multipart = (schema: typeof uploadBodyDoc | typeof voiceNoteBodyDoc) => ({
  body: { content: { "multipart/form-data": { schema } }, required: true },
});

/**
 * Admits the upload (the object checks membership, open state, refusals and the upload bucket),
 * reads the body under the size limit, decides the type from the bytes, then writes R2 first and
 * D1 second, and finally registers the attachment with the conversation, which decides again:
 * whatever changed while the body arrived (a removal, close or block) refuses it there, and
 * everything stored is removed.
 */
async function storeUpload(
  env: Env,
  identity: Identity,
  conversationId: string,
  request: Request,
  field: string,
  options: { bucket?: UploadBucket; onlyKind?: Attachment["kind"]; checkFields?: (form: FormData) => void } = {},
): Promise<{ attachment: Attachment; form: FormData }> {
  const stub = conversationStub(env, conversationId);
  const actor = actorOf(identity);
  unwrap(await stub.admitUpload(actor, options.bucket ?? "uploads"));
  const { maxUploadBytes } = readConfig(env);
  const form = await readLimitedForm(request, maxUploadBytes);
  options.checkFields?.(form);
  const file = form.get(field);
  if (!(file instanceof File)) throw validationError(field, "attach a file in this field");
  if (file.size > maxUploadBytes) throw new AppError("FILE_TOO_LARGE", `files are limited to ${maxUploadBytes} bytes`);
  if (file.size === 0) throw validationError(field, "the file is empty");
  const duration = DurationField.safeParse(form.get("duration") ?? undefined);
  if (!duration.success) throw fromZodIssues(duration.error.issues.map((i) => ({ ...i, path: ["duration"] })));

  const bytes = new Uint8Array(await file.arrayBuffer());
  const type = sniff(bytes.subarray(0, 64));
  if (!type) throw new AppError("UNSUPPORTED_FILE_TYPE", "allowed: mp3, wav, ogg, webm, m4a audio; jpeg, png, gif, webp images; pdf");
  if (options.onlyKind && type.kind !== options.onlyKind) throw new AppError("UNSUPPORTED_FILE_TYPE", `this needs ${options.onlyKind}: mp3, wav, ogg, webm or m4a`);

  const id = newId("att");
  const key = attachmentKey(conversationId, id);
  const attachment: Attachment = {
    id,
    name: cleanFileName(file.name, type.extension),
    size: bytes.byteLength,
    content_type: type.contentType,
    kind: type.kind,
    url: `/api/v1/attachments/${id}`,
    // A stated duration is kept; otherwise it is read from the audio where that is certain.
    duration: type.kind === "audio" ? (duration.data ?? audioDuration(bytes, type.contentType)) : null,
    uploader_id: identity.id,
    created_at: nowIso(),
  };
  await env.BUCKET.put(key, bytes, { httpMetadata: { contentType: type.contentType } });
  try {
    await insertAttachment(database(env.DB), {
      id,
      conversationId,
      uploaderId: identity.id,
      r2Key: key,
      name: attachment.name,
      size: attachment.size,
      contentType: attachment.content_type,
      kind: attachment.kind,
      durationMs: attachment.duration === null ? null : Math.round(attachment.duration * 1000),
      createdAt: attachment.created_at,
    });
  } catch (err) {
    await env.BUCKET.delete(key);
    throw err;
  }
  let registered: Awaited<ReturnType<typeof stub.registerAttachment>>;
  try {
    registered = await stub.registerAttachment(actor, attachment);
  } catch (err) {
    await discardUpload(env, conversationId, id);
    throw err;
  }
  if (!registered.ok) await discardUpload(env, conversationId, id);
  unwrap(registered);
  return { attachment, form };
}

/** R2 keys are the server's own, never derived from anything the client sent. */
const attachmentKey = (conversationId: string, attachmentId: string) => `conversations/${conversationId}/${attachmentId}`;

/** Undoes storeUpload: the registry entry, the D1 row and the R2 object. */
async function discardUpload(env: Env, conversationId: string, attachmentId: string): Promise<void> {
  await conversationStub(env, conversationId).discardAttachment(attachmentId);
  await deleteAttachment(database(env.DB), attachmentId);
  await env.BUCKET.delete(attachmentKey(conversationId, attachmentId));
}

const upload = createRoute({
  method: "post",
  path: "/attachments",
  tags: ["attachments"],
  summary: "Upload a file (type decided from its bytes); then send a message with attachment_id",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  request: { params: z.object({ id: IdSchema }), ...multipart(uploadBodyDoc) },
  responses: { 201: jsonResponse(AttachmentSchema, "Stored"), ...errorResponses(400, 401, 403, 409, 413, 429), 415: jsonResponse(z.any(), "Unsupported file type") },
});

uploadRoutes.openapi(upload, async (c) => {
  const identity = c.get("identity");
  const { attachment } = await storeUpload(c.env, identity, c.req.valid("param").id, c.req.raw, "file");
  return c.json(attachment, 201);
});

const voiceNote = createRoute({
  method: "post",
  path: "/voice-notes",
  tags: ["attachments"],
  summary: "Upload a voice note and send it as a voice message in one step (takes a voice_notes token; duration read from the audio when not given)",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  request: { params: z.object({ id: IdSchema }), ...multipart(voiceNoteBodyDoc) },
  responses: { 201: jsonResponse(MessageSchema, "The voice message"), 200: jsonResponse(MessageSchema, "Already sent under this client_id"), ...errorResponses(400, 401, 403, 409, 413, 429), 415: jsonResponse(z.any(), "Unsupported file type") },
});

uploadRoutes.openapi(voiceNote, async (c) => {
    const identity = c.get("identity");
    const conversationId = c.req.valid("param").id;
    let fields: z.infer<typeof VoiceNoteFieldsSchema> | undefined;
    const checkFields = (form: FormData) => {
      const parsed = VoiceNoteFieldsSchema.safeParse(Object.fromEntries([...form.entries()].filter(([, v]) => typeof v === "string")));
      if (!parsed.success) throw fromZodIssues(parsed.error.issues);
      fields = parsed.data;
    };
    const { attachment } = await storeUpload(c.env, identity, conversationId, c.req.raw, "voice_note", { bucket: "voice_notes", onlyKind: "audio", checkFields });
    const stub = conversationStub(c.env, conversationId);
    const result = await stub.sendMessage(actorOf(identity), {
      content: fields?.content ?? "",
      type: "voice",
      attachment_id: attachment.id,
      client_id: fields?.client_id,
      reply_to: fields?.reply_to,
    });
    // A refused send, or a retry answered with the first message, must not leave this upload behind.
    let sent: { message: Message; created: boolean };
    try {
      sent = unwrap(result);
    } catch (err) {
      await discardUpload(c.env, conversationId, attachment.id);
      throw err;
    }
    if (!sent.created) await discardUpload(c.env, conversationId, attachment.id);
    return c.json(sent.message, sent.created ? 201 : 200);
});

const download = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["attachments"],
  summary: "Stream an attachment (participants only); Range requests for audio answer 206",
  security: bearerSecurity,
  middleware: [requireSocketAuth] as const,
  request: { params: z.object({ id: IdSchema }), query: z.object({ token: z.string().optional(), ticket: z.string().optional().openapi({ description: "a one-use ticket from POST /api/v1/auth/ws-ticket" }) }) },
  responses: { 200: { description: "The bytes" }, 206: { description: "A byte range (audio)" }, ...errorResponses(401, 403, 404) },
});

attachmentRoutes.openapi(download, async (c) => {
  const identity = c.get("identity");
  const db = database(c.env.DB);
  const row = await findAttachment(db, c.req.valid("param").id);
  if (!row || row.deletedAt) throw new AppError("NOT_FOUND", "no such attachment");
  unwrap(await conversationStub(c.env, row.conversationId).describe(actorOf(identity)));

  const headers = new Headers({
    "content-type": row.contentType,
    "x-content-type-options": "nosniff",
    "cache-control": "private, max-age=3600",
    // Cleaned again: the saved name follows the type served even for a row stored before names did.
    "content-disposition": `${row.kind === "document" ? "attachment" : "inline"}; filename*=UTF-8''${encodeURIComponent(cleanFileName(row.name, extensionOf(row.contentType)))}`,
  });
  const range = row.kind === "audio" ? parseRange(c.req.header("range") ?? null, row.size) : null;
  if (row.kind === "audio") headers.set("accept-ranges", "bytes");
  if (range === "unsatisfiable") {
    headers.set("content-range", `bytes */${row.size}`);
    return new Response(null, { status: 416, headers }) as never;
  }
  const object = await c.env.BUCKET.get(row.r2Key, range ? { range } : undefined);
  if (!object) throw new AppError("NOT_FOUND", "attachment bytes are missing");
  headers.set("etag", object.httpEtag);
  if (range) {
    headers.set("content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${row.size}`);
    headers.set("content-length", String(range.length));
    return new Response(object.body, { status: 206, headers }) as never;
  }
  headers.set("content-length", String(row.size));
  return new Response(object.body, { status: 200, headers }) as never;
});
