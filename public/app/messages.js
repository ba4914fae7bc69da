// Rendering one message (text, image, file, voice, offer, events) as a list item, and the
// parts that change in place: receipt ticks and the reactions bar.
import { formatDuration, formatMoney, formatSize, formatTime, h, icon, linkify } from "./dom.js";
import { groupReactions, keysOf } from "./emoji.js";

export const EMOJIS = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

const RECEIPT_LABEL = { sending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read" };
const OFFER_STATUS = { pending: "Pending", accepted: "Accepted", rejected: "Declined", countered: "Countered", withdrawn: "Withdrawn" };

export const domId = (m) => `msg-${m.id}`;

/** A short one-line description of a message, for quotes, previews and announcements. */
export function snippet(m) {
  if (!m) return "Original message";
  if (m.deleted_at) return "Deleted message";
  const data = m.data ?? {};
  switch (m.type) {
    case "image":
      return m.content || "Photo";
    case "voice":
      return `Voice note${m.attachment?.duration ? ` (${formatDuration(m.attachment.duration)})` : ""}`;
    case "file":
      return m.content || m.attachment?.name || "File";
    case "offer":
      return `Offer: ${formatMoney(data.amount, data.currency)}`;
    default:
      return m.content ?? "";
  }
}

/**
 * ctx: { me, group, nameOf(id), find(id), productTitle(id), statusOf(seq), src(attachment), onReply(m), onEdit(m),
 * onDelete(m), onReact(m, emoji, add), onOffer(m, action, amount?), onJump(id) }
 */
export function renderMessage(m, ctx) {
  const base = { id: domId(m), "data-seq": m.seq, "data-type": m.type };
  if (m.type === "system") {
    return h("li", { ...base, class: "event", "data-testid": "system-message" }, h("span", { class: "event-text" }, m.content ?? ""));
  }
  if (m.type === "offer_response") {
    const who = m.sender_id === ctx.me.id ? "You" : ctx.nameOf(m.sender_id);
    const text = m.deleted_at ? "Deleted message" : m.content;
    return h("li", { ...base, class: "event", "data-testid": "offer-response" }, h("span", { class: "event-text" }, `${who}: ${text}`));
  }

  const mine = m.sender_id === ctx.me.id;
  const deleted = !!m.deleted_at;
  const bubble = h("div", { class: "bubble" });
  bubble.append(h("span", { class: "sr-only" }, mine ? "You said: " : `${ctx.nameOf(m.sender_id)} said: `));
  if (!mine && ctx.group) bubble.append(h("div", { class: "sender" }, ctx.nameOf(m.sender_id)));
  if (m.reply_to && !deleted) bubble.append(renderQuote(ctx.find(m.reply_to), ctx));
  if (deleted) bubble.append(h("p", { class: "text deleted" }, "This message was deleted"));
  else bubble.append(...renderBody(m, ctx, mine).filter(Boolean));

  const meta = h("div", { class: "meta" }, h("time", { datetime: m.created_at }, formatTime(m.created_at)));
  if (m.edited_at && !deleted) meta.append(h("span", { class: "edited", "data-testid": "edited" }, "edited"));
  if (mine) meta.append(renderTicks(ctx.statusOf(m.seq)));
  bubble.append(meta);

  const li = h("li", { ...base, class: `msg ${mine ? "mine" : "theirs"}${deleted ? " is-deleted" : ""}`, "data-testid": "message", "data-mine": String(mine) }, bubble);
  if (!deleted) {
    li.append(renderReactions(m, ctx));
    li.append(renderActions(m, ctx, mine));
  }
  return li;
}

/** A send still in the outbox (or an upload in progress): shown as mine, with a clock. */
export function renderPending(item) {
  const text = item.label ?? item.content;
  return h(
    "li",
    { class: "msg mine pending", "data-testid": "pending-message" },
    h(
      "div",
      { class: "bubble" },
      h("p", { class: "text" }, text),
      h("div", { class: "meta" }, h("span", { class: "ticks", "aria-label": "Sending", title: "Sending" }, icon("clock"))),
    ),
  );
}

function renderQuote(target, ctx) {
  const name = !target ? "" : target.sender_id === ctx.me.id ? "You" : ctx.nameOf(target.sender_id);
  return h(
    "button",
    { type: "button", class: "quote", "data-testid": "reply-quote", onclick: () => target && ctx.onJump(target.id), "aria-label": `Replying to ${name || "a message"}: ${snippet(target)}` },
    name ? h("strong", {}, name) : null,
    h("span", {}, snippet(target)),
  );
}

function renderBody(m, ctx, mine) {
  const a = m.attachment;
  const caption = m.content ? h("p", { class: "text" }, linkify(m.content)) : null;
  switch (m.type) {
    case "image":
      return [
        a
          ? h("a", { href: ctx.src(a), target: "_blank", rel: "noopener", class: "image-link" }, h("img", { src: ctx.src(a), alt: m.content || a.name || "Photo", loading: "lazy", "data-testid": "message-image" }))
          : null,
        caption,
      ];
    case "voice":
      return [
        h(
          "div",
          { class: "voice" },
          icon("mic"),
          a ? h("audio", { controls: true, preload: "metadata", src: ctx.src(a), "data-testid": "voice-note", "aria-label": `Voice note${a.duration ? `, ${formatDuration(a.duration)}` : ""}` }) : null,
          a?.duration ? h("span", { class: "duration" }, formatDuration(a.duration)) : null,
        ),
        caption,
      ];
    case "file":
      return [
        a ? h("a", { class: "file", href: ctx.src(a), download: a.name, "data-testid": "message-file" }, icon("file"), h("span", { class: "file-name" }, a.name), h("span", { class: "file-size" }, formatSize(a.size))) : null,
        caption,
      ];
    case "offer":
      return [renderOffer(m, ctx, mine)];
    default:
      return [h("p", { class: "text" }, linkify(m.content ?? ""))];
  }
}

function renderOffer(m, ctx, mine) {
  const d = m.data ?? {};
  const status = String(d.status ?? "pending");
  const card = h(
    "div",
    { class: "offer", "data-testid": "offer", "data-status": status },
    h(
      "div",
      { class: "offer-head" },
      icon("tag"),
      h("span", {}, d.counter_of ? "Counter-offer" : "Offer"),
      h("span", { class: `pill pill-${status}`, "data-testid": "offer-status" }, OFFER_STATUS[status] ?? status),
    ),
    h("div", { class: "offer-amount" }, formatMoney(d.amount, d.currency)),
    d.product_id ? h("div", { class: "offer-product" }, `For ${ctx.productTitle(d.product_id)}`) : null,
    m.content && !m.content.startsWith("Offer:") ? h("p", { class: "text" }, linkify(m.content)) : null,
  );
  if (status !== "pending") return card;
  const act = (action, amount) => ctx.onOffer(m, action, amount);
  if (mine) {
    card.append(h("div", { class: "offer-actions" }, h("button", { type: "button", class: "btn btn-small", onclick: () => act("withdraw"), "data-testid": "offer-withdraw" }, "Withdraw")));
    return card;
  }
  const amountId = `counter-${m.id}`;
  const counterForm = h(
    "form",
    { class: "counter-form", hidden: true, onsubmit: (e) => (e.preventDefault(), act("counter", Number(counterForm.elements.amount.value))) },
    h("label", { for: amountId }, `Your price (${d.currency ?? "USD"})`),
    h("input", { id: amountId, name: "amount", type: "number", min: "0.01", step: "0.01", required: true, inputmode: "decimal", "data-testid": "counter-amount" }),
    h("button", { type: "submit", class: "btn btn-small btn-primary", "data-testid": "counter-send" }, "Send counter"),
  );
  const actions = h(
    "div",
    { class: "offer-actions" },
    h("button", { type: "button", class: "btn btn-small btn-primary", onclick: () => act("accept"), "data-testid": "offer-accept" }, "Accept"),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        "data-testid": "offer-counter",
        "aria-expanded": "false",
        onclick: (e) => {
          counterForm.hidden = !counterForm.hidden;
          e.currentTarget.setAttribute("aria-expanded", String(!counterForm.hidden));
          if (!counterForm.hidden) counterForm.elements.amount.focus();
        },
      },
      "Counter",
    ),
    h("button", { type: "button", class: "btn btn-small btn-danger", onclick: () => act("reject"), "data-testid": "offer-reject" }, "Reject"),
  );
  card.append(actions, counterForm);
  return card;
}

export function renderTicks(status) {
  const label = RECEIPT_LABEL[status] ?? status;
  return h("span", { class: `ticks ticks-${status}`, "data-testid": "receipt", "data-status": status, role: "img", "aria-label": label, title: label }, icon(status === "sent" ? "check" : "checks"));
}

/** Adds your `emoji` reaction, or takes back every key of it you reacted with (`:heart:` and ❤️ are one). */
function toggleReaction(m, emoji, ctx) {
  const mine = keysOf(m, emoji, ctx.me.id);
  if (!mine.length) return ctx.onReact(m, emoji, true);
  for (const key of mine) ctx.onReact(m, key, false);
}

/** The reactions bar: one toggle chip per reaction with its count. */
export function renderReactions(m, ctx) {
  const bar = h("div", { class: "reactions", "data-testid": "reactions" });
  for (const { emoji, users } of groupReactions(m.reactions)) {
    const mineToo = users.includes(ctx.me.id);
    const who = users.map((id) => (id === ctx.me.id ? "you" : ctx.nameOf(id))).join(", ");
    bar.append(
      h(
        "button",
        { type: "button", class: "chip", "aria-pressed": String(mineToo), "data-testid": "reaction", "data-emoji": emoji, title: who, "aria-label": `${emoji} ${users.length}, from ${who}`, onclick: () => toggleReaction(m, emoji, ctx) },
        h("span", { "aria-hidden": "true" }, emoji),
        h("span", { class: "count", "aria-hidden": "true" }, String(users.length)),
      ),
    );
  }
  return bar;
}

function renderActions(m, ctx, mine) {
  const picker = h(
    "div",
    { class: "picker", hidden: true, role: "group", "aria-label": "Pick a reaction", onkeydown: (e) => e.key === "Escape" && (e.stopPropagation(), close(true)) },
    EMOJIS.map((emoji) =>
      h(
        "button",
        {
          type: "button",
          class: "picker-emoji",
          "aria-label": `React with ${emoji}`,
          "data-testid": "react-option",
          "data-emoji": emoji,
          onclick: () => {
            close(true);
            toggleReaction(m, emoji, ctx);
          },
        },
        emoji,
      ),
    ),
  );
  const toggle = h("button", { type: "button", class: "icon-btn", "aria-label": "Add reaction", "aria-expanded": "false", "data-testid": "react-button", onclick: () => (picker.hidden ? open() : close(false)) }, icon("smile"));
  function open() {
    picker.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    picker.querySelector("button")?.focus();
  }
  function close(refocus) {
    picker.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    if (refocus) toggle.focus();
  }
  const bar = h(
    "div",
    { class: "actions", role: "toolbar", "aria-label": "Message actions", onfocusout: (e) => !bar.contains(e.relatedTarget) && !picker.hidden && close(false) },
    toggle,
    h("button", { type: "button", class: "icon-btn", "aria-label": "Reply", "data-testid": "reply-button", onclick: () => ctx.onReply(m) }, icon("reply")),
  );
  if (mine) {
    if (["text", "product", "image", "file", "voice"].includes(m.type)) {
      bar.append(h("button", { type: "button", class: "icon-btn", "aria-label": "Edit", "data-testid": "edit-button", onclick: () => ctx.onEdit(m) }, icon("edit")));
    }
    bar.append(h("button", { type: "button", class: "icon-btn", "aria-label": "Delete", "data-testid": "delete-button", onclick: () => ctx.onDelete(m) }, icon("trash")));
  }
  bar.append(picker);
  return bar;
}
