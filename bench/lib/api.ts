// REST calls the benchmarks need: login, conversations, history, the admin cost counters.
import { mapLimit } from "./util.ts";

export interface User {
  id: string;
  email: string;
  token: string;
}

/** The admin-only counters of a conversation's Durable Object, since its instance started. */
export interface ConversationStats {
  messages: number;
  last_seq: number;
  frames_sent: number;
  d1_flushes: number;
  d1_statements: number;
  d1_rows_written: number;
  storage_rows_written: number;
  /** summaries the object sent to the mirror queue (whose consumer writes them to D1 in batches) */
  queue_sends: number;
  /** calls to user objects to notify inboxes */
  inbox_calls: number;
}

/**
 * The admin-only meter of the mirror queue's consumer (`GET /api/v1/admin/mirror`), since the
 * database was created: D1 batches written (one D1 request each), queue messages they carried,
 * statements in them. Deployment-wide, not per conversation.
 */
export interface MirrorMeter {
  batches: number;
  messages: number;
  statements: number;
}

/** One conversation as `GET /api/v1/conversations` lists it (the fields the benchmarks read). */
export interface ListedConversation {
  id: string;
  last_seq: number;
  unread_count: number;
  last_message: { id: string; seq: number } | null;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: string;

  constructor(status: number, body: string, what: string) {
    super(`${what}: HTTP ${status} ${body.slice(0, 300)}`);
    this.status = status;
    this.body = body;
  }
}

export class Api {
  readonly baseUrl: string;
  /** per request; generous, because the local runtime can hold requests while an object is saturated */
  timeoutMs = 60_000;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  /** `timeoutMs` overrides this.timeoutMs for this request. */
  async request<T>(method: string, path: string, token: string | null, body?: unknown, timeoutMs?: number): Promise<T> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs ?? this.timeoutMs))),
    });
    const text = await response.text();
    if (!response.ok) throw new ApiError(response.status, text, `${method} ${path}`);
    return JSON.parse(text) as T;
  }

  async login(email: string): Promise<User> {
    const r = await this.request<{ access_token: string; user: { id: string } }>("POST", "/api/v1/auth/login", null, { email, name: email.split("@")[0] });
    return { id: r.user.id, email, token: r.access_token };
  }

  /** Logs in `count` users named `<prefix>-<i>@bench.local`, a few at a time. */
  loginMany(prefix: string, count: number, concurrency = 8): Promise<User[]> {
    return mapLimit(
      Array.from({ length: count }, (_, i) => i),
      concurrency,
      (i) => this.login(`${prefix}-${i}@bench.local`),
    );
  }

  /** A group with the creator and `members`: up to 100 named at creation (the schema's limit), the rest added one by one. */
  async createGroup(creator: User, members: User[], title = "bench"): Promise<string> {
    const AT_CREATION = 100;
    const conversation = await this.request<{ id: string }>("POST", "/api/v1/conversations", creator.token, {
      type: "group",
      title,
      participant_ids: members.slice(0, AT_CREATION).map((m) => m.id),
    });
    await mapLimit(members.slice(AT_CREATION), 8, (m) =>
      this.request("POST", `/api/v1/conversations/${conversation.id}/participants`, creator.token, { user_id: m.id }),
    );
    return conversation.id;
  }

  async createDirect(a: User, b: User): Promise<string> {
    const conversation = await this.request<{ id: string }>("POST", "/api/v1/conversations", a.token, { type: "direct", participant_ids: [b.id] });
    return conversation.id;
  }

  async stats(admin: User, conversationId: string): Promise<ConversationStats> {
    const s = await this.request<Partial<ConversationStats>>("GET", `/api/v1/conversations/${conversationId}/stats`, admin.token);
    const n = (v: number | undefined) => v ?? 0;
    return {
      messages: n(s.messages),
      last_seq: n(s.last_seq),
      frames_sent: n(s.frames_sent),
      d1_flushes: n(s.d1_flushes),
      d1_statements: n(s.d1_statements),
      d1_rows_written: n(s.d1_rows_written),
      storage_rows_written: n(s.storage_rows_written),
      queue_sends: n(s.queue_sends),
      inbox_calls: n(s.inbox_calls),
    };
  }

  mirror(admin: User): Promise<MirrorMeter> {
    return this.request<MirrorMeter>("GET", "/api/v1/admin/mirror", admin.token);
  }

  conversations(user: User, limit = 20, timeoutMs?: number): Promise<{ conversations: ListedConversation[] }> {
    return this.request("GET", `/api/v1/conversations?limit=${limit}`, user.token, undefined, timeoutMs);
  }

  history(user: User, conversationId: string, query: string): Promise<{ messages: { seq: number }[]; has_more: boolean }> {
    return this.request("GET", `/api/v1/conversations/${conversationId}/messages?${query}`, user.token);
  }
}
