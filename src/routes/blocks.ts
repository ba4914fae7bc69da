import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth, requireUser } from "../auth/middleware";
import { refreshDirectConversations } from "../conversation/access";
import { database } from "../db/client";
import { block, unblock } from "../db/social";
import { findUserById } from "../db/users";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError, validationError } from "../lib/errors";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import { BlockSchema, UserIdBodySchema } from "../schemas/social";

export const blockRoutes = createApp();
blockRoutes.use("*", requireAuth, requireUser);

const create = createRoute({
  method: "post",
  path: "/",
  tags: ["blocks"],
  summary: "Block a user: they can no longer start a conversation with you or message you, and no longer find you",
  security: bearerSecurity,
  request: { body: { content: { "application/json": { schema: UserIdBodySchema } }, required: true } },
  responses: { 201: jsonResponse(BlockSchema, "Blocked"), ...errorResponses(400, 401, 404) },
});

blockRoutes.openapi(create, async (c) => {
  const me = c.get("identity").id;
  const { user_id: target } = c.req.valid("json");
  const db = database(c.env.DB);
  if (target === me) throw validationError("user_id", "you cannot block yourself");
  if (!(await findUserById(db, target))) throw new AppError("USER_NOT_FOUND", "no such user");
  await block(db, me, target);
  await refreshDirectConversations(c.env, db, me, target);
  return c.json({ user_id: target, blocked: true as const }, 201);
});

const remove = createRoute({
  method: "delete",
  path: "/{user_id}",
  tags: ["blocks"],
  summary: "Unblock a user",
  security: bearerSecurity,
  request: { params: z.object({ user_id: IdSchema }) },
  responses: { 204: { description: "Unblocked" }, ...errorResponses(401, 404) },
});

blockRoutes.openapi(remove, async (c) => {
  const me = c.get("identity").id;
  const target = c.req.valid("param").user_id;
  const db = database(c.env.DB);
  if (!(await unblock(db, me, target))) throw new AppError("NOT_FOUND", "this user is not blocked");
  await refreshDirectConversations(c.env, db, me, target);
  return c.body(null, 204);
});
