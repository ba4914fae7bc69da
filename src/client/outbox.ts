// Sends waiting for their ack. Each keeps its client_id for life, so a retry (after a timeout,
// a reconnect or a reload) can never make a second message: the server answers a repeated
// client_id with the first message.
import type { SendFrameFields } from "./types.js";

/** One send: the fields of its `message.send` frame, and when the app made it. */
export type OutboxItem = SendFrameFields & { created_at: string };

/** Where pending sends survive a reload. Both methods may be synchronous or return promises. */
export interface OutboxStorage {
  load(): OutboxItem[] | Promise<OutboxItem[]>;
  save(items: OutboxItem[]): void | Promise<void>;
}

/** The default: pending sends live as long as the object (they survive reconnects, not reloads). */
export class MemoryOutboxStorage implements OutboxStorage {
  private items: OutboxItem[] = [];

  load(): OutboxItem[] {
    return this.items.map((item) => ({ ...item }));
  }

  save(items: OutboxItem[]): void {
    this.items = items.map((item) => ({ ...item }));
  }
}

/** The part of `localStorage`, `sessionStorage` or React Native's AsyncStorage that is needed. */
export interface KeyValueStore {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
}

/** An OutboxStorage over a key-value store, as JSON under `key` (one key per conversation). */
export function keyValueOutboxStorage(store: KeyValueStore, key: string): OutboxStorage {
  return {
    async load() {
      const raw = await store.getItem(key);
      if (!raw) return [];
      const parsed: unknown = JSON.parse(raw);
      if (!Array.isArray(parsed)) return [];
      return parsed.filter((item): item is OutboxItem => typeof item === "object" && item !== null && typeof item.client_id === "string");
    },
    async save(items) {
      await store.setItem(key, JSON.stringify(items));
    },
  };
}

/** The ordered list of pending sends, written through to its storage (one write at a time, in order). */
export class Outbox {
  private items: OutboxItem[] = [];
  private saving: Promise<void>;
  /** Settles once the storage has been read. */
  readonly ready: Promise<void>;

  constructor(
    private readonly storage: OutboxStorage,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.ready = (async () => {
      try {
        const loaded = await storage.load();
        const early = this.items;
        const known = new Set(loaded.map((item) => item.client_id));
        this.items = [...loaded, ...early.filter((item) => !known.has(item.client_id))];
        if (early.length > 0) this.persist();
      } catch (err) {
        onError(err);
      }
    })();
    this.saving = this.ready;
  }

  /** Pending sends, oldest first. */
  get pending(): readonly OutboxItem[] {
    return this.items;
  }

  get size(): number {
    return this.items.length;
  }

  get(clientId: string): OutboxItem | undefined {
    return this.items.find((item) => item.client_id === clientId);
  }

  add(item: OutboxItem): void {
    if (this.get(item.client_id)) return;
    this.items.push(item);
    this.persist();
  }

  remove(clientId: string): OutboxItem | undefined {
    const index = this.items.findIndex((item) => item.client_id === clientId);
    if (index < 0) return undefined;
    const [removed] = this.items.splice(index, 1);
    this.persist();
    return removed;
  }

  /** Settles when every change so far has been handed to the storage. */
  flushed(): Promise<void> {
    return this.saving;
  }

  private persist(): void {
    const snapshot = this.items.map((item) => ({ ...item }));
    this.saving = this.saving.then(() => this.storage.save(snapshot)).catch((err: unknown) => this.onError(err));
  }
}
