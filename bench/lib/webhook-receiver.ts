// A webhook receiver in the bench process, on 127.0.0.1 only, for the server's WEBHOOK_URL:
// `up` answers 200 at once and records every event (signature checked with the SDK's own
// verifyWebhook); `hanging` accepts requests and never answers (the server gives up after its
// delivery timeout); `refused` listens on nothing, so connecting is refused.
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";
import { verifyWebhook } from "../../src/client/webhook-signature.ts";
import type { WebhookDownMode } from "./options.ts";

export type ReceiverMode = "up" | WebhookDownMode;

/** Connections a hanging receiver holds at once; past it new ones are dropped (bounded either way). */
const MAX_HELD = 1_000;
const MAX_BODY_BYTES = 256 * 1024;

/** One POST the receiver answered (mode `up`). */
export interface Delivery {
  at: number;
  type: string;
  id: string;
  clientId: string | null;
}

export class WebhookReceiver {
  readonly url: string;
  readonly deliveries: Delivery[] = [];
  /** requests held without an answer (`hanging`) */
  held = 0;
  /** bodies that were not JSON or whose signature did not verify */
  badSignatures = 0;
  readonly mode: ReceiverMode;
  private readonly server: Server | null;
  private readonly seen = new Set<string>();
  private readonly checks: Promise<void>[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(mode: ReceiverMode, port: number, server: Server | null) {
    this.mode = mode;
    this.server = server;
    this.url = `http://127.0.0.1:${port}/hooks`;
  }

  static async start(mode: ReceiverMode, secret: string): Promise<WebhookReceiver> {
    if (mode === "refused") return new WebhookReceiver(mode, await closedPort(), null);
    let receiver: WebhookReceiver | null = null;
    const server = createServer((req, res) => {
      if (!receiver) return res.destroy();
      if (mode === "hanging") {
        receiver.held++;
        return; // never answered: the server's fetch times out
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) req.destroy();
        else chunks.push(c);
      });
      req.on("end", () => {
        const at = performance.now();
        res.writeHead(200).end();
        receiver?.record(Buffer.concat(chunks).toString("utf8"), req.headers["x-chat-signature"], at, secret);
      });
    });
    server.requestTimeout = 0;
    server.maxConnections = MAX_HELD;
    const port = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        if (typeof address === "object" && address) resolve(address.port);
        else reject(new Error("no port"));
      });
    });
    receiver = new WebhookReceiver(mode, port, server);
    const sockets = receiver.sockets;
    server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
    return receiver;
  }

  /** Events of `type` received so far (first receipt per event id). */
  count(type: string): number {
    return this.deliveries.filter((d) => d.type === type).length;
  }

  /** Waits for the pending signature checks, then stops listening and drops every connection. */
  async stop(): Promise<void> {
    await Promise.all(this.checks);
    if (!this.server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private record(body: string, signature: string | string[] | undefined, at: number, secret: string): void {
    let event: { id?: string; type?: string; data?: { message?: { client_id?: string | null } } };
    try {
      event = JSON.parse(body) as typeof event;
    } catch {
      this.badSignatures++;
      return;
    }
    const id = String(event.id);
    if (this.seen.has(id)) return; // a retry: deliveries are at least once
    this.seen.add(id);
    this.deliveries.push({ at, id, type: String(event.type), clientId: event.data?.message?.client_id ?? null });
    this.checks.push(
      verifyWebhook(secret, body, typeof signature === "string" ? signature : undefined).then((ok) => {
        if (!ok) this.badSignatures++;
      }),
    );
  }
}

/** A loopback port with nothing listening on it (connections to it are refused). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
