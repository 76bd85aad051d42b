/** The records port: whole-store access for operations tools (backup, restore, key rotation). */
import type { AuditEntry } from './audit.js';
import type { BatchLog } from './batch-logs.js';
import type { SyncQueueItem } from './sync-queue.js';
import type { TelemetryEventRecord } from './telemetry.js';

/** The collections an operations tool can walk, in restore order. */
export const RECORD_COLLECTIONS = ['snapshots', 'updates', 'events', 'queue', 'batchLogs', 'audit'] as const;
export type RecordCollection = (typeof RECORD_COLLECTIONS)[number];

/** One stored record in a store-independent shape (backup lines, restore input). */
export type StoreRecord =
  | { readonly type: 'snapshot'; readonly docName: string; readonly state: Uint8Array; readonly createdAt: Date }
  | { readonly type: 'update'; readonly docName: string; readonly update: Uint8Array; readonly author: string; readonly createdAt: Date }
  | { readonly type: 'event'; readonly event: TelemetryEventRecord }
  | { readonly type: 'queueItem'; readonly item: SyncQueueItem }
  | { readonly type: 'batchLog'; readonly log: BatchLog }
  | { readonly type: 'audit'; readonly entry: AuditEntry };

export interface RecordPage {
  readonly records: readonly StoreRecord[];
  /** Pass as `after` for the next page; null at the end. */
  readonly next: string | null;
}

/**
 * Whole-store access for operations tools (backup, restore, key rotation). No request path
 * uses it: it reads and writes stored values as they are, ciphertext included.
 */
export interface RecordStore {
  /**
   * Every record of one collection in the store's own order, a page at a time: snapshots one
   * per document (newest complete version), the rest one per row.
   */
  scan(collection: RecordCollection, after: string | null, limit: number): Promise<RecordPage>;
  /**
   * Inserts records as they are (times, authors, statuses kept). Events and queue items that
   * already exist (same unique key) are skipped; a snapshot becomes the document's newest.
   * Queue items that were `syncing` come back `pending`: the worker that held them is gone.
   */
  insert(records: readonly StoreRecord[]): Promise<void>;
  /** Replaces the stored `eventData` of one event (key rotation); false when it does not exist. */
  replaceEventData(userId: string, eventId: string, eventData: Record<string, unknown>): Promise<boolean>;
}
