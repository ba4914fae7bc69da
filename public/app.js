// edge-chat web client: plain ES modules over the SDK the Worker serves at /sdk/.
// Login (development login by email), then the conversation list and the chat view, both over one
// connection (the inbox socket, which also carries the open conversation).
import { ChatClient } from "/sdk/index.js";
import { ChatView } from "./app/chat.js";
import { ConversationList } from "./app/conversations.js";
import { $, avatar, describeError, h, icon, toast } from "./app/dom.js";

const TOKEN_KEY = "edge-chat.token";

// The token lives in localStorage, so a reload (or a new tab) stays logged in. Each tab also keeps
// its own copy in sessionStorage, so two windows can be two different people and each keeps its
// person across reloads.
const storedToken = () => sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(TOKEN_KEY, token);
}
function forgetToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  sessionStorage.removeItem(TOKEN_KEY);
  if (!token || localStorage.getItem(TOKEN_KEY) === token) localStorage.removeItem(TOKEN_KEY);
}

const app = {
  client: null,
  me: null,
  token: null,
  activeId: null,
  people: new Map(),
  presence: new Map(),
  list: null,
  chat: null,
  connection: null,
  nameOf(id) {
    if (id && id === this.me?.id) return this.me.name;
    return this.people.get(id)?.name ?? "Someone";
  },
  setPresence(id, online) {
    if (this.presence.get(id) === online) return;
    this.presence.set(id, online);
    this.list?.render();
    this.chat?.renderHeader();
  },
};

// A 401 on any call but the login means the token has expired or was revoked: sign in again.
app.client = new ChatClient({
  fetch: async (input, init) => {
    const response = await fetch(input, init);
    if (response.status === 401 && app.me && !String(input).includes("/auth/login")) signOut("Your session has ended — please sign in again.");
    return response;
  },
});

for (const el of document.querySelectorAll("[data-icon]")) el.prepend(icon(el.dataset.icon));

function showLogin(error = "") {
  $("#chat-view").hidden = true;
  $("#login-view").hidden = false;
  $("#login-error").textContent = error;
  $("#login-email").focus();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.elements.email.value.trim();
  const name = form.elements.name.value.trim();
  const error = $("#login-error");
  if (!form.elements.email.checkValidity() || !email) {
    error.textContent = "Enter a valid email address.";
    form.elements.email.focus();
    return;
  }
  error.textContent = "";
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const { access_token, user } = await app.client.login({ email, ...(name && { name }) });
    storeToken(access_token);
    await start(user, access_token);
  } catch (err) {
    error.textContent = describeError(err);
  } finally {
    button.disabled = false;
  }
});

function signOut(message) {
  forgetToken();
  app.connection?.close();
  app.chat?.close();
  if (message) sessionStorage.setItem("edge-chat.notice", message);
  location.hash = "";
  location.reload();
}

async function start(me, token) {
  app.me = me;
  app.token = token;
  app.client.setToken(token);
  $("#login-view").hidden = true;
  $("#chat-view").hidden = false;
  $("#me").replaceChildren(
    avatar(me, { size: "sm" }),
    h("span", { class: "me-text" }, h("span", { class: "me-name", "data-testid": "me-name" }, me.name), h("span", { class: "me-email" }, me.email ?? "")),
  );
  $("#logout").onclick = () => signOut();

  app.list = new ConversationList(app);
  app.chat = new ChatView(app);
  app.connection = app.client.connect();
  app.list.bindInbox(app.connection);
  await app.list.load();
  window.addEventListener("hashchange", route);
  await route();
}

async function route() {
  const match = /^#\/c\/(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  $("#chat-view").classList.toggle("show-chat", !!id);
  if (!id) {
    app.activeId = null;
    app.chat.close();
    app.list.render();
    return;
  }
  let conv = app.list.get(id);
  if (!conv) {
    try {
      conv = await app.client.getConversation(id);
      app.list.upsert(conv, false);
    } catch (err) {
      toast(`Cannot open that conversation: ${describeError(err)}`, "error");
      location.hash = "#/";
      return;
    }
  }
  app.activeId = id;
  app.list.render();
  await app.chat.open(conv);
  if (window.matchMedia("(min-width: 48rem)").matches) $("#message-input").focus({ preventScroll: true });
}

async function boot() {
  const notice = sessionStorage.getItem("edge-chat.notice");
  sessionStorage.removeItem("edge-chat.notice");
  const token = storedToken();
  if (!token) return showLogin(notice ?? "");
  app.client.setToken(token);
  try {
    const me = await app.client.me();
    sessionStorage.setItem(TOKEN_KEY, token); // this tab keeps this person
    await start(me, token);
  } catch (err) {
    if (err?.status === 401) {
      forgetToken();
      showLogin("Your session has ended — please sign in again.");
    } else showLogin(describeError(err));
  }
}

void boot();
