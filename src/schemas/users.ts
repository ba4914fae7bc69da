import { z } from "@hono/zod-openapi";
import { HttpUrl, IdSchema, IsoTime } from "./common";

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string().nullable(),
    name: z.string(),
    avatar_url: z.string().nullable(),
    created_at: IsoTime,
  })
  .openapi("User");
export type User = z.infer<typeof UserSchema>;

const Name = z.string().trim().min(1).max(100);
const AvatarUrl = HttpUrl;
const Email = z.email().max(254).transform((e) => e.toLowerCase());

/** The longest token the app's backend may mint for a user: 30 days. */
export const MAX_MINTED_TOKEN_SECONDS = 30 * 24 * 3600;

export const LoginBodySchema = z
  .strictObject({
    email: Email,
    name: Name.optional(),
    avatar_url: AvatarUrl.optional(),
  })
  .openapi("LoginBody");

/** A form-encoded login has the same fields; an HTML form may post others too, which are ignored (only JSON bodies are held to their fields). */
export const LoginFormSchema = z.object(LoginBodySchema.shape);

export const LoginResponseSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal("bearer"),
    expires_in: z.number().int(),
    user: UserSchema,
  })
  .openapi("LoginResponse");

/** The app's backend keeps its users' profiles here under its own ids (the `sub` of their tokens). */
export const UpsertUserBodySchema = z
  .strictObject({ email: Email.optional(), name: Name, avatar_url: AvatarUrl.nullable().optional() })
  .openapi("UpsertUserBody");

export const MintTokenBodySchema = z
  .strictObject({
    user_id: IdSchema,
    expires_in: z.number().int().min(60).max(MAX_MINTED_TOKEN_SECONDS).optional().openapi({ description: "Seconds; TOKEN_TTL_SECONDS when absent, at most 30 days" }),
  })
  .openapi("MintTokenBody");

export const WsTicketResponseSchema = z
  .object({ ticket: z.string(), expires_in: z.number().int() })
  .openapi("WsTicket");

export const PatchMeBodySchema = z
  .object({ name: Name.optional(), avatar_url: AvatarUrl.nullable().optional() })
  .strict()
  .openapi("PatchMeBody");

export const UserSearchQuerySchema = z.object({
  q: z.string().trim().min(1).max(254),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});

export const UserListSchema = z.object({ users: z.array(UserSchema) }).openapi("UserList");
