// A small socket client over `ws` (conversation and inbox sockets): opens, waits for `hello`,
// parses every frame once and hands it to listeners with its arrival time; `waitFor` waits
// (bounded) for a frame.
import WebSocket from "ws";

export interface Frame {
  type: string;
  [key: string]: unknown;
}

export interface WireMessage {
  id: string;
  seq: number;
  sender_id: string | null;
  client_id: string | null;
  content: string | null;
}

type Handler = (frame: Frame, at: number) => void;

interface Waiter {
  match: (frame: Frame) => boolean;
  resolve: (frame: Frame) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export function socketUrl(baseUrl: string, conversationId: string, token: string): string {
  return `${baseUrl.replace(/^http/, "ws")}/api/v1/conversations/${conversationId}/ws?token=${encodeURIComponent(token)}`;
}

/** The user's inbox socket (`GET /api/v1/ws`): one per client, subscribed to conversations. */
export function inboxUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/^http/, "ws")}/api/v1/ws?token=${encodeURIComponent(token)}`;
}

export class ChatSocket {
  hello: Frame | null = null;
  /** Frames received on this socket. */
  received = 0;
  closed = false;
  closeCode: number | null = null;
  private readonly handlers: Handler[] = [];
  private readonly closeHandlers: ((code: number) => void)[] = [];
  private waiters: Waiter[] = [];

  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: WebSocket.RawData) => {
      const at = performance.now();
      this.received++;
      let frame: Frame;
      try {
        frame = JSON.parse(data.toString()) as Frame;
      } catch {
        return;
      }
      for (const handler of this.handlers) handler(frame, at);
      if (this.waiters.length > 0) this.settleWaiters(frame);
    });
    ws.on("close", (code: number) => {
      this.closed = true;
      this.closeCode = code;
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`socket closed (${code}) while waiting`));
      }
      this.waiters = [];
      for (const h of this.closeHandlers) h(code);
    });
    ws.on("error", () => {
      // surfaced through close / open failures
    });
  }

  /** Connects to the product's conversation socket and resolves once `hello` arrived; `timeoutMs` bounds the whole setup. */
  static open(baseUrl: string, conversationId: string, token: string, timeoutMs = 15_000): Promise<ChatSocket> {
    return ChatSocket.connect(socketUrl(baseUrl, conversationId, token), timeoutMs);
  }

  /** Connects to any socket URL that speaks these frames (the product's, or the ceiling probe's room) and resolves once `hello` arrived. */
  static connect(url: string, timeoutMs = 15_000): Promise<ChatSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      const socket = new ChatSocket(ws);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`socket setup timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => {
          clearTimeout(timer);
          reject(new Error(`socket refused: HTTP ${res.statusCode} ${body.slice(0, 200)}`));
        });
      });
      ws.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      const onHello: Handler = (frame) => {
        if (frame.type !== "hello" || socket.hello) return;
        socket.hello = frame;
        clearTimeout(timer);
        resolve(socket);
      };
      socket.handlers.push(onHello);
    });
  }

  /** Adds a frame listener; returns a function that removes it. */
  on(handler: Handler): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i !== -1) this.handlers.splice(i, 1);
    };
  }

  onClose(handler: (code: number) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Sends a frame; returns false when the socket is not open. */
  send(frame: object | string): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    return true;
  }

  /** Bytes queued in the client that the kernel has not taken yet. */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  waitFor(match: (frame: Frame) => boolean, timeoutMs: number, what = "a frame"): Promise<Frame> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error(`socket closed before ${what}`));
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Subscribes this inbox socket to a conversation; resolves on `subscribed`, rejects on `error` or after `timeoutMs`. */
  async subscribe(conversationId: string, timeoutMs = 15_000): Promise<void> {
    const ref = `sub-${conversationId}`;
    const answer = this.waitFor((f) => f.ref === ref && (f.type === "subscribed" || f.type === "error"), timeoutMs, `subscribed to ${conversationId}`);
    this.send({ type: "subscribe", ref, conversation_id: conversationId });
    const frame = await answer;
    if (frame.type === "error") throw new Error(`subscribe to ${conversationId} refused: ${String(frame.code)} ${String(frame.message)}`);
  }

  /** Closes politely and waits (bounded) for the close to complete. */
  close(code = 1000, timeoutMs = 5_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, timeoutMs);
      this.ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        this.ws.close(code);
      } catch {
        this.ws.terminate();
      }
    });
  }

  /** Drops the TCP connection without a close handshake. */
  terminate(): void {
    this.ws.terminate();
  }

  private settleWaiters(frame: Frame): void {
    const remaining: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.match(frame)) {
        clearTimeout(w.timer);
        w.resolve(frame);
      } else remaining.push(w);
    }
    this.waiters = remaining;
  }
}

/** Closes many sockets a batch at a time. */
export async function closeAll(sockets: ChatSocket[], batch = 100): Promise<void> {
  for (let i = 0; i < sockets.length; i += batch) await Promise.all(sockets.slice(i, i + batch).map((s) => s.close()));
}
