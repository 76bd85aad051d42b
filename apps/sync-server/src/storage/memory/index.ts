import type { Store } from '../ports.js';
import { memoryAudit } from './audit.js';
import { memoryBatchLogs } from './batch-logs.js';
import { createMemoryDb } from './connection.js';
import { memoryDocuments } from './documents.js';
import { memoryLeases } from './leases.js';
import { memoryRecords } from './records.js';
import { memorySyncQueue } from './sync-queue.js';
import { memoryTelemetry } from './telemetry.js';

export interface MemoryStore extends Store {
  /**
   * Test hook: while true every call rejects with StoreUnavailableError, as a real store does
   * during an outage, so retry and health logic can be tested without a database.
   */
  unavailable: boolean;
}

/**
 * An in-memory Store for unit tests of logic. It passes the same conformance suite as the real
 * adapters; every method is synchronous inside, so each call is atomic like a transaction.
 */
export function createMemoryStore(): MemoryStore {
  const db = createMemoryDb();
  return {
    kind: 'memory',
    get unavailable() {
      return db.unavailable;
    },
    set unavailable(value: boolean) {
      db.unavailable = value;
    },
    documents: memoryDocuments(db),
    telemetry: memoryTelemetry(db),
    syncQueue: memorySyncQueue(db),
    batchLogs: memoryBatchLogs(db),
    leases: memoryLeases(db),
    audit: memoryAudit(db),
    records: memoryRecords(db),
    ping: db.op(async () => undefined),
    close: async () => {
      db.closed = true;
    },
  };
}
