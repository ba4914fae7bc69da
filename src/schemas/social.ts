import { z } from "@hono/zod-openapi";
import { IdSchema, IsoTime } from "./common";
import { UserSchema } from "./users";

export const UserIdBodySchema = z.strictObject({ user_id: IdSchema }).openapi("UserIdBody");

export const FriendRequestSchema = z
  .object({
    id: z.string(),
    from_user_id: z.string(),
    to_user_id: z.string(),
    status: z.enum(["pending", "accepted", "declined"]),
    created_at: IsoTime,
    from_user: UserSchema.optional(),
    to_user: UserSchema.optional(),
  })
  .openapi("FriendRequest");
export type FriendRequest = z.infer<typeof FriendRequestSchema>;

export const FriendRequestListSchema = z
  .object({ incoming: z.array(FriendRequestSchema), outgoing: z.array(FriendRequestSchema) })
  .openapi("FriendRequests");

export const FriendSchema = UserSchema.extend({ online: z.boolean(), last_seen: IsoTime.nullable(), friends_since: IsoTime }).openapi("Friend");

export const FriendListSchema = z.object({ friends: z.array(FriendSchema) }).openapi("FriendList");
export const OnlineFriendsSchema = z.object({ online_friends: z.array(z.string()) }).openapi("OnlineFriends");

export const BlockSchema = z.object({ user_id: z.string(), blocked: z.literal(true) }).openapi("Block");

/** `GET /presence` without user_ids lists the caller's online contacts, at most this many. */
export const ONLINE_CONTACTS_LISTED = 1000;

export const PresenceQuerySchema = z.object({
  user_ids: z
    .string()
    .max(5000)
    .transform((s) => [...new Set(s.split(",").map((id) => id.trim()).filter(Boolean))])
    .refine((ids) => ids.length > 0 && ids.length <= 100, { message: "give 1 to 100 comma-separated user ids" })
    .optional()
    .openapi({ description: `Comma-separated ids (1 to 100); without it, every contact who is online now (at most ${ONLINE_CONTACTS_LISTED})` }),
});

export const PresenceListSchema = z
  .object({ users: z.array(z.object({ id: z.string(), online: z.boolean(), last_seen: IsoTime.nullable() })) })
  .openapi("PresenceList");
