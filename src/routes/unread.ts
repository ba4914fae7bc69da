import { createRoute } from "@hono/zod-openapi";
import { requireAuth, requireUser } from "../auth/middleware";
import { database } from "../db/client";
import { unreadCounts } from "../db/conversations";
import { bearerSecurity, createApp } from "../lib/app";
import { errorResponses, jsonResponse } from "../schemas/common";
import { UnreadSchema } from "../schemas/conversations";

export const unreadRoutes = createApp();
unreadRoutes.use("*", requireAuth, requireUser);

const unread = createRoute({
  method: "get",
  path: "/",
  tags: ["messages"],
  summary: "Unread counts: the total and one entry per conversation of the caller",
  security: bearerSecurity,
  responses: { 200: jsonResponse(UnreadSchema, "Unread counts"), ...errorResponses(401) },
});

unreadRoutes.openapi(unread, async (c) => {
  const conversations = await unreadCounts(database(c.env.DB), c.get("identity").id);
  const total = conversations.reduce((sum, entry) => sum + entry.unread_count, 0);
  return c.json({ unread_count: total, conversations }, 200);
});
