// The sidebar: conversation list (unread badges, presence, last message), the "new
// conversation" form, and the inbox socket that keeps both current.
import { $, announce, avatar, describeError, formatWhen, h, toast } from "./dom.js";
import { snippet } from "./messages.js";

export class ConversationList {
  constructor(app) {
    this.app = app;
    this.items = new Map();
    this.listEl = $("#conversation-list");
    this.emptyEl = $("#conversation-empty");
    this.loading = null;
    this.bindForm();
  }

  /** The other participants of a conversation. */
  others(conv) {
    return conv.participants.filter((p) => p.id !== this.app.me.id);
  }

  titleOf(conv) {
    if (conv.title) return conv.title;
    const names = this.others(conv).map((p) => p.name);
    return names.length ? names.join(", ") : "Just you";
  }

  contextOf(conv) {
    const c = conv.context;
    if (!c) return "";
    return `${c.type.charAt(0).toUpperCase()}${c.type.slice(1)}: ${c.title || c.id}`;
  }

  /** Who and what about, in one line: "Dan · Product: Blue bike" (two chats with Dan differ by their context). */
  labelOf(conv) {
    return [this.titleOf(conv), this.contextOf(conv)].filter(Boolean).join(" · ");
  }

  async load() {
    this.loading ??= (async () => {
      try {
        const { conversations } = await this.app.client.listConversations({ limit: 100 });
        for (const conv of conversations) this.upsert(conv, false);
        this.render();
      } catch (err) {
        toast(`Could not load conversations: ${describeError(err)}`, "error");
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  upsert(conv, render = true) {
    const known = this.items.get(conv.id);
    this.items.set(conv.id, known ? { ...known, ...conv } : conv);
    for (const p of conv.participants) {
      this.app.people.set(p.id, p);
      if (!this.app.presence.has(p.id)) this.app.presence.set(p.id, p.online);
    }
    if (render) this.render();
  }

  get(id) {
    return this.items.get(id);
  }

  setUnread(id, count) {
    const conv = this.items.get(id);
    if (!conv) return void this.load();
    // The open conversation is read as messages arrive (the server's count follows a moment later).
    if (id === this.app.activeId && document.visibilityState === "visible") count = 0;
    if (conv.unread_count === count) return;
    conv.unread_count = count;
    this.render();
  }

  /** A message seen by this page (live in the open chat, or an inbox notification). */
  noteMessage(conversationId, message) {
    const conv = this.items.get(conversationId);
    if (!conv) return void this.load();
    if (conv.last_message && conv.last_message.seq > message.seq) return;
    conv.last_message = message;
    conv.last_message_at = message.created_at;
    this.render();
  }

  /** Applies inbox frames: unread counts, notifications, presence, new conversations. */
  bindInbox(inbox) {
    inbox.on("hello", ({ conversations }) => {
      for (const { id, unread_count } of conversations) this.setUnread(id, unread_count);
    });
    inbox.on("unread", ({ conversation_id, unread_count }) => this.setUnread(conversation_id, unread_count));
    inbox.on("notification.message", ({ conversation_id, message }) => {
      this.noteMessage(conversation_id, message);
      if (message.sender_id !== this.app.me.id) announce(`New message from ${this.app.nameOf(message.sender_id)}: ${snippet(message)}`);
    });
    inbox.on("presence", ({ user_id, online }) => this.app.setPresence(user_id, online));
    inbox.on("conversation.created", ({ conversation }) => {
      this.upsert(conversation);
      announce(`New conversation: ${this.labelOf(conversation)}`);
    });
  }

  render() {
    const sorted = [...this.items.values()].sort((a, b) => (b.last_message_at ?? b.created_at).localeCompare(a.last_message_at ?? a.created_at));
    this.emptyEl.hidden = sorted.length > 0;
    const focused = this.listEl.contains(document.activeElement) ? document.activeElement.dataset.conversationId : null;
    this.listEl.replaceChildren(...sorted.map((conv) => this.renderItem(conv)));
    if (focused) this.listEl.querySelector(`[data-conversation-id="${CSS.escape(focused)}"]`)?.focus();
    const total = sorted.reduce((n, c) => n + (c.unread_count || 0), 0);
    document.title = total > 0 ? `(${total}) edge-chat` : "edge-chat";
  }

  renderItem(conv) {
    const other = this.others(conv)[0];
    const online = this.others(conv).some((p) => this.app.presence.get(p.id));
    const title = this.titleOf(conv);
    const unread = conv.unread_count || 0;
    const active = conv.id === this.app.activeId;
    const last = conv.last_message;
    const preview = last ? `${last.sender_id === this.app.me.id ? "You: " : ""}${snippet(last)}` : "No messages yet";
    const context = this.contextOf(conv);
    return h(
      "li",
      {},
      h(
        "a",
        {
          href: `#/c/${conv.id}`,
          class: `conv${unread ? " has-unread" : ""}`,
          "aria-current": active ? "page" : null,
          "data-testid": "conversation-item",
          "data-conversation-id": conv.id,
          "data-title": this.labelOf(conv),
        },
        avatar(other ?? this.app.me, { online }),
        h(
          "span",
          { class: "conv-main" },
          h("span", { class: "conv-top" }, h("span", { class: "conv-title" }, title), h("span", { class: "conv-time" }, formatWhen(conv.last_message_at ?? conv.created_at))),
          context ? h("span", { class: "conv-context" }, context) : null,
          h(
            "span",
            { class: "conv-bottom" },
            h("span", { class: "conv-preview" }, preview),
            unread ? h("span", { class: "badge", "data-testid": "unread-badge" }, String(unread), h("span", { class: "sr-only" }, ` unread message${unread === 1 ? "" : "s"}`)) : null,
          ),
          h("span", { class: "sr-only" }, online ? ", online" : ", offline"),
        ),
      ),
    );
  }

  bindForm() {
    const form = $("#new-conversation-form");
    const toggle = $("#new-conversation-toggle");
    const error = $("#new-conversation-error");
    const setOpen = (open) => {
      form.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) form.elements.email.focus();
    };
    toggle.addEventListener("click", () => setOpen(form.hidden));
    form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        setOpen(false);
        toggle.focus();
      }
    });
    $("#new-conversation-cancel").addEventListener("click", () => setOpen(false));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      const email = form.elements.email.value.trim();
      const productId = form.elements.product_id.value.trim();
      const productTitle = form.elements.product_title.value.trim();
      if (email.toLowerCase() === this.app.me.email?.toLowerCase()) {
        error.textContent = "That is you — enter the other person's email.";
        return;
      }
      const body = { type: "direct", participant_emails: [email] };
      if (productId) body.context = { type: "product", id: productId, ...(productTitle && { title: productTitle }) };
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      try {
        const conv = await this.app.client.createConversation(body);
        this.upsert(conv);
        form.reset();
        setOpen(false);
        location.hash = `#/c/${conv.id}`;
      } catch (err) {
        error.textContent = describeError(err);
      } finally {
        submit.disabled = false;
      }
    });
  }
}
