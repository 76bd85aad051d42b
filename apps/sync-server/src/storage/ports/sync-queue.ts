/** The sync queue port: idempotent work items with claims, retries and per-user status. */

export type SyncQueueStatus = 'pending' | 'syncing' | 'synced' | 'error';

export interface SyncQueueError {
  readonly at: Date;
  readonly message: string;
}

export interface SyncQueueItem {
  readonly id: string;
  readonly userId: string;
  /** Idempotency key, unique per user (e.g. `assessment:<assessmentId>` or `<batchId>:<index>`). */
  readonly itemKey: string;
  readonly itemType: 'event' | 'progress' | 'assessment';
  readonly itemData: Record<string, unknown>;
  readonly status: SyncQueueStatus;
  readonly priority: number;
  readonly attempts: number;
  readonly conflictResolution: Record<string, unknown> | null;
  readonly createdAt: Date;
  readonly syncedAt: Date | null;
  /** Earliest time a failed item may be retried. */
  readonly nextAttemptAt: Date | null;
  readonly errors: readonly SyncQueueError[];
}

export type NewSyncQueueItem = Pick<SyncQueueItem, 'userId' | 'itemKey' | 'itemType' | 'itemData' | 'priority'>;

export interface SyncQueueStore {
  /** Inserts items unless `(userId, itemKey)` exists; returns the stored items and the keys that already existed. */
  enqueue(items: readonly NewSyncQueueItem[]): Promise<{ inserted: readonly SyncQueueItem[]; duplicates: readonly string[] }>;
  /**
   * Atomically moves up to `limit` items that are `pending`, or `error` with `attempts < maxAttempts`
   * and `nextAttemptAt <= now`, or `syncing` for longer than `staleAfterMs` (a crashed worker),
   * to `syncing`, and returns them.
   */
  claim(limit: number, now: Date, maxAttempts: number, staleAfterMs: number): Promise<SyncQueueItem[]>;
  markSynced(ids: readonly string[], at: Date, conflictResolution?: Record<string, unknown> | null): Promise<void>;
  /** Records the error, increments attempts, sets status `error` and the next attempt time. */
  markFailed(id: string, error: SyncQueueError, nextAttemptAt: Date | null): Promise<void>;
  countByStatus(userId: string): Promise<Record<SyncQueueStatus, number>>;
  lastSyncedAt(userId: string): Promise<Date | null>;
  listForUser(userId: string, limit: number): Promise<SyncQueueItem[]>;
  deleteUser(userId: string): Promise<number>;
}
