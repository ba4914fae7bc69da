// An app with its own sign-in: its auth server issues JWTs (here HS256 with JWT_SECRET; with
// JWT_JWKS_URL set, your identity provider's RS256/ES256 tokens work the same way), users appear
// from the token's claims, find each other by email, chat, edit and search. This one uses a
// conversation's own socket (ConversationSocket). Guide: docs/guides/jwt-app.md.
import { ChatClient } from "edge-chat/client";
import { BASE_URL, check, run, RUN, signToken, step, within } from "./lib/app.ts";

/** What your auth server does at sign-in: a short-lived token whose `sub` is your user id. */
const tokenFor = (id: string, email: string, name: string) => signToken(id, { email, name }, "15m");

run("jwt-app", async () => {
  const dana = { id: `dana-${RUN}`, email: `dana.${RUN}@corp.example`, name: "Dana Writer" };
  const eli = { id: `eli-${RUN}`, email: `eli.${RUN}@corp.example`, name: "Eli Reader" };
  // A function as the token: the SDK asks it again before each connect, so a refreshed token is used.
  const danaClient = new ChatClient({ baseUrl: BASE_URL, token: () => tokenFor(dana.id, dana.email, dana.name) });
  const eliClient = new ChatClient({ baseUrl: BASE_URL, token: await tokenFor(eli.id, eli.email, eli.name) });

  step("first requests provision both users from their claims (sub, email, name)");
  const me = await danaClient.me();
  await eliClient.me();
  check(me.id === dana.id && me.email === dana.email, "the user from the claims");

  step("Dana finds Eli by the start of his email (GET /api/v1/users/search?q=)");
  const { users } = await danaClient.searchUsers(eli.email.slice(0, 8));
  check(users.some((u) => u.id === eli.id), "Eli found");

  step("Dana starts a direct conversation by email and sends");
  const conversation = await danaClient.createConversation({ type: "direct", participant_emails: [eli.email] });
  const first = await danaClient.sendMessage(conversation.id, { content: "The quarterly report draft is ready", client_id: `draft-${RUN}` });

  step("Eli opens the conversation's own socket (GET /api/v1/conversations/{id}/ws with a one-use ticket)");
  const socket = eliClient.conversationSocket(conversation.id, { afterSeq: 0 });
  socket.on("message", (m) => console.log(`    [Eli sees] #${m.seq} ${m.sender?.name}: ${m.content}`));
  await within("Eli's replay", socket.next("synced"));
  const reply = await socket.send({ content: "Thanks, reading it now", reply_to: first.id });
  check(reply.reply_to === first.id, "a reply");

  step("Dana edits her message; Eli's socket gets message.updated");
  const updated = within("message.updated", socket.next("message.updated"));
  await danaClient.editMessage(conversation.id, first.id, "The quarterly report draft v2 is ready");
  const edited = await updated;
  check(edited.edited_at !== null, "edited_at set");
  step(`edited at ${edited.edited_at}: "${edited.content}"`);

  step("search: in the conversation (prefix of the last word) and across all of Eli's conversations");
  const inConversation = await eliClient.searchMessages(conversation.id, "quarterly rep");
  const everywhere = await eliClient.searchAllMessages("draft");
  check(inConversation.messages.length === 1 && everywhere.results.some((r) => r.conversation_id === conversation.id), "the edited message found");
  step(`found "${inConversation.messages[0]?.content}"; across conversations: ${everywhere.results.length} result(s)`);

  const page = await danaClient.listMessages(conversation.id, { limit: 50 });
  step(`history as Dana: ${page.messages.map((m) => `#${m.seq} ${m.status ?? "-"}`).join(", ")} (status on her own messages)`);
  socket.close();
});
