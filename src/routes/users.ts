import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth, requireService, requireUser } from "../auth/middleware";
import { spreadProfile } from "../conversation/profiles";
import { database } from "../db/client";
import { findUserById, searchUsers, updateUser, upsertUserById, type UserRow } from "../db/users";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError, validationError } from "../lib/errors";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import { PatchMeBodySchema, UpsertUserBodySchema, UserListSchema, UserSchema, UserSearchQuerySchema, type User } from "../schemas/users";

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
  middleware: [requireUser] as const,
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
  middleware: [requireUser] as const,
  request: { body: { content: { "application/json": { schema: PatchMeBodySchema } }, required: true } },
  responses: { 200: jsonResponse(UserSchema, "The updated user"), ...errorResponses(400, 401) },
});

userRoutes.openapi(patchMe, async (c) => {
  const body = c.req.valid("json");
  const row = await updateUser(database(c.env.DB), c.get("identity").id, { name: body.name, avatarUrl: body.avatar_url });
  if (!row) throw new AppError("USER_NOT_FOUND", "user not found");
  spreadProfile(c.env, c.executionCtx, row);
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

const upsertUser = createRoute({
  method: "put",
  path: "/{id}",
  tags: ["service"],
  summary: "The app's backend creates or updates a user under the app's own id (the `sub` of that user's tokens)",
  security: bearerSecurity,
  middleware: [requireService] as const,
  request: { params: z.object({ id: IdSchema }), body: { content: { "application/json": { schema: UpsertUserBodySchema } }, required: true } },
  responses: {
    201: jsonResponse(UserSchema, "Created"),
    200: jsonResponse(UserSchema, "Updated"),
    ...errorResponses(400, 401, 403),
  },
});

userRoutes.openapi(upsertUser, async (c) => {
  const body = c.req.valid("json");
  const result = await upsertUserById(database(c.env.DB), c.req.valid("param").id, { email: body.email, name: body.name, avatarUrl: body.avatar_url });
  if ("emailTaken" in result) throw validationError("email", "belongs to another user");
  if (!result.created) spreadProfile(c.env, c.executionCtx, result.row);
  return c.json(toUser(result.row), result.created ? 201 : 200);
});
