import { createRoute, z } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import type { Env } from "./env";
import { createApp } from "./lib/app";
import { apiCors } from "./lib/cors";
import { AppError, errorResponse, validationError } from "./lib/errors";
import { consumeQueue } from "./queues";
import { adminRoutes } from "./routes/admin";
import { attachmentRoutes, uploadRoutes } from "./routes/attachments";
import { authRoutes } from "./routes/auth";
import { blockRoutes } from "./routes/blocks";
import { friendRoutes } from "./routes/friends";
import { presenceRoutes } from "./routes/presence";
import { conversationRoutes } from "./routes/conversations";
import { directMessageRoutes } from "./routes/direct-messages";
import { mountDocs } from "./routes/docs";
import { messageRoutes } from "./routes/messages";
import { offerRoutes } from "./routes/offers";
import { realtimeRoutes } from "./routes/realtime";
import { searchRoutes } from "./routes/search";
import { unreadRoutes } from "./routes/unread";
import { jsonResponse } from "./schemas/common";
import { userRoutes } from "./routes/users";

export { ConversationDO } from "./conversation/conversation-do";
export { IpLimiterDO } from "./limits/ip-limiter-do";
export { UserDO } from "./user/user-do";

/** JSON bodies beyond this are refused before they are parsed (uploads have their own limit). */
const MAX_JSON_BODY_BYTES = 256 * 1024;

const app = createApp();

app.openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags: ["meta"],
    summary: "Liveness",
    responses: { 200: jsonResponse(z.object({ status: z.literal("ok") }), "The Worker answers") },
  }),
  (c) => c.json({ status: "ok" as const }, 200),
);

// First on /api/*: a preflight is answered before authentication or body checks.
app.use("/api/*", apiCors);

const jsonBodyLimit = bodyLimit({
  maxSize: MAX_JSON_BODY_BYTES,
  onError: () => {
    throw new AppError("PAYLOAD_TOO_LARGE", `request bodies are limited to ${MAX_JSON_BODY_BYTES} bytes`);
  },
});
// Uploads are limited by MAX_UPLOAD_BYTES while they are read (src/lib/uploads.ts).
const isUpload = (path: string) => /\/(attachments|voice-notes)$/.test(path);
app.use("/api/*", (c, next) => (isUpload(c.req.path) ? next() : jsonBodyLimit(c, next)));

// Socket routes first: they authenticate from the query string as well as the header.
app.route("/api/v1", realtimeRoutes);
app.route("/api/v1/auth", authRoutes);
app.route("/api/v1/users", userRoutes);
app.route("/api/v1/conversations/:id/messages", messageRoutes);
app.route("/api/v1/messages", directMessageRoutes);
app.route("/api/v1/conversations/:id/offers", offerRoutes);
app.route("/api/v1/conversations/:id", uploadRoutes);
app.route("/api/v1/attachments", attachmentRoutes);
app.route("/api/v1/conversations", conversationRoutes);
app.route("/api/v1/unread", unreadRoutes);
app.route("/api/v1/search", searchRoutes);
app.route("/api/v1/friends", friendRoutes);
app.route("/api/v1/blocks", blockRoutes);
app.route("/api/v1/presence", presenceRoutes);
app.route("/api/v1/admin", adminRoutes);
mountDocs(app);

app.notFound(() => errorResponse(new AppError("NOT_FOUND", "no such route")));

/** The one place errors become responses: documented envelope, never a stack trace. */
app.onError((err) => {
  if (err instanceof AppError) return errorResponse(err);
  if (err instanceof HTTPException) {
    if (err.status === 400 || err.status === 415) return errorResponse(validationError("body", err.status === 415 ? "send Content-Type: application/json" : "must be valid JSON"));
    if (err.status === 413) return errorResponse(new AppError("PAYLOAD_TOO_LARGE", "request body too large"));
  }
  console.error("unhandled error", err);
  return errorResponse(new AppError("INTERNAL", "internal error"));
});

export default {
  fetch: app.fetch,
  queue: consumeQueue,
} satisfies ExportedHandler<Env, unknown>;
