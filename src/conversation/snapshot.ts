import type { StateStore } from "./storage";

/**
 * What the conversation Durable Object needs to know of D1's conversation row: who may take
 * part and whether it is open. The Worker reads it from D1 (the source of truth) for its own
 * access check and hands it over with every call, so the copy here is never older than the
 * last call.
 */
export interface ConversationSnapshot {
  id: string;
  status: "active" | "closed";
  participantIds: string[];
  /** Participants who may read but not send: blocked by the other side, or not friends under DM_POLICY=friends. */
  refusals: Record<string, "BLOCKED" | "NOT_FRIENDS">;
}

export interface SnapshotChange {
  removed: string[];
}

export class SnapshotStore {
  private cached: ConversationSnapshot | null = null;
  private cachedText: string | null = null;

  constructor(private readonly state: StateStore) {
    this.cachedText = state.get("snapshot");
    this.cached = this.cachedText ? (JSON.parse(this.cachedText) as ConversationSnapshot) : null;
  }

  get current(): ConversationSnapshot | null {
    return this.cached;
  }

  /** Stores a newer snapshot (writing only when it differs) and says who left. */
  update(next: ConversationSnapshot): SnapshotChange {
    const normalised = { ...next, participantIds: [...next.participantIds].sort() };
    const text = JSON.stringify(normalised);
    if (text === this.cachedText) return { removed: [] };
    const before = new Set(this.cached?.participantIds ?? []);
    const after = new Set(normalised.participantIds);
    this.state.set("snapshot", text);
    this.cached = normalised;
    this.cachedText = text;
    return { removed: [...before].filter((id) => !after.has(id)) };
  }

  refusalFor(userId: string): "BLOCKED" | "NOT_FRIENDS" | null {
    return this.cached?.refusals?.[userId] ?? null;
  }

  isParticipant(userId: string): boolean {
    return this.cached?.participantIds.includes(userId) ?? false;
  }
}
