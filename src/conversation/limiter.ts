import type { Config } from "../lib/config";

export interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** The buckets a conversation object keeps per user. */
export type BucketKind = "messages" | "typing" | "pings" | "uploads" | "voice_notes" | "reactions";

/** The buckets an upload may take from: voice notes have their own, every other file takes uploads. */
export type UploadBucket = Extract<BucketKind, "uploads" | "voice_notes">;

/**
 * Policy as data: what each bucket pays for, the rate it takes from the configuration, and what
 * a refusal says. Conversation.spend is the one place a token is taken.
 */
export const BUCKETS: Record<BucketKind, { rate: keyof Config["rates"]; refusal: string; acrossConversations?: true }> = {
  // Sends, offers, offer answers and edits. Also held across all of the user's conversations:
  // spends are reported to the user's object (see UserThrottle).
  messages: { rate: "messagesPerMin", refusal: "too many messages; slow down", acrossConversations: true },
  // Refused typing is dropped quietly (typing.stop is free).
  typing: { rate: "typingPerMin", refusal: "too much typing" },
  pings: { rate: "pingsPerMin", refusal: "too many pings" },
  // Uploads (files and images), admitted before their body is read.
  uploads: { rate: "uploadsPerMin", refusal: "too many uploads; slow down" },
  // Voice notes (POST …/voice-notes), admitted the same way; recording one does not use up file uploads.
  voice_notes: { rate: "voiceNotesPerMin", refusal: "too many voice notes; slow down" },
  // Every reaction added or removed.
  reactions: { rate: "reactionsPerMin", refusal: "too many reactions; slow down" },
};

/**
 * The buckets a user's object keeps for the user as a whole: conversations created (taken by the
 * Worker before it creates one, RATE_CONVERSATIONS_PER_MIN) and messages across all of their
 * conversations (spends reported by the conversations, see UserThrottle).
 */
export type UserBucket = "conversations" | "messages";

export type Take = { allowed: true; bucket: Bucket } | { allowed: false; retryAfterMs: number };

/** The tokens a bucket holds at `now`: refilled continuously, never above `perMinute`. A missing bucket is full. */
function tokensAt(bucket: Bucket | null, now: number, perMinute: number): number {
  // Multiply before dividing: waiting exactly retryAfterMs must refill a whole token, and
  // dividing by a rounded rate per ms can leave it at 0.9999….
  const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) : 0;
  return Math.min(perMinute, (bucket?.tokens ?? perMinute) + (elapsed * perMinute) / 60_000);
}

/** How long until a bucket holding `tokens` holds one whole token again. */
const untilOneToken = (tokens: number, perMinute: number) => Math.ceil(((1 - tokens) * 60_000) / perMinute);

/**
 * Pure token bucket: `perMinute` tokens of capacity, refilled continuously at `perMinute` per
 * minute, so a full minute's allowance may arrive as a burst. A missing bucket is full.
 */
export function take(bucket: Bucket | null, now: number, perMinute: number): Take {
  const taken = takeUpTo(bucket, now, perMinute, 1, 0);
  return taken.allowed ? { allowed: true, bucket: taken.bucket } : taken;
}

/**
 * Pure: up to `want` whole tokens at once (at least one, or a refusal), after `returned` tokens
 * taken earlier and not spent went back (never above capacity).
 */
export function takeUpTo(
  bucket: Bucket | null,
  now: number,
  perMinute: number,
  want: number,
  returned: number,
): { allowed: true; granted: number; bucket: Bucket } | { allowed: false; retryAfterMs: number } {
  const tokens = Math.min(perMinute, tokensAt(bucket, now, perMinute) + returned);
  if (tokens < 1) return { allowed: false, retryAfterMs: untilOneToken(tokens, perMinute) };
  const granted = Math.max(1, Math.min(want, Math.floor(tokens)));
  return { allowed: true, granted, bucket: { tokens: tokens - granted, updatedAt: now } };
}

/**
 * Pure: `count` tokens that were already spent (elsewhere, and reported late) come off the bucket,
 * which may go below zero — that debt is waited off. `throttledUntil` is when the bucket next
 * holds a whole token, or null when it holds one now.
 */
export function debit(bucket: Bucket | null, count: number, now: number, perMinute: number): { bucket: Bucket; throttledUntil: number | null } {
  const tokens = tokensAt(bucket, now, perMinute) - count;
  return { bucket: { tokens, updatedAt: now }, throttledUntil: tokens >= 1 ? null : now + untilOneToken(tokens, perMinute) };
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

  /** Decides without writing; `commit` the result once the work it allows has been written (Conversation.spend). */
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
