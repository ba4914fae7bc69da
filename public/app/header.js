// The chat header (who, presence, what the conversation is about) and the typing line.
import { avatar, h } from "./dom.js";

export function headerContent(app, conv) {
  const others = app.list.others(conv);
  const online = others.some((p) => app.presence.get(p.id));
  const context = app.list.contextOf(conv);
  return [
    avatar(others[0] ?? app.me, { online }),
    h(
      "div",
      { class: "chat-heading" },
      h("h2", { id: "chat-title", "data-testid": "chat-title" }, app.list.titleOf(conv)),
      h("p", { class: "chat-sub" }, h("span", { "data-testid": "chat-presence", "data-online": String(online) }, online ? "Online" : "Offline"), context ? ` · ${context}` : ""),
    ),
  ];
}

/** "Bob is typing…" with animated dots, or nothing. */
export function typingLine(names) {
  if (!names.length) return [];
  return [h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), `${names.join(" and ")} ${names.length > 1 ? "are" : "is"} typing…`];
}
