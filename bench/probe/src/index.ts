// The ceiling probe: the smallest possible Durable Object chat room, served by `npm run bench`
// under the same `wrangler dev` as the product, so that every fan-out, throughput and group
// figure can be printed as a ratio to what the runtime itself costs.
//
// GET /rooms/{room}/ws?user={id} upgrades to a socket on the room's object (hibernatable:
// ctx.acceptWebSocket), which says `hello`. For each `message.send {client_id, content, ref?}`
// the object does exactly this and nothing else: one SQLite insert of the message under the next
// seq, a `message.ack {client_id, ref, message}` to the sender, and one `message.new {message}`
// (serialised once) to every socket of the room. No authentication, no membership, no limits,
// no idempotency, no D1. The message has the product's shape (bench/lib/client.ts's WireMessage
// and the rest of the product's fields), so the same scenario code drives both. What a client
// coming back needs, for the soak: `sync {after_seq}` answers the messages after it in
// `sync.batch` frames of 100, then `sync.done {last_seq}`; GET /rooms/{room}/messages answers
// the room's newest 50 messages (a REST read). A socket opened with `&member_object=1` also
// calls its user's own object once (not awaited), which stores one row: what one object per user,
// such as the product's presence, costs a connect — first of all the runtime creating it and its storage.
// With `&presence_queue=1` as well, that object then queues the user's presence change, and the
// probe's queue consumer writes each batch of them to D1 in one request (the users' rows, and who
// of their contacts is online), as the product's user object and mirror consumer do.
//
// Checked by tsconfig.node.json (Node and DOM types, like the rest of bench/), so the few
// Workers APIs used are declared here rather than taken from @cloudflare/workers-types.

interface SqlCursor {
  one(): Record<string, unknown>;
  toArray(): Record<string, unknown>[];
}

interface SqlStorage {
  exec(query: string, ...bindings: unknown[]): SqlCursor;
}

interface HibernatableSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
}

interface DurableObjectState {
  storage: { sql: SqlStorage };
  acceptWebSocket(ws: HibernatableSocket): void;
  getWebSockets(): HibernatableSocket[];
}

interface RoomNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

interface D1Statement {
  bind(...values: unknown[]): D1Statement;
}

interface D1 {
  prepare(query: string): D1Statement;
  batch(statements: D1Statement[]): Promise<unknown[]>;
}

interface Queue {
  send(body: string): Promise<void>;
}

interface QueueBatch {
  messages: { body: unknown }[];
  ackAll(): void;
}

interface Env {
  ROOMS: RoomNamespace;
  MEMBERS: RoomNamespace;
  DB: D1;
  PRESENCE: Queue;
}

interface Identity {
  user: string;
  room: string;
}

interface ClientFrame {
  type?: unknown;
  ref?: unknown;
  client_id?: unknown;
  content?: unknown;
  after_seq?: unknown;
}

interface MessageRow {
  seq: number;
  id: string;
  sender_id: string;
  client_id: string | null;
  content: string;
  created_at: string;
}

/** Messages a sync frame carries (the product's page size). */
const SYNC_BATCH = 100;

/** A stored row in the product's message shape. */
function wireMessage(room: string, row: MessageRow) {
  return {
    id: row.id,
    conversation_id: room,
    seq: row.seq,
    sender_id: row.sender_id,
    type: "text",
    content: row.content,
    data: null,
    reply_to: null,
    attachment: null,
    reactions: {},
    client_id: row.client_id,
    edited_at: null,
    deleted_at: null,
    created_at: row.created_at,
  };
}

declare const WebSocketPair: new () => { 0: HibernatableSocket; 1: HibernatableSocket };

const ROOM_PATH = /^\/rooms\/([A-Za-z0-9_.-]{1,100})\/(ws|messages)$/;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** The probe's own two presence tables in D1, made once per isolate by the first batch. */
let presenceTables: Promise<unknown> | null = null;

export default {
  fetch(request: Request, env: Env): Promise<Response> | Response {
    const url = new URL(request.url);
    if (url.pathname === "/health") return json(200, { status: "ok" });
    const room = ROOM_PATH.exec(url.pathname)?.[1];
    if (!room) return json(404, { error: "not found" });
    const wantsSocket = url.pathname.endsWith("/ws");
    if (wantsSocket !== (request.headers.get("upgrade") === "websocket")) return json(426, { error: "sockets at /ws, history at /messages" });
    return env.ROOMS.get(env.ROOMS.idFromName(room)).fetch(request);
  },

  /** Queued presence changes (`presence_queue=1`): one D1 request per batch, as the product's mirror consumer makes. */
  async queue(batch: QueueBatch, env: Env): Promise<void> {
    const db = env.DB;
    presenceTables ??= db.batch([
      db.prepare("CREATE TABLE IF NOT EXISTS presence (id TEXT PRIMARY KEY, online INTEGER NOT NULL)"),
      db.prepare("CREATE TABLE IF NOT EXISTS contacts (id TEXT NOT NULL, contact TEXT NOT NULL, PRIMARY KEY (id, contact))"),
    ]);
    await presenceTables;
    const users = JSON.stringify(batch.messages.map((m) => m.body));
    await db.batch([
      db.prepare("INSERT INTO presence (id, online) SELECT value, 1 FROM json_each(?) WHERE true ON CONFLICT(id) DO UPDATE SET online = 1").bind(users),
      db.prepare("SELECT c.id, c.contact FROM contacts c JOIN presence p ON p.id = c.contact AND p.online = 1 WHERE c.id IN (SELECT value FROM json_each(?))").bind(users),
    ]);
    batch.ackAll();
  },
};

export class Room {
  private readonly ctx: DurableObjectState;
  private readonly sql: SqlStorage;
  private seq: number;

  private readonly env: Env;

  constructor(ctx: DurableObjectState, env: Env) {
    this.ctx = ctx;
    this.env = env;
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, sender_id TEXT, client_id TEXT, content TEXT, created_at TEXT NOT NULL)",
    );
    this.seq = Number(this.sql.exec("SELECT COALESCE(MAX(seq), 0) AS seq FROM messages").one().seq);
  }

  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/messages")) return this.history();
    const identity: Identity = { user: url.searchParams.get("user") ?? "anonymous", room: ROOM_PATH.exec(url.pathname)?.[1] ?? "" };
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(identity);
    if (url.searchParams.get("member_object") === "1") {
      const presence = url.searchParams.get("presence_queue") === "1" ? `?presence_queue=1&user=${encodeURIComponent(identity.user)}` : "";
      this.env.MEMBERS.get(this.env.MEMBERS.idFromName(identity.user))
        .fetch(new Request(`http://member/online${presence}`))
        .catch(() => undefined);
    }
    server.send(JSON.stringify({ type: "hello", conversation_id: identity.room, user_id: identity.user, last_seq: this.seq }));
    return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit);
  }

  /** The newest 50 messages: the REST read a chat client makes (what the soak's history pages are on the product). */
  private history(): Response {
    const rows = this.sql.exec("SELECT seq, id, sender_id, client_id, content, created_at FROM messages ORDER BY seq DESC LIMIT 50").toArray();
    return json(200, { messages: rows.reverse(), has_more: this.seq > 50 });
  }

  webSocketMessage(ws: HibernatableSocket, data: string | ArrayBuffer): void {
    let frame: ClientFrame;
    try {
      frame = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data)) as ClientFrame;
    } catch {
      return;
    }
    if (frame.type === "message.send") this.send(ws, frame);
    else if (frame.type === "sync") this.sync(ws, frame);
  }

  private sync(ws: HibernatableSocket, frame: ClientFrame): void {
    const { room } = ws.deserializeAttachment() as Identity;
    let after = typeof frame.after_seq === "number" ? frame.after_seq : 0;
    for (;;) {
      const rows = this.sql.exec("SELECT seq, id, sender_id, client_id, content, created_at FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", after, SYNC_BATCH).toArray() as unknown as MessageRow[];
      if (rows.length === 0) break;
      ws.send(JSON.stringify({ type: "sync.batch", ref: frame.ref ?? null, messages: rows.map((row) => wireMessage(room, row)) }));
      after = rows[rows.length - 1]!.seq;
    }
    ws.send(JSON.stringify({ type: "sync.done", ref: frame.ref ?? null, last_seq: this.seq }));
  }

  private send(ws: HibernatableSocket, frame: ClientFrame): void {
    const identity = ws.deserializeAttachment() as Identity;
    const clientId = typeof frame.client_id === "string" ? frame.client_id : null;
    const content = typeof frame.content === "string" ? frame.content : "";
    const seq = this.seq + 1;
    const message = wireMessage(identity.room, { seq, id: crypto.randomUUID(), sender_id: identity.user, client_id: clientId, content, created_at: new Date().toISOString() });
    this.sql.exec(
      "INSERT INTO messages (seq, id, sender_id, client_id, content, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      seq,
      message.id,
      message.sender_id,
      clientId,
      content,
      message.created_at,
    );
    this.seq = seq;
    const body = JSON.stringify(message);
    ws.send(`{"type":"message.ack","client_id":${JSON.stringify(clientId)},"ref":${JSON.stringify(frame.ref ?? null)},"message":${body}}`);
    const broadcast = `{"type":"message.new","message":${body}}`;
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(broadcast);
      } catch {
        // closing
      }
    }
  }

  webSocketClose(ws: HibernatableSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  webSocketError(): void {
    // the runtime closes the socket
  }
}

/** The presence tables, made once per isolate. */
/**
 * A user's own object: records that the user has a socket open (one row), the least a presence
 * that outlives the object's eviction must store; the first call creates its storage. Asked
 * with `presence_queue=1`, it then queues the user's presence change for the consumer above.
 */
export class Member {
  private readonly sql: SqlStorage;
  private readonly env: Env;

  constructor(ctx: DurableObjectState, env: Env) {
    this.sql = ctx.storage.sql;
    this.env = env;
  }

  async fetch(request: Request): Promise<Response> {
    this.sql.exec("CREATE TABLE IF NOT EXISTS sockets (id INTEGER PRIMARY KEY, open INTEGER NOT NULL)");
    this.sql.exec("INSERT INTO sockets (id, open) VALUES (1, 1) ON CONFLICT(id) DO UPDATE SET open = open + 1");
    const url = new URL(request.url);
    const user = url.searchParams.get("user");
    if (url.searchParams.get("presence_queue") === "1" && user) await this.env.PRESENCE.send(user);
    return new Response(null, { status: 204 });
  }
}
