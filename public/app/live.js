// The open conversation's socket (SDK ConversationSocket): every frame applied to the chat view.
import { keyValueOutboxStorage } from "/sdk/index.js";
import { describeError, toast } from "./dom.js";

/** Opens the conversation's socket after the newest message already shown, with a persistent outbox. */
export function connect(view, s) {
  const { app } = view;
  const socket = app.client.conversationSocket(s.id, {
    afterSeq: s.sorted.at(-1)?.seq ?? 0,
    outboxStorage: keyValueOutboxStorage(localStorage, `edge-chat.outbox.${app.me.id}.${s.id}`),
  });
  const live = (fn) => (payload) => view.s === s && fn(payload);
  socket.on("state", live((state) => view.renderStatus(state)));
  socket.on("hello", live(({ participants, typing }) => {
    for (const p of participants) if (p.id !== view.app.me.id) view.app.setPresence(p.id, p.online);
    for (const id of typing) view.setTyping(s, id, true);
  }));
  socket.on("message", live((m) => view.incoming(s, m)));
  socket.on("message.updated", live((m) => view.update(s, m)));
  socket.on("offer.updated", live(({ offer }) => {
    const m = s.messages.get(offer.message_id);
    if (m) view.update(s, { ...m, data: { ...m.data, status: offer.status } });
  }));
  socket.on("reaction.updated", live(({ message_id, reactions }) => view.setReactions(s, message_id, reactions)));
  socket.on("typing", live(({ user_id, is_typing }) => view.setTyping(s, user_id, is_typing)));
  socket.on("read", live(({ user_id, up_to_seq }) => view.horizon(s, user_id, up_to_seq, up_to_seq)));
  socket.on("delivered", live(({ user_id, up_to_seq }) => view.horizon(s, user_id, up_to_seq, 0)));
  socket.on("presence", live(({ user_id, online }) => view.app.setPresence(user_id, online)));
  socket.on("synced", live(() => view.markReadSoon()));
  socket.on("outbox", live((items) => ((s.outbox = items), view.renderPending(s))));
  socket.on("send.failed", live(({ error }) => toast(`Not sent: ${describeError(error)}`, "error")));
  // Connection trouble shows in the status line; errors the server sent are worth a notice.
  const quiet = new Set(["AUTH_FAILED", "NETWORK_ERROR", "CONNECT_FAILED", "INVALID_TOKEN"]);
  socket.on("error", live((e) => !quiet.has(e.code) && toast(describeError(e), "error")));
  socket.on("closed", live(({ code }) => code === 4003 && toast("You are no longer a participant of this conversation.", "error")));
  return socket;
}
