import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Config } from "../../src/lib/config";

/** The conversation's Durable Object, typed as a plain stub (the RPC-typed one is too deep for tsc in tests). */
export function stubOf(conversationId: string): DurableObjectStub {
  return env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId)) as unknown as DurableObjectStub;
}

/** runInDurableObject with a loose signature: its overloads over the RPC stub type are too deep for tsc. */
export const runInside = runInDurableObject as unknown as <R>(
  stub: DurableObjectStub,
  callback: (instance: Record<string, unknown>, state: DurableObjectState) => R | Promise<R>,
) => Promise<R>;

function schemaNames(conversationId: string, type: "table" | "index"): Promise<string[]> {
  return runInside(stubOf(conversationId), (_instance, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = ? ORDER BY name", type)
      .toArray()
      .map((row) => row.name),
  );
}

/** The names of the tables in the object's SQLite storage (none for an object that was never created). */
export const storageTables = (conversationId: string) => schemaNames(conversationId, "table");

/** The names of the indexes in the object's SQLite storage. */
export const storageIndexes = (conversationId: string) => schemaNames(conversationId, "index");

/** A stand-in for `target` whose `method` rejects (counting the calls in `fault`); everything else passes through. */
export function failing<T extends object>(target: T, method: string, fault: { calls: number } = { calls: 0 }): T {
  return new Proxy(target, {
    get(real, prop) {
      if (prop === method) {
        return async () => {
          fault.calls++;
          throw new Error(`injected ${method} failure (test)`);
        };
      }
      const value = Reflect.get(real, prop, real) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(real) : value;
    },
  });
}

/**
 * `db`, counting the requests made through it: each batch is one, and so is each statement run
 * on its own (all, run, raw, first).
 */
export function countingD1(db: D1Database): { db: D1Database; requests: () => number } {
  let requests = 0;
  const counted = <T extends object>(target: T, methods: string[]): T =>
    new Proxy(target, {
      get(real, prop) {
        const value = Reflect.get(real, prop, real) as unknown;
        if (typeof value !== "function") return value;
        const bound = (value as (...args: unknown[]) => unknown).bind(real);
        if (methods.includes(prop as string)) return (...args: unknown[]) => (requests++, bound(...args));
        if (prop === "prepare" || prop === "bind") return (...args: unknown[]) => counted(bound(...args) as object, ["all", "run", "raw", "first"]);
        return bound;
      },
    });
  return { db: counted(db, ["batch", "exec"]), requests: () => requests };
}

/** The user's Durable Object (inbox sockets, presence, the user's own buckets), typed as a plain stub. */
export function userStubOf(userId: string): DurableObjectStub {
  return env.USERS.get(env.USERS.idFromName(userId)) as unknown as DurableObjectStub;
}

type WithConfig = { parts: { chat: { config: Config } } };

/**
 * Per-test configuration: replaces fields of the conversation object's configuration (as
 * src/lib/config.ts parses it) in memory, until the object is evicted.
 */
export function overrideConfig(conversationId: string, patch: Partial<Omit<Config, "rates">>): Promise<void> {
  return runInside(stubOf(conversationId), (instance) => {
    Object.assign((instance as unknown as WithConfig).parts.chat.config, patch);
  });
}

/** Per-test limits: replaces rates (RATE_*_PER_MIN, as src/lib/config.ts names them) the same way. */
export function overrideRates(conversationId: string, rates: Partial<Config["rates"]>): Promise<void> {
  return runInside(stubOf(conversationId), (instance) => {
    Object.assign((instance as unknown as WithConfig).parts.chat.config.rates, rates);
  });
}
