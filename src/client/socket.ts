// The connection half shared by the conversation and inbox sockets: authentication (ticket or
// token), reconnects with bounded exponential backoff and full jitter, keep-alive pings, and
// the close codes of the API (4001 token expired, 4003 removed, 1009 frame too large).
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { Emitter } from "./emitter.js";
import { cancelInterval, cancelTimeout, type Interval, type Timeout } from "./timers.js";
import type { TokenSource, WebSocketConstructor, WebSocketImplementation, WebSocketLike } from "./types.js";

export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_REMOVED = 4003;
export const CLOSE_TOO_LARGE = 1009;
/** The code this SDK closes with when it gives up on a socket itself (dropped, no pong, no open in time). */
export const CLOSE_DROPPED = 4000;

export interface SocketOptions {
  /** Where the Worker is: `https://chat.example.com` (in a browser, relative to the page; default its origin). */
  baseUrl?: string;
  /** A token, or a function giving a current one; sent as `?token=`. Asked again before each connect. */
  token?: TokenSource;
  /** A one-use ticket (POST /api/v1/auth/ws-ticket); preferred over `token` when both are given. */
  getTicket?: () => Promise<string>;
  /** The WebSocket class: default `globalThis.WebSocket` (browsers, React Native, Node 22); in Node 20 the `ws` package's. */
  WebSocket?: WebSocketImplementation;
  /** Reconnect delays (default 500 ms doubling to 30 s, full jitter). */
  backoff?: BackoffOptions;
  /** Randomness for the jitter, in [0, 1) (tests). */
  random?: () => number;
  /** Keep-alive `{"type":"ping"}` interval; 0 turns it off. Default 25 000. */
  pingIntervalMs?: number;
  /** Without any frame this long after a ping, the socket counts as dead and is replaced. Default 10 000. */
  pongTimeoutMs?: number;
  /** An attempt that has not opened after this long is abandoned. Default 15 000. */
  connectTimeoutMs?: number;
  /** Connect in the constructor. Default true. */
  autoConnect?: boolean;
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export interface SocketError {
  code: string;
  message: string;
  ref?: string | number;
  retry_after_ms?: number;
}

/** Events every socket emits. */
export interface SocketEvents {
  state: ConnectionState;
  /** A reconnect is scheduled: `attempt` counts from 1 since the last healthy connection. */
  reconnecting: { attempt: number; delay_ms: number };
  /** The socket went away; the SDK reconnects unless `will_reconnect` is false. */
  disconnected: { code: number; reason: string; will_reconnect: boolean };
  /** Stopped for good: `close()` (1000), removed from the conversation (4003), or an expired static token (4001). */
  closed: { code: number; reason: string };
  /** An `error` frame from the server, or a failure of the SDK (AUTH_FAILED, BAD_FRAME, STORAGE_FAILED). */
  error: SocketError;
}

const OPEN = 1;

function defaultWebSocket(): WebSocketImplementation {
  const impl = (globalThis as { WebSocket?: WebSocketImplementation }).WebSocket;
  if (!impl) {
    throw new TypeError(
      'edge-chat/client: this platform has no global WebSocket (Node 20 has none): pass a WebSocket class such as the "ws" package\'s, as `new ChatClient({ WebSocket })` or the `WebSocket` option of a socket',
    );
  }
  return impl;
}

/** `http(s)://host/prefix` → `ws(s)://host/prefix` + path. */
export function socketUrl(baseUrl: string | undefined, path: string): string {
  const page = (globalThis as { location?: { href: string } }).location?.href;
  const base = new URL(baseUrl ?? "", page);
  base.protocol = base.protocol === "https:" || base.protocol === "wss:" ? "wss:" : "ws:";
  return base.href.replace(/\/+$/, "") + path;
}

export async function resolveToken(source: TokenSource): Promise<string> {
  return typeof source === "string" ? source : await source();
}

export abstract class ReconnectingSocket<Events extends SocketEvents> extends Emitter<Events> {
  protected readonly options: SocketOptions;
  private readonly Impl: WebSocketConstructor;
  private ws: WebSocketLike | null = null;
  private running = false;
  private generation = 0;
  private attempt = 0;
  private current: ConnectionState = "idle";
  private reconnectTimer: Timeout | undefined;
  private connectTimer: Timeout | undefined;
  private pingTimer: Interval | undefined;
  private pongTimer: Timeout | undefined;

  protected constructor(options: SocketOptions) {
    super();
    this.options = options;
    this.Impl = (options.WebSocket ?? defaultWebSocket()) as unknown as WebSocketConstructor;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** True while a socket is open. */
  get connected(): boolean {
    return this.current === "open";
  }

  /** Starts connecting (again, after `close()`); does nothing while running. */
  connect(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    void this.open();
  }

  /** Closes the socket for good (code 1000) and stops reconnecting. */
  close(): void {
    if (!this.running && !this.ws) return;
    this.stop(1000, "closed by client");
  }

  /**
   * Drops the current socket as a network failure would (no close handshake waited for; frames in
   * flight are lost) and reconnects with backoff. For tests and for apps that know the network changed.
   */
  dropConnection(reason = "dropped by client"): void {
    const ws = this.ws;
    if (!ws) return;
    this.detach(ws, CLOSE_DROPPED, reason);
    this.handleClosed(CLOSE_DROPPED, reason);
  }

  // ── For subclasses ──

  /** The path of the socket under the base URL, e.g. `/api/v1/ws`. */
  protected abstract path(): string;
  /** A parsed frame (a JSON object with a string `type`). */
  protected abstract onFrame(frame: { type: string } & Record<string, unknown>): void;
  /** The socket opened (before any frame). */
  protected onOpen(): void {}
  /** The socket is gone (any reason); state about in-flight frames should be reset. */
  protected onDisconnect(): void {}

  /** The connection has proved itself: the next failure starts the backoff from the beginning. */
  protected markHealthy(): void {
    this.attempt = 0;
  }

  /** Sends a frame if a socket is open; false otherwise. */
  protected sendFrame(frame: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.current !== "open") return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  protected emitBase<K extends keyof SocketEvents>(event: K, payload: SocketEvents[K]): void {
    (this.emit as (event: K, payload: SocketEvents[K]) => void)(event, payload);
  }

  // ── Connection ──

  private setState(state: ConnectionState): void {
    if (this.current === state) return;
    this.current = state;
    this.emitBase("state", state);
  }

  private async url(): Promise<string> {
    const url = socketUrl(this.options.baseUrl, this.path());
    const separator = url.includes("?") ? "&" : "?";
    if (this.options.getTicket) return `${url}${separator}ticket=${encodeURIComponent(await this.options.getTicket())}`;
    if (this.options.token !== undefined) return `${url}${separator}token=${encodeURIComponent(await resolveToken(this.options.token))}`;
    return url;
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.setState("connecting");
    let url: string;
    try {
      url = await this.url();
    } catch (err) {
      if (generation !== this.generation || !this.running) return;
      const error = err as { code?: unknown; message?: unknown };
      this.emitBase("error", {
        code: typeof error?.code === "string" ? error.code : "AUTH_FAILED",
        message: `could not get a ticket or token: ${typeof error?.message === "string" ? error.message : String(err)}`,
      });
      this.scheduleReconnect();
      return;
    }
    if (generation !== this.generation || !this.running) return;

    let ws: WebSocketLike;
    try {
      ws = new this.Impl(url);
    } catch (err) {
      this.emitBase("error", { code: "CONNECT_FAILED", message: String(err) });
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    const timeout = this.options.connectTimeoutMs ?? 15_000;
    this.connectTimer = setTimeout(() => {
      if (this.ws !== ws || this.current === "open") return;
      this.detach(ws, CLOSE_DROPPED, "connect timeout");
      this.handleClosed(CLOSE_DROPPED, "connect timeout");
    }, timeout);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      cancelTimeout(this.connectTimer);
      this.setState("open");
      this.startPings();
      this.onOpen();
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      cancelTimeout(this.pongTimer);
      this.pongTimer = undefined;
      this.receive(event.data);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.detach(ws);
      this.handleClosed(event.code, event.reason);
    };
    ws.onerror = () => {
      // Once open, a close event follows and decides. Before that, some platforms (Node 22's
      // undici) never send the close event for a failed handshake: treat the attempt as failed.
      if (this.ws !== ws || ws.readyState === OPEN) return;
      this.detach(ws, CLOSE_DROPPED, "connection failed");
      this.handleClosed(1006, "connection failed");
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== "string") return; // the API speaks text frames only
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      this.emitBase("error", { code: "BAD_FRAME", message: "the server sent a frame that is not JSON" });
      return;
    }
    if (typeof frame !== "object" || frame === null || typeof (frame as { type?: unknown }).type !== "string") return;
    this.onFrame(frame as { type: string } & Record<string, unknown>);
  }

  /** Forgets a socket: no more events from it, and closes it if it is still open. */
  private detach(ws: WebSocketLike, code?: number, reason?: string): void {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (this.ws === ws) this.ws = null;
    cancelTimeout(this.connectTimer);
    this.stopPings();
    if (code !== undefined) {
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  private handleClosed(code: number, reason: string): void {
    this.onDisconnect();
    if (!this.running) return;
    if (code === CLOSE_REMOVED) return this.stop(code, reason || "removed from the conversation");
    // An expired token can only be replaced when it comes from a function or a ticket.
    if (code === CLOSE_TOKEN_EXPIRED && !this.options.getTicket && typeof this.options.token !== "function") {
      return this.stop(code, reason || "token expired");
    }
    this.emitBase("disconnected", { code, reason, will_reconnect: true });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    cancelTimeout(this.reconnectTimer);
    const delay = backoffDelay(this.attempt, this.options.backoff, this.options.random);
    this.attempt++;
    this.setState("reconnecting");
    this.emitBase("reconnecting", { attempt: this.attempt, delay_ms: delay });
    this.reconnectTimer = setTimeout(() => {
      if (this.running) void this.open();
    }, delay);
  }

  private stop(code: number, reason: string): void {
    this.running = false;
    this.generation++;
    cancelTimeout(this.reconnectTimer);
    const ws = this.ws;
    if (ws) {
      this.detach(ws, code === 1000 ? 1000 : undefined, reason);
      this.onDisconnect();
    }
    this.setState("closed");
    this.emitBase("closed", { code, reason });
  }

  private startPings(): void {
    this.stopPings();
    const every = this.options.pingIntervalMs ?? 25_000;
    if (!every) return;
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== OPEN) return;
      try {
        ws.send('{"type":"ping"}'); // the exact frame the runtime answers without waking the object
      } catch {
        return;
      }
      if (this.pongTimer === undefined) {
        this.pongTimer = setTimeout(() => this.dropConnection("no pong"), this.options.pongTimeoutMs ?? 10_000);
      }
    }, every);
  }

  private stopPings(): void {
    cancelInterval(this.pingTimer);
    cancelTimeout(this.pongTimer);
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }
}
