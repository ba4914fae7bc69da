/**
 * What a conversation has cost since this instance started: the numbers the benchmarks report
 * per message. Kept in memory (an eviction starts them again); read through the admin-only
 * stats endpoint.
 */
export class CostMeter {
  messages = 0;
  d1Statements = 0;
  d1RowsWritten = 0;
  d1Flushes = 0;
  /** Summaries sent to the mirror queue (its consumer writes many in one D1 batch). */
  queueSends = 0;
  /** Calls made to user objects to notify inboxes (one per user per round). */
  inboxCalls = 0;
  private readonly startChanges: number;

  constructor(private readonly sql: SqlStorage) {
    this.startChanges = this.totalChanges();
  }

  /** Rows inserted, updated or deleted in this object's SQLite storage since the instance started. */
  storageRowsWritten(): number {
    return this.totalChanges() - this.startChanges;
  }

  snapshot() {
    return {
      messages: this.messages,
      d1_flushes: this.d1Flushes,
      d1_statements: this.d1Statements,
      d1_rows_written: this.d1RowsWritten,
      queue_sends: this.queueSends,
      inbox_calls: this.inboxCalls,
      storage_rows_written: this.storageRowsWritten(),
    };
  }

  private totalChanges(): number {
    return this.sql.exec<{ n: number }>("SELECT total_changes() AS n").one().n;
  }
}

export type CostSnapshot = ReturnType<CostMeter["snapshot"]>;
