import { exports } from "cloudflare:workers";
import { BASE, type TestUser } from "./api";

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

// ── sockets a test opens, closed after it (`afterEach(closeAll)`) ──

const opened: TestSocket[] = [];

/** Remembers `socket` for `closeAll`. */
export function track(socket: TestSocket): TestSocket {
  opened.push(socket);
  return socket;
}

/** Closes every socket tracked since the last call. */
export function closeAll(): void {
  for (const socket of opened.splice(0)) socket.close();
}

/** A tracked conversation socket (a user or a bare token), its hello received. */
export async function open(conversationId: string, user: Pick<TestUser, "token"> | string): Promise<TestSocket> {
  return track(await connect(conversationId, typeof user === "string" ? user : user.token));
}

/** A tracked inbox socket (/api/v1/ws), its hello received. */
export async function openInbox(user: Pick<TestUser, "token">): Promise<TestSocket> {
  const response = await upgrade(`/api/v1/ws?token=${encodeURIComponent(user.token)}`);
  if (response.status !== 101 || !response.webSocket) throw new Error(`inbox upgrade failed: ${response.status} ${await response.text()}`);
  response.webSocket.accept();
  const socket = track(new TestSocket(response.webSocket));
  await socket.next("hello");
  return socket;
}

let refCounter = 0;
/**
 * Frames on one socket are handled in order and replies are sent in order: once the pong for a
 * ref'd ping arrives, every frame the server sent this socket before it has arrived too.
 * (Each call costs one token of the user's ping bucket.)
 */
export async function barrier(socket: TestSocket): Promise<void> {
  const ref = `barrier-${++refCounter}`;
  socket.send({ type: "ping", ref });
  await socket.next("pong", (f) => f.ref === ref);
}

/** The frames of `type` (and `predicate`) received so far. */
export const framesOf = (socket: TestSocket, type: string, predicate: (f: Frame) => boolean = () => true): Frame[] =>
  socket.frames.filter((f) => f.type === type && predicate(f));

/** How many frames of `type` (and `predicate`) were received so far. */
export const count = (socket: TestSocket, type: string, predicate: (f: Frame) => boolean = () => true): number => framesOf(socket, type, predicate).length;
