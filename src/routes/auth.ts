import { createRoute } from "@hono/zod-openapi";
import { issueTicket, TICKET_TTL_SECONDS } from "../auth/tickets";
import { issueToken, signingKey } from "../auth/tokens";
import { requireAuth, requireService, requireUser } from "../auth/middleware";
import { spreadProfile } from "../conversation/profiles";
import { database } from "../db/client";
import { findUserById, upsertUserByEmail } from "../db/users";
import { bearerSecurity, createApp } from "../lib/app";
import { limitPerIp } from "../limits/per-ip";
import { readConfig } from "../lib/config";
import { AppError, fromZodIssues } from "../lib/errors";
import { errorResponses, jsonResponse } from "../schemas/common";
import { LoginBodySchema, LoginFormSchema, LoginResponseSchema, MintTokenBodySchema, WsTicketResponseSchema } from "../schemas/users";
import { toUser } from "./users";

export const authRoutes = createApp();

const login = createRoute({
  method: "post",
  path: "/login",
  tags: ["auth"],
  summary: "Development login: find or create the user by email and return a token",
  description: "On under `wrangler dev` (`DEV_LOGIN=true`), off in production. Accepts JSON or form-encoded bodies.",
  request: {
    body: {
      content: {
        "application/json": { schema: LoginBodySchema },
        "application/x-www-form-urlencoded": { schema: LoginFormSchema },
      },
      required: false,
    },
  },
  middleware: [limitPerIp("logins")] as const,
  responses: { 200: jsonResponse(LoginResponseSchema, "A bearer token and the user"), ...errorResponses(400, 404, 429) },
});

authRoutes.openapi(login, async (c) => {
  if (!readConfig(c.env).devLogin) throw new AppError("NOT_FOUND", "development login is disabled");
  signingKey(c.env); // refuse before creating anyone when no usable key is configured
  // Each encoding is validated by its own validator when it arrives; a body of neither kind
  // reaches here unvalidated as {} and fails the same schema below.
  const isForm = /form/i.test(c.req.header("content-type") ?? "");
  const parsed = isForm ? LoginFormSchema.safeParse(c.req.valid("form")) : LoginBodySchema.safeParse(c.req.valid("json"));
  if (!parsed.success) throw fromZodIssues(parsed.error.issues);
  const user = await upsertUserByEmail(database(c.env.DB), {
    email: parsed.data.email,
    name: parsed.data.name,
    avatarUrl: parsed.data.avatar_url,
  });
  // A login that names the user may rename them: their conversations learn it.
  if (parsed.data.name !== undefined || parsed.data.avatar_url !== undefined) spreadProfile(c.env, c.executionCtx, user);
  const { token, expiresIn } = await issueToken(c.env, user);
  return c.json({ access_token: token, token_type: "bearer" as const, expires_in: expiresIn, user: toUser(user) }, 200);
});

const wsTicket = createRoute({
  method: "post",
  path: "/ws-ticket",
  tags: ["auth"],
  summary: "A one-use ticket (30 s) for opening a WebSocket as `?ticket=`",
  security: bearerSecurity,
  middleware: [limitPerIp("tickets"), requireAuth, requireUser] as const,
  responses: { 200: jsonResponse(WsTicketResponseSchema, "The ticket"), ...errorResponses(401, 429) },
});

authRoutes.openapi(wsTicket, async (c) => {
  const ticket = await issueTicket(c.env, c.get("identity"));
  return c.json({ ticket, expires_in: TICKET_TTL_SECONDS }, 200);
});

const mintToken = createRoute({
  method: "post",
  path: "/token",
  tags: ["service"],
  summary: "The app's backend mints a token for one of its users (apps with session cookies and no identity provider)",
  security: bearerSecurity,
  middleware: [requireAuth, requireService] as const,
  request: { body: { content: { "application/json": { schema: MintTokenBodySchema } }, required: true } },
  responses: { 201: jsonResponse(LoginResponseSchema, "A bearer token for the user"), ...errorResponses(400, 401, 403, 404) },
});

authRoutes.openapi(mintToken, async (c) => {
  const body = c.req.valid("json");
  const user = await findUserById(database(c.env.DB), body.user_id);
  if (!user) throw new AppError("USER_NOT_FOUND", "no user with this id (create it with PUT /api/v1/users/{id})");
  const { token, expiresIn } = await issueToken(c.env, user, { expiresIn: body.expires_in });
  return c.json({ access_token: token, token_type: "bearer" as const, expires_in: expiresIn, user: toUser(user) }, 201);
});
