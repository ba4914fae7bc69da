// What every example shares: where the server is, users logged in through the development
// login, the app backend's service token, a step printer, waits with a deadline, and an exit
// code that says whether the story played out. Runs under Node 22 (type stripping).
import { ChatApiError, ChatClient, type User } from "edge-chat/client";
import { SignJWT } from "jose";
import { DEV_JWT_SECRET } from "../../src/lib/dev-defaults.ts";

/** The Worker: `npm run dev` listens on 127.0.0.1:8787. */
export const BASE_URL = process.env.EDGE_CHAT_URL ?? "http://127.0.0.1:8787";

/**
 * The HS256 key the server verifies with: under `npm run dev` the development value; against a
 * deployment, the value you stored with `wrangler secret put JWT_SECRET`.
 */
export const JWT_SECRET = process.env.JWT_SECRET ?? DEV_JWT_SECRET;

/** Makes this run's people and products its own, so examples can run again against the same server. */
export const RUN = Date.now().toString(36);

export function step(text: string): void {
  console.log(`• ${text}`);
}

/** A user of the app through the development login (`DEV_LOGIN=true`, on under `npm run dev`). */
export async function login(name: string): Promise<{ client: ChatClient; user: User }> {
  const client = new ChatClient({ baseUrl: BASE_URL });
  const email = `${name.toLowerCase().replace(/\W+/g, ".")}.${RUN}@example.com`;
  const { user } = await client.login({ email, name });
  return { client, user };
}

/**
 * A token signed with JWT_SECRET, as the app's own auth server would sign one: `sub` is the
 * app's user id; `roles: ["service"]` makes it the app's backend.
 */
export function signToken(subject: string, claims: { email?: string; name?: string; roles?: string[] } = {}, lifetime = "1h"): Promise<string> {
  return new SignJWT({ roles: [], ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(lifetime)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

export const serviceToken = (name: string) => signToken(name, { roles: ["service"] });

export function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`expected ${what}`);
}

/** Resolves with `promise`, or fails naming what did not happen within `ms`. */
export async function within<T>(what: string, promise: Promise<T>, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asks again every 100 ms until the answer satisfies `done` (wrap it in `within` for a deadline). */
export async function eventually<T>(ask: () => Promise<T>, done: (answer: T) => boolean): Promise<T> {
  for (;;) {
    const answer = await ask();
    if (done(answer)) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The API error a call fails with (its `code` is one of the documented codes), or an error if it succeeds. */
export async function refusal(call: Promise<unknown>): Promise<ChatApiError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ChatApiError) return err;
    throw err;
  }
  throw new Error("expected the call to be refused");
}

/** Runs an example: exit code 0 when it played out, 1 (with the reason) when not. Open sockets do not keep it alive. */
export function run(name: string, story: () => Promise<void>): void {
  console.log(`${name} against ${BASE_URL}`);
  story().then(
    () => {
      console.log("✓ done");
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
