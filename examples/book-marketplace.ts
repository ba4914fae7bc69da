// A second-hand book marketplace: one conversation per book between a reader and a seller (the
// book is the conversation's context), started with send-to-person by email; the seller's list is
// filtered by book; unread counts per chat. Guide: docs/guides/book-marketplace.md.
import type { ChatClient, SentToPerson } from "edge-chat/client";
import { check, eventually, login, run, RUN, step, within } from "./lib/app.ts";

/** POST /api/v1/messages: create-or-get the direct conversation about `book` with the seller, and send. */
function askAbout(client: ChatClient, sellerEmail: string, book: { id: string; title: string; price: number }, content: string, clientId: string): Promise<SentToPerson> {
  return client.sendToPerson({ to_email: sellerEmail, content, client_id: clientId, context: { type: "book", id: book.id, title: book.title, price: book.price, currency: "GBP" } });
}

run("book-marketplace", async () => {
  const reader = await login("Rita Reader");
  const seller = await login("Otto Bookshop");
  const dune = { id: `isbn-9780441013593-${RUN}`, title: "Dune", price: 6.5 };
  const emma = { id: `isbn-9780141439587-${RUN}`, title: "Emma", price: 4 };

  const inbox = seller.client.connect();
  await within("the seller's connection", inbox.next("hello"));
  const created = within("conversation.created", inbox.next("conversation.created"));

  step("Rita asks about Dune by the seller's email: a new conversation for that book");
  const aboutDune = await askAbout(reader.client, seller.user.email!, dune, "Is Dune the 1990 printing?", `dune-1-${RUN}`);
  check(aboutDune.created_conversation, "a new conversation");
  const { conversation } = await created;
  step(`seller's inbox: conversation.created "${conversation.context?.title}" (${conversation.context?.type} ${conversation.context?.id})`);

  step("…and about Emma: another conversation, because the context differs");
  const aboutEmma = await askAbout(reader.client, seller.user.email!, emma, "Any notes in the margins of Emma?", `emma-1-${RUN}`);
  check(aboutEmma.conversation_id !== aboutDune.conversation_id, "one conversation per book");

  step("a follow-up about Dune lands in the Dune conversation (create-or-get: 200, created_conversation false)");
  const again = await askAbout(reader.client, seller.user.email!, dune, "I could pick it up on Saturday.", `dune-2-${RUN}`);
  check(!again.created_conversation && again.conversation_id === aboutDune.conversation_id, "the same conversation");
  const retried = await askAbout(reader.client, seller.user.email!, dune, "I could pick it up on Saturday.", `dune-2-${RUN}`);
  check(retried.message.id === again.message.id, "a retried client_id returns the first message");

  step("the seller's chats about Dune only (GET /api/v1/conversations?context_type=book&context_id=…)");
  const { conversations } = await seller.client.listConversations({ context_type: "book", context_id: dune.id });
  check(conversations.length === 1 && conversations[0]!.id === aboutDune.conversation_id, "Dune's conversation");
  // Lists and unread totals are D1 mirrors written in batches: new messages show there within about a second.
  const unread = await within("the unread total", eventually(() => seller.client.unread(), (u) => u.unread_count === 3));
  step(`seller unread (GET /api/v1/unread): ${unread.unread_count} in ${unread.conversations.filter((c) => c.unread_count > 0).length} conversations`);

  step("the seller answers over the same socket and marks the Dune chat read");
  const duneChat = inbox.subscribe(aboutDune.conversation_id);
  await within("the subscription", duneChat.next("hello"));
  await duneChat.send("Yes, 1990 Ace printing. Saturday works.");
  const state = await seller.client.markRead(aboutDune.conversation_id);
  const history = await reader.client.listMessages(aboutDune.conversation_id);
  step(`seller read through #${state.last_read_seq}; Rita's Dune history: ${history.messages.map((m) => `#${m.seq} ${m.sender?.name}`).join(", ")}`);
  inbox.close();
});
