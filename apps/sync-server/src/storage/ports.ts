/**
 * The storage ports: what the domain needs from a database, and nothing more, one narrow port
 * per concern (`ports/*.ts`) so a consumer can depend on only what it uses. `Store` composes
 * them: everything one database provides. Every adapter (sqlite/, mongo/, memory/) passes the
 * one conformance suite in `test/storage/conformance.ts`. Adapters throw `StoreUnavailableError`
 * when the database cannot be reached, so callers can retry or answer 503, and
 * `InvalidCursorError` (storage/errors.ts) for a page cursor they did not make.
 */
import type { AuditStore } from './ports/audit.js';
import type { BatchLogStore } from './ports/batch-logs.js';
import type { DocumentStore } from './ports/documents.js';
import type { LeaseStore } from './ports/leases.js';
import type { RecordStore } from './ports/records.js';
import type { SyncQueueStore } from './ports/sync-queue.js';
import type { TelemetryStore } from './ports/telemetry.js';

export type * from './ports/audit.js';
export type * from './ports/batch-logs.js';
export type * from './ports/documents.js';
export type * from './ports/leases.js';
export type * from './ports/sync-queue.js';
export type * from './ports/telemetry.js';
export type * from './ports/records.js';
export type * from './ports/backups.js';
export { RECORD_COLLECTIONS } from './ports/records.js';

/** Everything one database provides. */
export interface Store {
  readonly kind: 'sqlite' | 'mongodb' | 'memory';
  readonly documents: DocumentStore;
  readonly telemetry: TelemetryStore;
  readonly syncQueue: SyncQueueStore;
  readonly batchLogs: BatchLogStore;
  readonly leases: LeaseStore;
  /** Append-only audit trail (table `audit_log` / collection `auditLog`). */
  readonly audit: AuditStore;
  /** Backup, restore and key rotation. */
  readonly records: RecordStore;
  /** Resolves when the database answers; throws `StoreUnavailableError` otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
