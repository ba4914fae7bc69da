import { createRoute, z } from "@hono/zod-openapi";
import { desc, eq } from "drizzle-orm";
import { requireAuth } from "../auth/middleware";
import { database } from "../db/client";
import { mirrorMeter, webhookFailures } from "../db/schema";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError } from "../lib/errors";
import { errorResponses, jsonResponse } from "../schemas/common";

/** Mounted at /api/v1/admin: deployment-wide counters and undeliverable webhooks, for operators and the benchmarks. */
export const adminRoutes = createApp();
adminRoutes.use("*", requireAuth);

const MirrorMeterSchema = z
  .object({
    batches: z.number().int().describe("D1 batches the mirror queue's consumer wrote (one D1 request each)"),
    messages: z.number().int().describe("queue messages those batches carried"),
    statements: z.number().int().describe("statements in those batches"),
  })
  .openapi("MirrorMeter");

const mirror = createRoute({
  method: "get",
  path: "/mirror",
  tags: ["admin"],
  summary: "Admin only: what the mirror queue's consumer has written to D1 since the database was created",
  security: bearerSecurity,
  responses: { 200: jsonResponse(MirrorMeterSchema, "Counters"), ...errorResponses(401, 403) },
});

adminRoutes.openapi(mirror, async (c) => {
  if (!c.get("identity").isAdmin) throw new AppError("FORBIDDEN", "the mirror meter is for admins");
  const row = await database(c.env.DB).select().from(mirrorMeter).where(eq(mirrorMeter.id, 1)).get();
  return c.json({ batches: row?.batches ?? 0, messages: row?.messages ?? 0, statements: row?.statements ?? 0 }, 200);
});

const WebhookFailureSchema = z
  .object({
    event_id: z.string(),
    type: z.string().describe("the event's type, e.g. message.new"),
    conversation_id: z.string(),
    attempts: z.number().int().describe("delivery attempts made"),
    last_error: z.string().describe("what the last attempt got: `HTTP 503`, a timeout, a network error"),
    event: z.record(z.string(), z.unknown()).describe("the event exactly as it was POSTed: {id, type, created_at, data}"),
    failed_at: z.string().describe("when it was given up (ISO-8601)"),
  })
  .openapi("WebhookFailure");

const WebhookFailuresQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50).describe("at most this many, newest first (1–100, default 50)"),
});

const webhookFailuresRoute = createRoute({
  method: "get",
  path: "/webhook-failures",
  tags: ["admin"],
  summary: "Admin only: webhook events given up after every retry, newest first",
  security: bearerSecurity,
  request: { query: WebhookFailuresQuerySchema },
  responses: {
    200: jsonResponse(z.object({ failures: z.array(WebhookFailureSchema) }).openapi("WebhookFailureList"), "Undeliverable events"),
    ...errorResponses(400, 401, 403),
  },
});

adminRoutes.openapi(webhookFailuresRoute, async (c) => {
  if (!c.get("identity").isAdmin) throw new AppError("FORBIDDEN", "webhook failures are for admins");
  const rows = await database(c.env.DB).select().from(webhookFailures).orderBy(desc(webhookFailures.failedAt)).limit(c.req.valid("query").limit);
  const failures = rows.map((r) => ({
    event_id: r.eventId,
    type: r.type,
    conversation_id: r.conversationId,
    attempts: r.attempts,
    last_error: r.lastError,
    event: r.event as Record<string, unknown>,
    failed_at: r.failedAt,
  }));
  return c.json({ failures }, 200);
});
