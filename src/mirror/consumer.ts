import { eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { database } from "../db/client";
import { mirrorMeter } from "../db/schema";
import type { Env } from "../env";
import { collapse, decodeMirror, summaryStatements } from "./summary";

/** Redelivery waits 2, 4, 8 … seconds, at most five minutes (the queue retries for hours). */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 2 ** Math.max(1, attempts));

/**
 * The mirror queue's consumer: one D1 batch (one request to the deployment's single writer) for
 * up to 100 queued updates of any number of conversations. The batch is all or nothing; when it
 * fails every message is retried later, and since each statement is idempotent and ordered by
 * its stamp, a redelivered or reordered batch never moves a summary back.
 */
export async function consumeMirror(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = database(env.DB);
  const statements = summaryStatements(db, collapse(batch.messages.map((m) => decodeMirror(m.body).update)));
  const meter = db
    .update(mirrorMeter)
    .set({
      batches: sql`${mirrorMeter.batches} + 1`,
      messages: sql`${mirrorMeter.messages} + ${batch.messages.length}`,
      statements: sql`${mirrorMeter.statements} + ${statements.length}`,
    })
    .where(eq(mirrorMeter.id, 1));
  try {
    await db.batch([meter, ...statements] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    batch.ackAll();
  } catch (err) {
    console.error("mirror batch failed; it will be redelivered", err);
    for (const message of batch.messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}
