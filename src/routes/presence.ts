import { createRoute } from "@hono/zod-openapi";
import { requireAuth, requireUser } from "../auth/middleware";
import { database } from "../db/client";
import { presenceAudience, presenceOf } from "../db/social";
import { bearerSecurity, createApp } from "../lib/app";
import { errorResponses, jsonResponse } from "../schemas/common";
import { PresenceListSchema, PresenceQuerySchema } from "../schemas/social";

export const presenceRoutes = createApp();
presenceRoutes.use("*", requireAuth, requireUser);

const presence = createRoute({
  method: "get",
  path: "/",
  tags: ["presence"],
  summary: "Online state and last_seen of the given users who are friends or share a conversation with the caller (others are left out)",
  security: bearerSecurity,
  request: { query: PresenceQuerySchema },
  responses: { 200: jsonResponse(PresenceListSchema, "Presence"), ...errorResponses(400, 401) },
});

presenceRoutes.openapi(presence, async (c) => {
  const db = database(c.env.DB);
  const visible = await presenceAudience(db, c.get("identity").id, c.req.valid("query").user_ids);
  const rows = await presenceOf(db, visible);
  return c.json({ users: rows.map((r) => ({ id: r.id, online: r.online, last_seen: r.lastSeenAt })) }, 200);
});
