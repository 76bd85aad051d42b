/** The batch logs port: one summary row per ingestion batch, compaction run or queue run. */

export interface BatchLog {
  readonly batchId: string;
  readonly userId: string;
  readonly itemCount: number;
  readonly successCount: number;
  readonly failureCount: number;
  readonly conflictCount: number;
  readonly duplicateCount: number;
  readonly startTime: Date;
  readonly endTime: Date;
  /** Milliseconds. */
  readonly duration: number;
  readonly status: 'completed' | 'partial' | 'failed';
  /** `telemetry` for ingestion batches, `snapshot` for scheduled compaction runs. */
  readonly kind: 'telemetry' | 'snapshot' | 'queue';
}

export interface BatchLogStore {
  insert(log: BatchLog): Promise<void>;
  /** Newest first. */
  listForUser(userId: string, limit: number): Promise<BatchLog[]>;
  listSince(since: Date, limit: number): Promise<BatchLog[]>;
  deleteUser(userId: string): Promise<number>;
}
