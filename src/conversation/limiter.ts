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

/** Per-user buckets kept in the Durable Object's storage, so limits survive eviction. */
export class Limiter {
  constructor(private readonly sql: SqlStorage) {}

  /** Decides without writing; call `commit` with the result in the same transaction as the work it allows. */
  check(userId: string, kind: BucketKind, perMinute: number, now = Date.now()): Take {
    const row = this.sql
      .exec<{ tokens: number; updated_at: number }>(
        "SELECT tokens, updated_at FROM buckets WHERE user_id = ? AND kind = ?",
        userId,
        kind,
      )
      .toArray()[0];
    return take(row ? { tokens: row.tokens, updatedAt: row.updated_at } : null, now, perMinute);
  }

  commit(userId: string, kind: BucketKind, bucket: Bucket): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO buckets (user_id, kind, tokens, updated_at) VALUES (?, ?, ?, ?)",
      userId,
      kind,
      bucket.tokens,
      bucket.updatedAt,
    );
  }
}
