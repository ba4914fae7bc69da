import { exports } from "cloudflare:workers";
import { BASE } from "./api";

export type Frame = { type: string; [key: string]: any };

/** A test's view of one socket: every frame it received, and waits with timeouts. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      this.frames.push(JSON.parse(event.data as string) as Frame);
      this.wake();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.wake();
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Resolves when `predicate` holds over the frames received so far. */
  async until<T>(predicate: (frames: Frame[]) => T | undefined | false, timeoutMs = 5_000, what = "condition"): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate(this.frames);
      if (value) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => f.type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next frame of `type` after the first `skip` ones already seen. */
  next(type: string, predicate: (f: Frame) => boolean = () => true, timeoutMs?: number): Promise<Frame> {
    return this.until((frames) => frames.find((f) => f.type === type && predicate(f)), timeoutMs, `frame ${type}`);
  }

  async waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed ?? undefined, timeoutMs, "close");
  }

  close(): void {
    try {
      this.ws.close(1000, "done");
    } catch {
      // already closed
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export async function upgrade(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, { headers: { upgrade: "websocket", ...headers } }));
}

/** Opens a conversation socket and waits for its hello. */
export async function connect(conversationId: string, token: string): Promise<TestSocket> {
  const response = await upgrade(`/api/v1/conversations/${conversationId}/ws?token=${encodeURIComponent(token)}`);
  if (response.status !== 101 || !response.webSocket) {
    throw new Error(`upgrade failed: ${response.status} ${await response.text()}`);
  }
  response.webSocket.accept();
  const socket = new TestSocket(response.webSocket);
  await socket.next("hello");
  return socket;
}
