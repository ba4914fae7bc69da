export interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type BucketKind = "messages" | "typing" | "pings" | "uploads";

export type Take = { allowed: true; bucket: Bucket } | { allowed: false; retryAfterMs: number };

/**
 * Pure token bucket: `perMinute` tokens of capacity, refilled continuously at `perMinute` per
 * minute, so a full minute's allowance may arrive as a burst. A missing bucket is full.
 */
export function take(bucket: Bucket | null, now: number, perMinute: number): Take {
  // Multiply before dividing: waiting exactly retryAfterMs must refill a whole token, and
  // dividing by a rounded rate per ms can leave it at 0.9999….
  const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) : 0;
  const tokens = Math.min(perMinute, (bucket?.tokens ?? perMinute) + (elapsed * perMinute) / 60_000);
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, updatedAt: now } };
  return { allowed: false, retryAfterMs: Math.ceil(((1 - tokens) * 60_000) / perMinute) };
}

/**
 * Per-user buckets, in memory and written behind (see WriteBehind in conversation.ts): a send
 * writes no bucket row. An object is evicted only after it has been idle, so what was not saved
 * yet is at most one write-behind window of spending.
 */
export class Limiter {
  private readonly buckets = new Map<string, Bucket | null>();
  private readonly unsaved = new Set<string>();

  constructor(
    private readonly sql: SqlStorage,
    private readonly onChange: () => void,
  ) {}

  /** Decides without writing; call `commit` with the result in the same transaction as the work it allows. */
  check(userId: string, kind: BucketKind, perMinute: number, now = Date.now()): Take {
    return take(this.load(userId, kind), now, perMinute);
  }

  commit(userId: string, kind: BucketKind, bucket: Bucket): void {
    const key = keyOf(userId, kind);
    this.buckets.set(key, bucket);
    this.unsaved.add(key);
    this.onChange();
  }

  get hasUnsaved(): boolean {
    return this.unsaved.size > 0;
  }

  save(): void {
    for (const key of this.unsaved) {
      const bucket = this.buckets.get(key);
      if (!bucket) continue;
      const [userId, kind] = key.split("\u0000") as [string, BucketKind];
      this.sql.exec("INSERT OR REPLACE INTO buckets (user_id, kind, tokens, updated_at) VALUES (?, ?, ?, ?)", userId, kind, bucket.tokens, bucket.updatedAt);
    }
    this.unsaved.clear();
  }

  private load(userId: string, kind: BucketKind): Bucket | null {
    const key = keyOf(userId, kind);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      const row = this.sql
        .exec<{ tokens: number; updated_at: number }>("SELECT tokens, updated_at FROM buckets WHERE user_id = ? AND kind = ?", userId, kind)
        .toArray()[0];
      bucket = row ? { tokens: row.tokens, updatedAt: row.updated_at } : null;
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}

const keyOf = (userId: string, kind: BucketKind) => `${userId}\u0000${kind}`;
