/**
 * The storage port: what the domain needs from a database, and nothing more. Every adapter
 * (sqlite/, mongo/, the in-memory fake) passes the one conformance suite in
 * `test/storage/conformance.ts`. Adapters throw `StoreUnavailableError` when the database
 * cannot be reached, so callers can retry or answer 503.
 */

/** One Yjs update as it enters the durable log. */
export interface UpdateRecord {
  readonly docName: string;
  readonly update: Uint8Array;
  /** userId of the connection (or `service:<name>`) that produced it. */
  readonly author: string;
  readonly createdAt: Date;
}

/** A log entry read back; `id` comes from the store's unique key, never from "max + 1". */
export interface StoredUpdate extends UpdateRecord {
  readonly id: string;
}

export interface StoredSnapshot {
  /** A full Yjs state (`Y.encodeStateAsUpdate`). */
  readonly state: Uint8Array;
  readonly createdAt: Date;
}

export interface LoadedDocument {
  readonly snapshot: StoredSnapshot | null;
  /** Entries not yet compacted into the snapshot, in append order. */
  readonly updates: readonly StoredUpdate[];
}

export interface DocumentStore {
  /** Appends every record in one write (group commit): all are durable when it resolves. */
  appendUpdates(records: readonly UpdateRecord[]): Promise<void>;
  /** The newest complete snapshot and the log entries after it. */
  loadDocument(docName: string): Promise<LoadedDocument>;
  /**
   * Writes `state` as the document's snapshot (split into parts when large: MongoDB's 16 MB
   * document limit), and only then deletes exactly the log entries `coveredIds`. A crash in
   * between leaves entries that are already in the snapshot, which Yjs applies idempotently.
   */
  compact(docName: string, state: Uint8Array, coveredIds: readonly string[]): Promise<void>;
  /** Names of documents that have log entries (candidates for compaction), up to `limit`. */
  listDocumentsWithLog(limit: number): Promise<string[]>;
  /** Names of documents equal to `userId` or starting with `userId/`. */
  listUserDocuments(userId: string): Promise<string[]>;
  /** Log entries of one document with author and time, oldest first (history, audit). */
  listUpdates(docName: string, limit: number): Promise<StoredUpdate[]>;
  /** Removes the snapshot and every log entry of the document. */
  deleteDocument(docName: string): Promise<void>;
}

/** A named, expiring lock shared by every instance that uses the same store. */
export interface LeaseStore {
  /** True when `owner` now holds `key` for `ttlMs` (acquired, or renewed if already its own). */
  tryAcquire(key: string, owner: string, ttlMs: number): Promise<boolean>;
  release(key: string, owner: string): Promise<void>;
  /**
   * Deletes every lease nobody holds (expired at `now`). Lease keys can name a learner's document
   * (`snapshot:<docName>`); erasure calls this so no such key outlives the learner. Safe against
   * a concurrent `tryAcquire`: a held lease is never expired.
   */
  purgeExpired(now?: Date): Promise<number>;
}

export interface TelemetryMetadata {
  readonly eventId: string;
  readonly clientTimestamp: Date | null;
  readonly serverTimestamp: Date;
  /** When the client says it sent the request; used for clock-skew correction. */
  readonly sentAt?: Date | null;
  /** `receivedAt − (sentAt − clientTimestamp)`, when `sentAt` was given. */
  readonly correctedTimestamp?: Date | null;
  readonly userAgent?: string | null;
  /** Anonymised: last IPv4 octet / last 80 IPv6 bits zeroed. */
  readonly ipAddress?: string | null;
  /** Other client metadata fields, kept as sent (after validation). */
  readonly extra?: Record<string, unknown>;
  /** e.g. `future_timestamp`, `clock_skew`. */
  readonly flags?: readonly string[];
}

export interface TelemetryEventRecord {
  readonly userId: string;
  readonly eventType: string;
  readonly eventData: Record<string, unknown>;
  readonly metadata: TelemetryMetadata;
  readonly status: 'completed' | 'failed' | 'retrying';
  readonly retryCount: number;
  readonly batchId: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface InsertEventsResult {
  /** eventIds newly stored by this call. */
  readonly inserted: readonly string[];
  /** eventIds that were already stored for that user (the unique index said so). */
  readonly duplicates: readonly string[];
}

export interface EventQuery {
  readonly since?: Date;
  readonly eventType?: string;
  /** 1–1000. */
  readonly limit: number;
  /** Opaque, from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface EventPage {
  /** Newest first. */
  readonly events: readonly TelemetryEventRecord[];
  readonly nextCursor: string | null;
}

export interface TelemetryStore {
  /**
   * Stores each event once per `(userId, metadata.eventId)`. Concurrent calls with the same
   * ids store each exactly once; the losers report those ids as duplicates.
   */
  insertEvents(events: readonly TelemetryEventRecord[]): Promise<InsertEventsResult>;
  listEvents(userId: string, query: EventQuery): Promise<EventPage>;
  /** The stored event `(userId, eventId)`, or `null`: a repeated track answers with what was stored. */
  findEvent(userId: string, eventId: string): Promise<TelemetryEventRecord | null>;
  countEvents(userId: string): Promise<number>;
  deleteUserEvents(userId: string): Promise<number>;
  deleteEventsOlderThan(cutoff: Date): Promise<number>;
}

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

/** Who acted, as recorded in the audit trail. */
export type AuditActorRole = 'learner' | 'service' | 'system';

/**
 * What happened. Open-ended (`string & {}`) so new kinds need no port change; these are the
 * ones the server writes itself.
 */
export type AuditAction =
  | 'document.update'
  | 'event.ingest'
  | 'user.erase'
  | 'user.export'
  | 'keys.rotate'
  | 'store.restore'
  | (string & {});

/** One audit fact. Append-only: the only change ever made to a stored entry is erasure's pseudonymisation. */
export interface AuditEntry {
  readonly at: Date;
  /** userId, or `service:<name>` for services and the server's own jobs and commands. */
  readonly actor: string;
  readonly actorRole: AuditActorRole;
  readonly action: AuditAction;
  /** The learner whose data was touched; null for store-wide actions (key rotation). */
  readonly subjectUserId: string | null;
  /** docName, batchId, eventId … whatever the action acted on. */
  readonly target: string | null;
  /** Anonymised client address (same rule as telemetry's `ipAddress`), when known. */
  readonly from: string | null;
  /** Counts and other small facts; never payloads. */
  readonly details: Record<string, unknown> | null;
}

export interface StoredAuditEntry extends AuditEntry {
  readonly id: string;
}

export interface AuditQuery {
  /** Entries whose subject (or actor) is this user. */
  readonly userId?: string;
  readonly since?: Date;
  readonly action?: string;
  /** 1–1000. */
  readonly limit: number;
  /** Opaque, from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface AuditPage {
  /** Oldest first: an audit trail reads as a timeline. */
  readonly entries: readonly StoredAuditEntry[];
  readonly nextCursor: string | null;
}

export interface AuditStore {
  /** Appends every entry in one write. */
  append(entries: readonly AuditEntry[]): Promise<void>;
  list(query: AuditQuery): Promise<AuditPage>;
  /**
   * Erasure (GDPR): every entry whose subject or actor is `userId` gets `pseudonym` in their
   * place and loses `target`, `from` and `details`, so the facts (what, when, by whom's role)
   * stay while nothing identifies the learner. Returns the number of entries changed.
   */
  pseudonymiseUser(userId: string, pseudonym: string): Promise<number>;
  /** Retention (`AUDIT_RETENTION_DAYS`): deletes entries older than `cutoff`. */
  deleteOlderThan(cutoff: Date): Promise<number>;
}

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
