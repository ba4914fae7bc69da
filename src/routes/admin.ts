import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { requireAuth } from "../auth/middleware";
import { database } from "../db/client";
import { mirrorMeter } from "../db/schema";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError } from "../lib/errors";
import { errorResponses, jsonResponse } from "../schemas/common";

/** Mounted at /api/v1/admin: deployment-wide counters for operators and the benchmarks. */
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
