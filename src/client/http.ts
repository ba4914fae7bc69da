// The REST plumbing shared by the user's client (ChatClient) and the app backend's
// (ServiceClient): base URL, bearer token, JSON or multipart in, JSON out, errors as ChatApiError.
import { ChatApiError, codeForStatus } from "./errors.js";
import { resolveToken } from "./socket.js";
import type { ErrorBody, TokenSource } from "./types.js";

export interface ApiClientOptions {
  /** Where the Worker is, e.g. `https://chat.example.com`; in a browser, default the page's origin. */
  baseUrl?: string;
  /** A bearer token or a function returning a current one. */
  token?: TokenSource;
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined | null>;

export interface ApiRequest {
  json?: unknown;
  form?: FormData;
  query?: Query;
  auth?: boolean;
}

export const seg = encodeURIComponent;

export class ApiClient {
  readonly baseUrl: string;
  private token: TokenSource | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ApiClientOptions = {}) {
    const page = (globalThis as { location?: { href: string } }).location?.href;
    this.baseUrl = new URL(options.baseUrl ?? "", page).href.replace(/\/+$/, "");
    this.token = options.token;
    const impl = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (!impl) throw new Error("no global fetch: pass the fetch option");
    this.fetchImpl = impl;
  }

  /** Replaces the token (or token function) used from now on; null to forget it. */
  setToken(token: TokenSource | null): void {
    this.token = token ?? undefined;
  }

  /** The current token (asks the token function), or null. */
  async getToken(): Promise<string | null> {
    return this.token === undefined ? null : await resolveToken(this.token);
  }

  /** One API call: JSON or multipart in, JSON out (undefined for 204); errors as ChatApiError. */
  async request<T>(method: string, path: string, init: ApiRequest = {}): Promise<T> {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [name, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers = new Headers({ accept: "application/json" });
    if (init.auth !== false) {
      const token = await this.getToken();
      if (token) headers.set("authorization", `Bearer ${token}`);
    }
    let body: BodyInit | undefined;
    if (init.form) body = init.form;
    else if (init.json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(init.json);
    }
    const response = await this.send(url.href, { method, headers, body });
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** A fetch whose network failure is a ChatApiError (`NETWORK_ERROR`, status 0). */
  protected async send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(url, init);
    } catch (err) {
      throw new ChatApiError({ code: "NETWORK_ERROR", status: 0, message: `request failed: ${String(err)}`, cause: err });
    }
  }
}

/** The API's error envelope (or, for a response that is not the API's, a code for its status) as a ChatApiError. */
export async function toError(response: Response): Promise<ChatApiError> {
  const header = response.headers.get("retry-after");
  const seconds = header === null ? NaN : Number(header);
  const retryAfter = Number.isFinite(seconds) ? seconds : null;
  let envelope: Partial<ErrorBody> | null = null;
  try {
    envelope = (await response.json()) as Partial<ErrorBody>;
  } catch {
    // not the API's envelope
  }
  const error = envelope?.error;
  if (error && typeof error.code === "string") {
    return new ChatApiError({ code: error.code, message: error.message ?? response.statusText, status: response.status, details: error.details ?? [], retryAfter });
  }
  return new ChatApiError({ code: codeForStatus(response.status), message: `HTTP ${response.status} ${response.statusText}`.trim(), status: response.status, retryAfter });
}
