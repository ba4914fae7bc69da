// The open conversation: history (paged on scroll), its subscription on the one connection (messages, edits,
// reactions, offers, typing, presence), receipts (✓ sent, ✓✓ delivered, blue ✓✓ read).
import { ChatActions } from "./actions.js";
import { $, announce, dayKey, describeError, formatDay, h, swap, toast } from "./dom.js";
import { headerContent, typingLine } from "./header.js";
import { domId, renderMessage, renderPending, renderReactions, renderTicks, snippet } from "./messages.js";
import { Composer } from "./composer.js";
import { follow } from "./live.js";
import { Receipts } from "./receipts.js";

const PAGE = 30;

export class ChatView extends ChatActions {
  constructor(app) {
    super();
    this.app = app;
    this.s = null;
    this.section = $("#chat");
    this.emptyEl = $("#chat-empty");
    this.header = $("#chat-header-main");
    this.statusEl = $("#connection-status");
    this.scroller = $("#messages");
    this.listEl = $("#message-list");
    this.pendingEl = $("#pending-list");
    this.typingEl = $("#typing");
    this.olderBtn = $("#load-older");
    this.startEl = $("#history-start");
    this.composer = new Composer(app, this);
    this.olderBtn.addEventListener("click", () => this.loadOlder());
    this.scroller.addEventListener("scroll", () => {
      if (!this.s) return;
      this.s.stick = this.nearBottom();
      if (this.scroller.scrollTop < 80) void this.loadOlder();
    });
    // Images and audio change heights as they load: stay at the bottom if we were there.
    this.scroller.addEventListener("load", () => this.s?.stick && this.toBottom(), true);
    document.addEventListener("visibilitychange", () => this.markReadSoon());
  }

  get id() {
    return this.s?.id ?? null;
  }

  close() {
    const s = this.s;
    if (!s) return;
    s.live?.unsubscribe();
    for (const t of s.typing.values()) clearTimeout(t);
    this.composer.reset();
    this.renderStatus("open");
    this.typingEl.textContent = "";
    this.s = null;
    this.section.hidden = true;
    this.emptyEl.hidden = false;
  }

  async open(conv) {
    if (this.s?.id === conv.id) return;
    this.close();
    const app = this.app;
    const s = (this.s = {
      id: conv.id,
      conv,
      messages: new Map(),
      sorted: [],
      nodes: new Map(),
      dividers: new Map(),
      hasMore: false,
      loadingOlder: false,
      receipts: new Receipts(app.me.id, conv.participants.map((p) => p.id)),
      typing: new Map(),
      uploads: [],
      held: [],
      outbox: [],
      lastMarked: 0,
      stick: true,
      live: null,
    });
    s.ctx = {
      me: app.me,
      group: conv.type === "group",
      nameOf: (id) => app.nameOf(id),
      find: (id) => s.messages.get(id),
      productTitle: (id) => (conv.context?.id === id && conv.context.title) || `product ${id}`,
      statusOf: (seq) => s.receipts.statusOf(seq),
      src: (a) => app.client.attachmentUrl(a.id, { token: app.token }),
      onReply: (m) => this.composer.startReply(m),
      onEdit: (m) => this.composer.startEdit(m),
      onDelete: (m) => this.remove(m),
      onReact: (m, emoji, add) => this.react(m, emoji, add),
      onOffer: (m, action, amount) => this.respondToOffer(m, action, amount),
      onJump: (id) => this.jump(id),
    };
    this.listEl.replaceChildren();
    this.pendingEl.replaceChildren();
    this.typingEl.textContent = "";
    this.emptyEl.hidden = true;
    this.section.hidden = false;
    this.section.setAttribute("aria-busy", "true");
    this.renderHeader();
    this.renderHistoryEdge();
    this.composer.reset();

    let page;
    try {
      page = await app.client.listMessages(conv.id, { limit: PAGE });
    } catch (err) {
      toast(`Could not load messages: ${describeError(err)}`, "error");
      return;
    }
    if (this.s !== s) return;
    s.hasMore = page.has_more;
    s.loaded = true;
    this.add(s, page.messages);
    // The list's summary may lag behind the history (it is written off the send path).
    if (s.sorted.length) app.list.noteMessage(conv.id, s.sorted.at(-1));
    this.layout(s);
    this.renderHistoryEdge();
    this.toBottom();
    this.section.removeAttribute("aria-busy");

    s.live = follow(this, s);
    for (const fields of s.held.splice(0)) void s.live.send(fields).catch(() => {});
    if (s.hasMore && this.scroller.scrollHeight <= this.scroller.clientHeight) void this.loadOlder();
    this.markReadSoon();
  }

  // ── Messages ──

  add(s, messages) {
    // Receipts first, so that the nodes are drawn with the ticks the messages tell of.
    for (const m of messages) s.receipts.learn(m);
    for (const m of messages) {
      if (!s.messages.has(m.id)) s.sorted.push(m);
      else s.sorted[s.sorted.findIndex((x) => x.id === m.id)] = m;
      s.messages.set(m.id, m);
      s.nodes.set(m.id, renderMessage(m, s.ctx));
    }
    s.sorted.sort((a, b) => a.seq - b.seq);
  }

  incoming(s, m) {
    const stick = this.nearBottom() || m.sender_id === this.app.me.id;
    this.add(s, [m]);
    this.layout(s);
    this.updateTicks(s);
    if (s.sorted.length === 1) this.renderHistoryEdge();
    if (m.sender_id && m.sender_id !== this.app.me.id) {
      this.setTyping(s, m.sender_id, false);
      announce(`${this.app.nameOf(m.sender_id)}: ${snippet(m)}`);
    }
    this.app.list.noteMessage(s.id, m);
    if (stick) this.toBottom();
    this.markReadSoon();
  }

  update(s, m) {
    if (!s.messages.has(m.id)) return;
    this.add(s, [m]);
    swap(this.listEl.querySelector(`#${CSS.escape(domId(m))}`), s.nodes.get(m.id));
    for (const other of s.sorted) if (other.reply_to === m.id) this.rerender(s, other);
    const conv = this.app.list.get(s.id);
    if (conv?.last_message?.id === m.id) this.app.list.noteMessage(s.id, m);
  }

  rerender(s, m) {
    const node = renderMessage(m, s.ctx);
    swap(s.nodes.get(m.id), node);
    s.nodes.set(m.id, node);
  }

  setReactions(s, messageId, reactions) {
    const m = s.messages.get(messageId);
    if (!m) return;
    m.reactions = reactions;
    swap(s.nodes.get(m.id)?.querySelector(".reactions"), renderReactions(m, s.ctx));
  }

  /** Puts the nodes in seq order with day dividers, moving only what is out of place. */
  layout(s) {
    const wanted = [];
    let day = null;
    for (const m of s.sorted) {
      const key = dayKey(m.created_at);
      if (key !== day) {
        day = key;
        if (!s.dividers.has(key)) s.dividers.set(key, h("li", { class: "day", role: "separator" }, h("span", {}, formatDay(m.created_at))));
        wanted.push(s.dividers.get(key));
      }
      wanted.push(s.nodes.get(m.id));
    }
    wanted.forEach((node, i) => {
      const at = this.listEl.children[i];
      if (at !== node) this.listEl.insertBefore(node, at ?? null);
    });
    while (this.listEl.children.length > wanted.length) this.listEl.lastElementChild.remove();
  }

  renderPending(s) {
    const items = [...s.held, ...s.outbox, ...s.uploads].map((item) => ({ ...item, label: item.label ?? (item.content || "Attachment") }));
    const stick = this.nearBottom();
    this.pendingEl.replaceChildren(...items.map(renderPending));
    if (stick) this.toBottom();
  }

  async loadOlder() {
    const s = this.s;
    if (!s || !s.hasMore || s.loadingOlder || !s.sorted.length) return;
    s.loadingOlder = true;
    this.olderBtn.textContent = "Loading earlier messages…";
    try {
      const page = await this.app.client.listMessages(s.id, { before_seq: s.sorted[0].seq, limit: PAGE });
      if (this.s !== s) return;
      const height = this.scroller.scrollHeight;
      const top = this.scroller.scrollTop;
      const ids = new Set(page.messages.map((m) => m.id));
      this.add(s, page.messages);
      for (const m of s.sorted) if (m.reply_to && ids.has(m.reply_to) && !ids.has(m.id)) this.rerender(s, m);
      s.hasMore = page.has_more;
      this.layout(s);
      this.updateTicks(s);
      this.scroller.scrollTop = top + (this.scroller.scrollHeight - height);
    } catch (err) {
      toast(`Could not load earlier messages: ${describeError(err)}`, "error");
    } finally {
      s.loadingOlder = false;
      this.renderHistoryEdge();
    }
  }

  renderHistoryEdge() {
    const s = this.s;
    this.olderBtn.hidden = !s?.hasMore;
    this.olderBtn.textContent = "Load earlier messages";
    this.startEl.hidden = !s?.loaded || s.hasMore;
    this.startEl.textContent = s && !s.sorted.length ? "No messages yet — say hello!" : "This is the beginning of the conversation.";
  }

  jump(id) {
    const node = this.s?.nodes.get(id);
    if (!node) return;
    node.scrollIntoView({ block: "center", behavior: "smooth" });
    node.classList.add("flash");
    setTimeout(() => node.classList.remove("flash"), 1600);
  }

  // ── Receipts ──

  horizon(s, userId, delivered, read) {
    if (s.receipts.move(userId, delivered, read)) this.updateTicks(s);
  }

  updateTicks(s) {
    for (const m of s.sorted) {
      if (m.sender_id !== this.app.me.id || m.deleted_at) continue;
      const ticks = s.nodes.get(m.id)?.querySelector(".ticks");
      const status = s.receipts.statusOf(m.seq);
      if (ticks && ticks.dataset.status !== status) ticks.replaceWith(renderTicks(status));
    }
  }

  markReadSoon() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      const s = this.s;
      if (!s || document.visibilityState !== "visible") return;
      const newest = s.sorted.at(-1)?.seq ?? 0;
      if (newest <= s.lastMarked) return;
      s.lastMarked = newest;
      if (!s.live?.markRead(newest)) this.app.client.markRead(s.id, newest).catch(() => (s.lastMarked = 0));
      this.app.list.setUnread(s.id, 0);
    }, 200);
  }

  // ── Typing, presence, header ──

  setTyping(s, userId, on) {
    if (userId === this.app.me.id) return;
    clearTimeout(s.typing.get(userId));
    if (on) s.typing.set(userId, setTimeout(() => this.setTyping(s, userId, false), 7000));
    else s.typing.delete(userId);
    this.typingEl.replaceChildren(...typingLine([...s.typing.keys()].map((id) => this.app.nameOf(id))));
  }

  renderHeader() {
    if (this.s) this.header.replaceChildren(...headerContent(this.app, this.app.list.get(this.s.id) ?? this.s.conv));
  }

  /** The connection line: only when the connection is not open (a first connect gets a second's grace). */
  renderStatus(state) {
    const text = { connecting: "Connecting…", reconnecting: "Reconnecting… messages will be sent when back online", closed: "Disconnected" }[state];
    clearTimeout(this.statusTimer);
    if (!text) this.statusEl.hidden = true;
    else this.statusTimer = setTimeout(() => ((this.statusEl.textContent = text), (this.statusEl.hidden = false)), state === "connecting" ? 1000 : 0);
  }

  // ── Scrolling ──

  nearBottom() {
    const el = this.scroller;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 120;
  }

  toBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
