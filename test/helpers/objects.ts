import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";

/** The conversation's Durable Object, typed as a plain stub (the RPC-typed one is too deep for tsc in tests). */
export function stubOf(conversationId: string): DurableObjectStub {
  return env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId)) as unknown as DurableObjectStub;
}

/** runInDurableObject with a loose signature: its overloads over the RPC stub type are too deep for tsc. */
export const runInside = runInDurableObject as unknown as <R>(
  stub: DurableObjectStub,
  callback: (instance: Record<string, unknown>, state: DurableObjectState) => R | Promise<R>,
) => Promise<R>;

/** The names of the tables in the object's SQLite storage (none for an object that was never created). */
export function storageTables(conversationId: string): Promise<string[]> {
  return runInside(stubOf(conversationId), (_instance, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .toArray()
      .map((row) => row.name),
  );
}
