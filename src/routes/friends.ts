import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth, requireUser } from "../auth/middleware";
import { refreshDirectConversations } from "../conversation/access";
import { database, type Db } from "../db/client";
import {
  acceptRequest,
  areFriends,
  createRequest,
  declineRequest,
  findRequest,
  findRequestBetween,
  hasBlocked,
  listFriends,
  listRequests,
  removeFriendship,
  type FriendRequestRow,
} from "../db/social";
import { findUserById, findUsersByIds } from "../db/users";
import { bearerSecurity, createApp } from "../lib/app";
import { AppError, validationError } from "../lib/errors";
import { newId } from "../lib/ids";
import { errorResponses, IdSchema, jsonResponse } from "../schemas/common";
import { FriendListSchema, FriendRequestListSchema, FriendRequestSchema, OnlineFriendsSchema, UserIdBodySchema, type FriendRequest } from "../schemas/social";
import { pushToInboxes } from "../user/inbox";
import { toUser } from "./users";

export const friendRoutes = createApp();
friendRoutes.use("*", requireAuth, requireUser);

async function toRequest(db: Db, row: FriendRequestRow, status: FriendRequest["status"] = row.status): Promise<FriendRequest> {
  const people = await findUsersByIds(db, [row.fromUserId, row.toUserId]);
  const from = people.find((u) => u.id === row.fromUserId);
  const to = people.find((u) => u.id === row.toUserId);
  return {
    id: row.id,
    from_user_id: row.fromUserId,
    to_user_id: row.toUserId,
    status,
    created_at: row.createdAt,
    ...(from && { from_user: toUser(from) }),
    ...(to && { to_user: toUser(to) }),
  };
}

const send = createRoute({
  method: "post",
  path: "/requests",
  tags: ["friends"],
  summary: "Send a friend request (a pending request from them is accepted instead)",
  security: bearerSecurity,
  request: { body: { content: { "application/json": { schema: UserIdBodySchema } }, required: true } },
  responses: {
    201: jsonResponse(FriendRequestSchema, "Request sent"),
    200: jsonResponse(FriendRequestSchema, "They had asked you already: now friends"),
    ...errorResponses(400, 401, 403, 404),
  },
});

friendRoutes.openapi(send, async (c) => {
  const me = c.get("identity").id;
  const { user_id: target } = c.req.valid("json");
  const db = database(c.env.DB);
  if (target === me) throw validationError("user_id", "you cannot befriend yourself");
  if (!(await findUserById(db, target))) throw new AppError("USER_NOT_FOUND", "no such user");
  if (await hasBlocked(db, target, me)) throw new AppError("BLOCKED", "this user does not accept requests from you");
  if (await areFriends(db, me, target)) throw validationError("user_id", "you are already friends");
  const theirs = await findRequestBetween(db, target, me);
  if (theirs?.status === "pending") {
    await acceptRequest(db, theirs);
    await refreshDirectConversations(c.env, db, me, target);
    const accepted = await toRequest(db, theirs, "accepted");
    c.executionCtx.waitUntil(pushToInboxes(c.env, [target], { type: "friend.request", request: accepted }));
    return c.json(accepted, 200);
  }
  const mine = await findRequestBetween(db, me, target);
  if (mine?.status === "pending") throw validationError("user_id", "a request to this user is already pending");
  const request = await toRequest(db, await createRequest(db, newId("frq"), me, target));
  c.executionCtx.waitUntil(pushToInboxes(c.env, [target], { type: "friend.request", request }));
  return c.json(request, 201);
});

const list = createRoute({
  method: "get",
  path: "/requests",
  tags: ["friends"],
  summary: "Pending friend requests, incoming and outgoing",
  security: bearerSecurity,
  responses: { 200: jsonResponse(FriendRequestListSchema, "Requests"), ...errorResponses(401) },
});

friendRoutes.openapi(list, async (c) => {
  const db = database(c.env.DB);
  const { incoming, outgoing } = await listRequests(db, c.get("identity").id);
  return c.json({ incoming: await Promise.all(incoming.map((r) => toRequest(db, r))), outgoing: await Promise.all(outgoing.map((r) => toRequest(db, r))) }, 200);
});

for (const action of ["accept", "decline"] as const) {
  const route = createRoute({
    method: "post",
    path: `/requests/{id}/${action}`,
    tags: ["friends"],
    summary: action === "accept" ? "Accept a request made to you" : "Decline a request made to you",
    security: bearerSecurity,
    request: { params: z.object({ id: IdSchema }) },
    responses: { 200: jsonResponse(FriendRequestSchema, "The request"), ...errorResponses(400, 401, 403, 404) },
  });
  friendRoutes.openapi(route, async (c) => {
    const me = c.get("identity").id;
    const db = database(c.env.DB);
    const request = await findRequest(db, c.req.valid("param").id);
    if (!request || (request.toUserId !== me && request.fromUserId !== me)) throw new AppError("NOT_FOUND", "no such friend request");
    if (request.toUserId !== me) throw new AppError("FORBIDDEN", `only the person asked may ${action} a request`);
    if (request.status !== "pending") throw validationError("id", `the request was already ${request.status}`);
    if (action === "decline") {
      await declineRequest(db, request.id);
      return c.json(await toRequest(db, request, "declined"), 200);
    }
    await acceptRequest(db, request);
    await refreshDirectConversations(c.env, db, me, request.fromUserId);
    const accepted = await toRequest(db, request, "accepted");
    c.executionCtx.waitUntil(pushToInboxes(c.env, [request.fromUserId], { type: "friend.request", request: accepted }));
    return c.json(accepted, 200);
  });
}

const friends = createRoute({
  method: "get",
  path: "/",
  tags: ["friends"],
  summary: "Friends with their presence",
  security: bearerSecurity,
  responses: { 200: jsonResponse(FriendListSchema, "Friends"), ...errorResponses(401) },
});

friendRoutes.openapi(friends, async (c) => {
  const rows = await listFriends(database(c.env.DB), c.get("identity").id);
  return c.json(
    {
      friends: rows.map((r) => ({
        id: r.id,
        email: r.email,
        name: r.name,
        avatar_url: r.avatarUrl,
        created_at: r.createdAt,
        online: r.online,
        last_seen: r.lastSeenAt,
        friends_since: r.since,
      })),
    },
    200,
  );
});

const online = createRoute({
  method: "get",
  path: "/online",
  tags: ["friends"],
  summary: "Ids of friends online now",
  security: bearerSecurity,
  responses: { 200: jsonResponse(OnlineFriendsSchema, "Online friends"), ...errorResponses(401) },
});

friendRoutes.openapi(online, async (c) => {
  const rows = await listFriends(database(c.env.DB), c.get("identity").id, true);
  return c.json({ online_friends: rows.map((r) => r.id) }, 200);
});

const unfriend = createRoute({
  method: "delete",
  path: "/{user_id}",
  tags: ["friends"],
  summary: "Remove a friend",
  security: bearerSecurity,
  request: { params: z.object({ user_id: IdSchema }) },
  responses: { 204: { description: "Removed" }, ...errorResponses(401, 404) },
});

friendRoutes.openapi(unfriend, async (c) => {
  const me = c.get("identity").id;
  const other = c.req.valid("param").user_id;
  const db = database(c.env.DB);
  if (!(await removeFriendship(db, me, other))) throw new AppError("NOT_FOUND", "not a friend");
  await refreshDirectConversations(c.env, db, me, other);
  return c.body(null, 204);
});
