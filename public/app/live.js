// The open conversation, followed over the page's one connection (SDK ConversationSubscription):
// every event applied to the chat view.
import { keyValueOutboxStorage } from "/sdk/index.js";
import { describeError, toast } from "./dom.js";

/** Subscribes to the conversation after the newest message already shown, with a persistent outbox. */
export function follow(view, s) {
  const { app } = view;
  const subscription = app.connection.subscribe(s.id, {
    afterSeq: s.sorted.at(-1)?.seq ?? 0,
    outboxStorage: keyValueOutboxStorage(localStorage, `edge-chat.outbox.${app.me.id}.${s.id}`),
  });
  const live = (fn) => (payload) => view.s === s && fn(payload);
  view.renderStatus(app.connection.state);
  subscription.on("state", live((state) => view.renderStatus(state)));
  // The conversation tells who is in it now (a socket or a subscription there): that is someone
  // online; someone not in it may still be online elsewhere, which the inbox's presence says.
  subscription.on("hello", live(({ participants, typing }) => {
    for (const p of participants) if (p.online && p.id !== view.app.me.id) view.app.setPresence(p.id, true);
    for (const id of typing) view.setTyping(s, id, true);
  }));
  subscription.on("message", live((m) => view.incoming(s, m)));
  subscription.on("message.updated", live((m) => view.update(s, m)));
  subscription.on("offer.updated", live(({ offer }) => {
    const m = s.messages.get(offer.message_id);
    if (m) view.update(s, { ...m, data: { ...m.data, status: offer.status } });
  }));
  subscription.on("reaction.updated", live(({ message_id, reactions }) => view.setReactions(s, message_id, reactions)));
  subscription.on("typing", live(({ user_id, is_typing }) => view.setTyping(s, user_id, is_typing)));
  subscription.on("read", live(({ user_id, up_to_seq }) => view.horizon(s, user_id, up_to_seq, up_to_seq)));
  subscription.on("delivered", live(({ user_id, up_to_seq }) => view.horizon(s, user_id, up_to_seq, 0)));
  subscription.on("presence", live(({ user_id, online }) => online && view.app.setPresence(user_id, true)));
  subscription.on("synced", live(() => view.markReadSoon()));
  subscription.on("outbox", live((items) => ((s.outbox = items), view.renderPending(s))));
  subscription.on("send.failed", live(({ error }) => toast(`Not sent: ${describeError(error)}`, "error")));
  // Connection trouble shows in the status line; errors the server sent are worth a notice.
  const quiet = new Set(["AUTH_FAILED", "NETWORK_ERROR", "CONNECT_FAILED", "INVALID_TOKEN"]);
  subscription.on("error", live((e) => !quiet.has(e.code) && toast(describeError(e), "error")));
  subscription.on("unsubscribed", live(({ reason }) => reason !== "requested" && toast("You are no longer a participant of this conversation.", "error")));
  return subscription;
}
