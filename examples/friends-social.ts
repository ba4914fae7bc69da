// A social app: friend requests, a friends-only direct chat (DM_POLICY=friends), the presence
// list, typing indicators and a block. Guide: docs/guides/friends-social.md.
import { check, login, refusal, run, step, within } from "./lib/app.ts";

run("friends-social", async () => {
  const ann = await login("Ann Social");
  const ben = await login("Ben Social");
  const cy = await login("Cy Stranger");

  const annLine = ann.client.connect();
  const benLine = ben.client.connect();
  await within("both connections", Promise.all([annLine.next("hello"), benLine.next("hello")]));

  step("Ann asks Ben to be friends; Ben's inbox hears friend.request and he accepts");
  const asked = within("friend.request", benLine.next("friend.request"));
  const request = await ann.client.sendFriendRequest(ben.user.id);
  await asked;
  await ben.client.acceptFriendRequest(request.id);
  const { friends } = await ann.client.friends();
  step(`Ann's friends: ${friends.map((f) => `${f.name} (${f.online ? "online" : "offline"})`).join(", ")}`);

  step("presence: who of Ann's contacts is online now (GET /api/v1/presence, GET /api/v1/friends/online)");
  const { users } = await ann.client.presence();
  const { online_friends } = await ann.client.onlineFriends();
  check(users.some((u) => u.id === ben.user.id && u.online) && online_friends.includes(ben.user.id), "Ben online");
  step(`online: ${users.map((u) => u.id).join(", ")}`);

  step("a direct chat between friends, over each one's single connection");
  const dm = await ann.client.createConversation({ type: "direct", participant_ids: [ben.user.id] });
  const annChat = annLine.subscribe(dm.id, { afterSeq: 0 });
  const benChat = benLine.subscribe(dm.id, { afterSeq: 0 });
  await within("both subscriptions", Promise.all([annChat.next("synced"), benChat.next("synced")]));
  const typing = within("Ann typing", benChat.next("typing", (t) => t.user_id === ann.user.id && t.is_typing));
  annChat.typing();
  await typing;
  step("Ben sees: Ann is typing…");
  const arrived = within("Ann's message", benChat.next("message"));
  await annChat.send("Movie tonight?");
  const message = await arrived;
  const read = within("Ben's read", annChat.next("read", (r) => r.user_id === ben.user.id));
  benChat.markRead(message.seq);
  await read;
  step(`Ben got "${message.content}" (seq ${message.seq}) and read it; Ann sees the read receipt`);

  step("a stranger tries to start a chat with Ann");
  const policy = await cy.client.createConversation({ type: "direct", participant_ids: [ann.user.id] }).then(
    () => "allowed (DM_POLICY=open)",
    (err: { code?: string }) => `refused with ${err.code} (DM_POLICY=friends)`,
  );
  step(`stranger's direct chat: ${policy}`);

  step("Ann blocks the stranger: no new chat, no message, not found in search");
  await ann.client.block(cy.user.id);
  const blocked = await refusal(cy.client.createConversation({ type: "direct", participant_ids: [ann.user.id], context: { type: "fresh", id: "x" } }));
  check(blocked.code === "BLOCKED" || blocked.code === "NOT_FRIENDS", "BLOCKED");
  const found = await cy.client.searchUsers("ann social");
  check(!found.users.some((u) => u.id === ann.user.id), "Ann hidden from the one she blocked");
  step(`stranger: ${blocked.status} ${blocked.code}; search finds ${found.users.length} Ann(s)`);

  step("Ben goes offline; Ann hears it once PRESENCE_GRACE_MS has passed");
  const offline = within("Ben offline", annLine.next("presence", (p) => p.user_id === ben.user.id && !p.online), 15_000);
  benLine.close();
  const gone = await offline;
  step(`presence: Ben offline, last seen ${gone.last_seen}`);
  annLine.close();
});
