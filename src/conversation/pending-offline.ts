import type { StateStore } from "./storage";

/**
 * Participants whose last socket closed, and when their going offline may be announced: after
 * PRESENCE_GRACE_MS, so a reconnect within it shows no flicker (neither offline nor online).
 * Stored, so the alarm that announces it finds it after an eviction too.
 */
export class PendingOffline {
  private readonly pending: Record<string, number>;

  constructor(private readonly state: StateStore) {
    this.pending = JSON.parse(state.get("pending_offline") ?? "{}") as Record<string, number>;
  }

  schedule(userId: string, at: number): void {
    this.pending[userId] = at;
    this.save();
  }

  /** The user is back before their offline was announced; returns whether there was one pending. */
  cancel(userId: string): boolean {
    if (!(userId in this.pending)) return false;
    delete this.pending[userId];
    this.save();
    return true;
  }

  /** Takes the users whose grace has ended by `now`. */
  takeDue(now: number): string[] {
    const due = Object.keys(this.pending).filter((id) => this.pending[id]! <= now);
    if (due.length === 0) return due;
    for (const id of due) delete this.pending[id];
    this.save();
    return due;
  }

  nextAt(): number | null {
    const times = Object.values(this.pending);
    return times.length === 0 ? null : Math.min(...times);
  }

  private save(): void {
    this.state.set("pending_offline", JSON.stringify(this.pending));
  }
}
