import { createRoute, z } from "@hono/zod-openapi";
import { requireSocketAuth } from "../auth/middleware";
import { actorOf, conversationOf } from "../conversation/access";
import { createApp } from "../lib/app";
import { limitPerIp } from "../limits/per-ip";
import { inboxStub } from "../user/inbox";
import { validationError } from "../lib/errors";
import { errorResponses, IdSchema } from "../schemas/common";

/** Socket upgrades, authenticated by header, `?token=` or a one-use `?ticket=`. */
export const realtimeRoutes = createApp();

const conversationSocket = createRoute({
  method: "get",
  path: "/conversations/{id}/ws",
  tags: ["realtime"],
  summary: "Open the conversation's WebSocket (participants; admins may watch)",
  description:
    "Authenticate with `Authorization: Bearer`, `?token=<jwt>` or `?ticket=` from POST /api/v1/auth/ws-ticket. " +
    "Frames are described in the README. Close codes: 1009 frame over 64 KiB, 4001 token expired, 4003 removed from the conversation.",
  middleware: [limitPerIp("connects"), requireSocketAuth] as const,
  request: {
    params: z.object({ id: IdSchema }),
    query: z.object({ token: z.string().optional(), ticket: z.string().optional() }),
  },
  responses: { 101: { description: "Switching protocols" }, ...errorResponses(400, 401, 403, 404) },
});

realtimeRoutes.openapi(conversationSocket, async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw validationError("upgrade", "this endpoint expects a WebSocket upgrade");
  }
  // The conversation's object decides who may open it, and answers a refusal in the error envelope.
  const { stub, actor } = conversationOf(c.env, c.get("identity"), c.req.valid("param").id);
  const headers = new Headers(c.req.raw.headers);
  headers.set("x-chat-actor", JSON.stringify(actor));
  const response = await stub.fetch(new Request(c.req.raw, { headers }));
  return response as unknown as Response & { status: 200 };
});

const inboxSocket = createRoute({
  method: "get",
  path: "/ws",
  tags: ["realtime"],
  summary: "Open the user's inbox socket: notifications, unread totals, presence, friend requests, new conversations",
  description: "Authenticate like the conversation socket. Frames are described in the README.",
  middleware: [limitPerIp("connects"), requireSocketAuth] as const,
  request: { query: z.object({ token: z.string().optional(), ticket: z.string().optional() }) },
  responses: { 101: { description: "Switching protocols" }, ...errorResponses(400, 401, 429) },
});

realtimeRoutes.openapi(inboxSocket, async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw validationError("upgrade", "this endpoint expects a WebSocket upgrade");
  }
  const identity = c.get("identity");
  const headers = new Headers(c.req.raw.headers);
  headers.set("x-chat-actor", JSON.stringify(actorOf(identity)));
  const response = await inboxStub(c.env, identity.id).fetch(new Request(c.req.raw, { headers }));
  return response as unknown as Response & { status: 200 };
});
