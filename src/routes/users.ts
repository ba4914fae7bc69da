import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { database } from "../db/client";
import { findUserById, searchUsers, updateUser, type UserRow } from "../db/users";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError } from "../lib/errors";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import { PatchMeBodySchema, UserListSchema, UserSchema, UserSearchQuerySchema, type User } from "../schemas/users";

export function toUser(row: Pick<UserRow, "id" | "email" | "name" | "avatarUrl" | "createdAt">): User {
  return { id: row.id, email: row.email, name: row.name, avatar_url: row.avatarUrl, created_at: row.createdAt };
}

export const userRoutes = createApp();
userRoutes.use("*", requireAuth);

const getMe = createRoute({
  method: "get",
  path: "/me",
  tags: ["users"],
  summary: "The authenticated user",
  security: bearerSecurity,
  responses: { 200: jsonResponse(UserSchema, "The user"), ...errorResponses(401, 404) },
});

userRoutes.openapi(getMe, async (c) => {
  const row = await findUserById(database(c.env.DB), c.get("identity").id);
  if (!row) throw new AppError("USER_NOT_FOUND", "user not found");
  return c.json(toUser(row), 200);
});

const patchMe = createRoute({
  method: "patch",
  path: "/me",
  tags: ["users"],
  summary: "Change the authenticated user's name or avatar",
  security: bearerSecurity,
  request: { body: { content: { "application/json": { schema: PatchMeBodySchema } }, required: true } },
  responses: { 200: jsonResponse(UserSchema, "The updated user"), ...errorResponses(400, 401) },
});

userRoutes.openapi(patchMe, async (c) => {
  const body = c.req.valid("json");
  const row = await updateUser(database(c.env.DB), c.get("identity").id, { name: body.name, avatarUrl: body.avatar_url });
  if (!row) throw new AppError("USER_NOT_FOUND", "user not found");
  return c.json(toUser(row), 200);
});

const search = createRoute({
  method: "get",
  path: "/search",
  tags: ["users"],
  summary: "Find users by name or email prefix (the caller excluded)",
  security: bearerSecurity,
  request: { query: UserSearchQuerySchema },
  responses: { 200: jsonResponse(UserListSchema, "Matching users"), ...errorResponses(400, 401) },
});

userRoutes.openapi(search, async (c) => {
  const { q, limit } = c.req.valid("query");
  const rows = await searchUsers(database(c.env.DB), q, c.get("identity").id, limit);
  return c.json({ users: rows.map(toUser) }, 200);
});

const getUser = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["users"],
  summary: "A user by id",
  security: bearerSecurity,
  request: { params: z.object({ id: IdSchema }) },
  responses: { 200: jsonResponse(UserSchema, "The user"), ...errorResponses(401, 404) },
});

userRoutes.openapi(getUser, async (c) => {
  const row = await findUserById(database(c.env.DB), c.req.valid("param").id);
  if (!row) throw new AppError("USER_NOT_FOUND", "user not found");
  return c.json(toUser(row), 200);
});
