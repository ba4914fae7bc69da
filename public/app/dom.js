// Small DOM and formatting helpers shared by the page's modules.

/** h("button", { class: "x", onclick }, "text", child) — attributes, listeners (on*), children. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "html") el.innerHTML = value; // trusted markup only (icons)
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

const WEB_ADDRESS = /\bhttps?:\/\/[^\s<>"]+/gi;
/** Punctuation that ends a sentence rather than the address ("see https://x.com/a."). */
const TRAILING = /[.,;:!?'"]+$|\)+$/;

/**
 * A message's text with its http(s) addresses as links that open in a new tab, as text nodes and
 * elements (never markup, so nothing in a message is ever parsed as HTML). Line breaks are kept by
 * the `.text` style (pre-wrap).
 */
export function linkify(text) {
  const parts = [];
  let from = 0;
  for (const match of text.matchAll(WEB_ADDRESS)) {
    let url = match[0];
    while (TRAILING.test(url) && !(url.endsWith(")") && url.includes("("))) url = url.replace(TRAILING, "");
    if (!URL.canParse(url)) continue;
    parts.push(text.slice(from, match.index), h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
    from = match.index + url.length;
  }
  parts.push(text.slice(from));
  return parts.filter((part) => part !== "");
}

const ICONS = {
  send: '<path d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z"/>',
  attach:
    '<path d="M16.5 6.5v10.6a4.5 4.5 0 0 1-9 0V5.8a3 3 0 0 1 6 0v10.3a1.5 1.5 0 0 1-3 0V6.5H9v9.6a3 3 0 0 0 6 0V5.8a4.5 4.5 0 0 0-9 0v11.3a6 6 0 0 0 12 0V6.5z"/>',
  mic: '<path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 6-6.9z"/>',
  stop: '<rect x="6" y="6" width="12" height="12" rx="2"/>',
  close: '<path d="M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z"/>',
  back: '<path d="M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z"/>',
  reply: '<path d="M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z"/>',
  edit: '<path d="M3 17.2V21h3.8L17.8 10l-3.8-3.8zM20.7 7a1 1 0 0 0 0-1.4l-2.3-2.3a1 1 0 0 0-1.4 0l-1.8 1.8 3.8 3.8z"/>',
  trash: '<path d="M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z"/>',
  smile:
    '<path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm3.5-9a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm-7 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm3.5 6.5a5.5 5.5 0 0 0 5.1-3.5H6.9a5.5 5.5 0 0 0 5.1 3.5z"/>',
  tag: '<path d="M21.4 11.6 12.4 2.6A2 2 0 0 0 11 2H4a2 2 0 0 0-2 2v7a2 2 0 0 0 .6 1.4l9 9a2 2 0 0 0 2.8 0l7-7a2 2 0 0 0 0-2.8zM6.5 8a1.5 1.5 0 1 1 0-3 1.5 1.5 0 0 1 0 3z"/>',
  plus: '<path d="M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6z"/>',
  file: '<path d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm-1 7V3.5L18.5 9z"/>',
  clock: '<path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.2.8-1.3-4.5-2.7z"/>',
  check: '<path d="M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z"/>',
  checks: '<path d="M18 7l-1.4-1.4-6.3 6.3 1.4 1.4zm4.2-1.4L11.6 16.2 7.4 12 6 13.4l5.6 5.6 12-12zM.4 13.4 6 19l1.4-1.4L1.8 12z"/>',
  logout: '<path d="M10 17l1.4-1.4-2.6-2.6H20v-2H8.8l2.6-2.6L10 7l-5 5zM4 5h8V3H4a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h8v-2H4z"/>',
};

/** An inline SVG icon, hidden from assistive technology (the button around it carries the name). */
export function icon(name, extraClass = "") {
  return h("span", {
    class: `icon ${extraClass}`.trim(),
    "aria-hidden": "true",
    html: `<svg viewBox="0 0 24 24" width="20" height="20" focusable="false">${ICONS[name] ?? ""}</svg>`,
  });
}

export function initials(name) {
  const parts = String(name || "?").replace(/@.*/, "").split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? "?") + (parts[1]?.[0] ?? "")).toUpperCase();
}

function hue(id) {
  let n = 0;
  for (const ch of String(id)) n = (n * 31 + ch.charCodeAt(0)) % 360;
  return n;
}

/** A round avatar with initials; `online` (true/false/undefined) adds a presence dot. */
export function avatar(person, { size = "md", online } = {}) {
  const el = h("span", { class: `avatar avatar-${size}`, style: `--hue:${hue(person?.id ?? "")}`, "aria-hidden": "true" }, initials(person?.name));
  if (online !== undefined) el.append(h("span", { class: `presence ${online ? "online" : ""}`, "data-testid": "presence-dot", "data-online": String(!!online) }));
  return el;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "short", day: "numeric" });

export function formatTime(iso) {
  return iso ? timeFormat.format(new Date(iso)) : "";
}

export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function formatDay(iso) {
  const d = new Date(iso);
  const today = new Date();
  if (dayKey(iso) === dayKey(today.toISOString())) return "Today";
  const yesterday = new Date(today.getTime() - 86_400_000);
  if (dayKey(iso) === dayKey(yesterday.toISOString())) return "Yesterday";
  return dayFormat.format(d);
}

/** Short time for lists: the time today, otherwise the date. */
export function formatWhen(iso) {
  if (!iso) return "";
  if (formatDay(iso) === "Today") return formatTime(iso);
  return new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" }).format(new Date(iso));
}

export function formatMoney(amount, currency = "USD") {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount);
  } catch {
    return `${Number(amount).toFixed(2)} ${currency}`;
  }
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Polite announcement for screen readers (new messages, status changes). */
export function announce(text) {
  const region = $("#announcer");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => (region.textContent = text), 30);
}

let toastTimer;
/** A short visible notice (errors included); also read out by screen readers. */
export function toast(text, kind = "info") {
  const el = $("#toast");
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

/** A readable sentence for an API failure (ChatApiError or anything else). */
export function describeError(err) {
  const code = err?.code;
  const known = {
    USER_NOT_FOUND: "No one has logged in with that email yet.",
    UNSUPPORTED_FILE_TYPE: "That file type is not supported (images, audio and PDF only).",
    FILE_TOO_LARGE: "That file is too large.",
    RATE_LIMIT_EXCEEDED: "Slow down a little — try again in a moment.",
    NETWORK_ERROR: "The server cannot be reached.",
    OFFER_NOT_PENDING: "That offer has already been answered.",
    CONVERSATION_CLOSED: "This conversation is closed.",
  };
  return known[code] ?? err?.message ?? String(err);
}

/** Replaces a node; keyboard focus inside it stays on the same control, or moves to its message. */
export function swap(old, next) {
  if (!old) return;
  const focused = old.contains(document.activeElement) ? document.activeElement : null;
  old.replaceWith(next);
  if (!focused) return;
  const { testid, emoji } = focused.dataset;
  const key = testid && `[data-testid="${testid}"]${emoji ? `[data-emoji="${emoji}"]` : ""}`;
  const target = (key && (next.matches(key) ? next : next.querySelector(key))) || next.closest("li");
  if (target?.tagName === "LI") target.tabIndex = -1;
  target?.focus({ preventScroll: true });
}
