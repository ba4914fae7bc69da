import { z } from "@hono/zod-openapi";
import { HttpUrl, IsoTime } from "./common";

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

export const LoginBodySchema = z
  .strictObject({
    email: z.email().max(254).transform((e) => e.toLowerCase()),
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
