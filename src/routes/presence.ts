import { createRoute } from "@hono/zod-openapi";
import { requireAuth, requireUser } from "../auth/middleware";
import { database } from "../db/client";
import { onlineContacts, presenceAudience, presenceOf } from "../db/social";
import { bearerSecurity, createApp } from "../lib/app";
import { errorResponses, jsonResponse } from "../schemas/common";
import { ONLINE_CONTACTS_LISTED, PresenceListSchema, PresenceQuerySchema } from "../schemas/social";

export const presenceRoutes = createApp();
presenceRoutes.use("*", requireAuth, requireUser);

const presence = createRoute({
  method: "get",
  path: "/",
  tags: ["presence"],
  summary: "Online state and last_seen of contacts: the given users who are friends or share a conversation with the caller (others are left out), or without user_ids every contact online now",
  security: bearerSecurity,
  request: { query: PresenceQuerySchema },
  responses: { 200: jsonResponse(PresenceListSchema, "Presence"), ...errorResponses(400, 401) },
});

presenceRoutes.openapi(presence, async (c) => {
  const db = database(c.env.DB);
  const me = c.get("identity").id;
  const { user_ids } = c.req.valid("query");
  const rows = user_ids ? await presenceOf(db, await presenceAudience(db, me, user_ids)) : await onlineContacts(db, me, ONLINE_CONTACTS_LISTED);
  return c.json({ users: rows.map((r) => ({ id: r.id, online: r.online, last_seen: r.lastSeenAt })) }, 200);
});
