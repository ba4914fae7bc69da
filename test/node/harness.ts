// What the Node-side tests share: a `wrangler dev` with room for bursts (scripts/dev-server.ts),
// the SDK loaded from its source at run time (so it is never stale; its types come from the
// package's own export, "edge-chat/client"), users logged in through it, and small waits.
import type * as Sdk from "edge-chat/client";
import { SignJWT } from "jose";
import { startDevServer, type DevServer } from "../../scripts/dev-server.ts";
import { DEV_JWT_SECRET } from "../../src/lib/dev-defaults.ts";

export const SDK_SOURCE = "../../src/client/index.ts";
export const SDK_BUILD = "../../public/sdk/index.js";

/** True when a file is loaded inside workerd, where these tests skip themselves. */
export const inWorkerd = typeof navigator !== "undefined" && navigator.userAgent === "Cloudflare-Workers";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Reconnects within a quarter second. */
export const fast = { backoff: { baseMs: 50, maxMs: 250 } } as const;

/** A dev server whose rate limits leave the tests' bursts alone. */
export function startTestServer(): Promise<DevServer> {
  return startDevServer({
    vars: { RATE_MESSAGES_PER_MIN: 100000, RATE_LOGINS_PER_MIN_PER_IP: 100000, RATE_CONNECTS_PER_MIN_PER_IP: 100000, RATE_TYPING_PER_MIN: 100000 },
  });
}

/** A token of the app's backend: HS256 with the development secret and `roles: ["service"]`. */
export function serviceToken(name = "svc:test"): Promise<string> {
  return new SignJWT({ roles: ["service"] })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(name)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(DEV_JWT_SECRET));
}

export interface Harness {
  sdk: typeof Sdk;
  server: DevServer;
  login(name: string): Promise<{ client: Sdk.ChatClient; user: Sdk.User }>;
  /** Alice and Bob in a fresh direct conversation. */
  pair(): Promise<{ alice: Sdk.ChatClient; bob: Sdk.ChatClient; conversation: Sdk.Conversation }>;
  /** Every message of a conversation, through the REST history. */
  history(client: Sdk.ConversationsApi, conversationId: string): Promise<Sdk.Message[]>;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const sdk = (await import(/* @vite-ignore */ SDK_SOURCE)) as typeof Sdk;
  const server = await startTestServer();
  let users = 0;
  const login: Harness["login"] = async (name) => {
    const client = new sdk.ChatClient({ baseUrl: server.url });
    const { user } = await client.login({ email: `${name}-${++users}@sdk.test`, name });
    return { client, user };
  };
  return {
    sdk,
    server,
    login,
    async pair() {
      const [a, b] = await Promise.all([login("alice"), login("bob")]);
      const conversation = await a.client.createConversation({ type: "direct", participant_ids: [b.user.id] });
      return { alice: a.client, bob: b.client, conversation };
    },
    async history(client, conversationId) {
      const messages: Sdk.Message[] = [];
      for (let after = 0; ; ) {
        const page = await client.listMessages(conversationId, { after_seq: after, limit: 100 });
        messages.push(...page.messages);
        if (!page.has_more || page.messages.length === 0) return messages;
        after = page.messages[page.messages.length - 1]!.seq;
      }
    },
    stop: () => server.stop(),
  };
}
