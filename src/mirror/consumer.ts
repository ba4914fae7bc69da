import { eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { database } from "../db/client";
import { mirrorMeter } from "../db/schema";
import { presenceStatement } from "../db/social";
import type { Env } from "../env";
import { announcePresence, latestChanges, type PresenceChange } from "./presence";
import { collapse, decodeMirror, summaryStatements, type SummaryUpdate } from "./summary";

/** Redelivery waits 2, 4, 8 … seconds, at most five minutes (the queue retries for hours). */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 2 ** Math.max(1, attempts));

/**
 * The mirror queue's consumer: one D1 batch (one request to the deployment's single writer) for
 * up to 100 queued updates of any number of conversations and users. The batch is all or
 * nothing; when it fails every message is retried later, and since each statement is
 * idempotent and ordered by its stamp, a redelivered or reordered batch never moves a summary
 * or a presence back. Presence changes D1 took are then announced to who can hear them.
 */
export async function consumeMirror(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = database(env.DB);
  const summaries: SummaryUpdate[] = [];
  const presence: PresenceChange[] = [];
  for (const message of batch.messages) {
    const body = decodeMirror(message.body);
    if (body.kind === "presence") presence.push(body.change);
    else summaries.push(body.update);
  }
  const statements = summaryStatements(db, collapse(summaries));
  const changes = latestChanges(presence);
  const presenceWrite = changes.length > 0 ? [presenceStatement(db, changes)] : [];
  const meter = db
    .update(mirrorMeter)
    .set({
      batches: sql`${mirrorMeter.batches} + 1`,
      messages: sql`${mirrorMeter.messages} + ${batch.messages.length}`,
      statements: sql`${mirrorMeter.statements} + ${statements.length + presenceWrite.length}`,
    })
    .where(eq(mirrorMeter.id, 1));
  let results: unknown[];
  try {
    results = await db.batch([meter, ...statements, ...presenceWrite] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  } catch (err) {
    console.error("mirror batch failed; it will be redelivered", err);
    for (const message of batch.messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  batch.ackAll();
  // The presence statement, when there is one, is the last: it returns the users D1 took.
  const taken = presenceWrite.length > 0 ? (results[results.length - 1] as { id: string }[]) : [];
  const takenIds = new Set(taken.map((row) => row.id));
  await announcePresence(env, db, changes.filter((c) => takenIds.has(c.user_id)));
}
