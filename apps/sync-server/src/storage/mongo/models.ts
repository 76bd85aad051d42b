import mongoose, { Schema, type Connection, type Types } from 'mongoose';
import type { AuditActorRole, BatchLog, SyncQueueItem, SyncQueueStatus, TelemetryEventRecord } from '../ports.js';

/**
 * The telemetry collections (events, sync queue, batch logs, audit log; docs/api.md) plus the Yjs log, snapshots, claim tickets and leases.
 * Schemas are built per connection (no module-level models), and indexes are built explicitly
 * at connect (`autoIndex: false`) so a store is never used before its unique indexes exist.
 */

export interface TelemetryDoc {
  _id: Types.ObjectId;
  userId: string;
  eventType: string;
  eventData: Record<string, unknown>;
  metadata: TelemetryEventRecord['metadata'];
  status: TelemetryEventRecord['status'];
  retryCount: number;
  batchId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SyncQueueDoc {
  _id: Types.ObjectId;
  userId: string;
  itemKey: string;
  itemType: SyncQueueItem['itemType'];
  itemData: Record<string, unknown>;
  status: SyncQueueStatus;
  priority: number;
  attempts: number;
  conflictResolution: Record<string, unknown> | null;
  createdAt: Date;
  syncedAt: Date | null;
  nextAttemptAt: Date | null;
  /** When the current claim was taken; a `syncing` item older than the stale limit is re-claimable. */
  claimedAt: Date | null;
  /** Generation of the latest claim ticket; see `syncQueueClaims`. */
  claimSeq: number;
  errors: { at: Date; message: string }[];
}

/** A claim ticket `_id = <itemId>:<claimSeq>`: its unique `_id` is what makes a claim exclusive. */
export interface ClaimTicketDoc {
  _id: string;
  itemId: Types.ObjectId;
  userId: string;
  createdAt: Date;
}

export type BatchLogDoc = BatchLog & { _id: Types.ObjectId };

export interface DocUpdateDoc {
  _id: Types.ObjectId;
  docName: string;
  update: Buffer;
  author: string;
  createdAt: Date;
}

export interface DocSnapshotDoc {
  _id: Types.ObjectId;
  docName: string;
  version: number;
  /** Random per compaction; see `newestCompleteVersion`. */
  token: string;
  part: number;
  partCount: number;
  data: Buffer;
  createdAt: Date;
}

/** One lease generation: `_id = <key>#<gen>`; the newest generation is the current holder. */
export interface LeaseDoc {
  _id: string;
  key: string;
  gen: number;
  owner: string;
  expiresAt: Date;
}

export interface AuditDoc {
  _id: Types.ObjectId;
  at: Date;
  actor: string;
  actorRole: AuditActorRole;
  action: string;
  subjectUserId: string | null;
  target: string | null;
  from: string | null;
  details: Record<string, unknown> | null;
}

const options = { versionKey: false, minimize: false, autoIndex: false, autoCreate: false, strict: true } as const;

export function buildModels(conn: Connection) {
  const metadata = new Schema(
    {
      eventId: { type: String, required: true },
      clientTimestamp: { type: Date, default: null },
      serverTimestamp: { type: Date, required: true },
      sentAt: Date,
      correctedTimestamp: Date,
      userAgent: String,
      ipAddress: String,
      extra: Schema.Types.Mixed,
      flags: { type: [String], default: undefined },
    },
    { _id: false, minimize: false },
  );
  const telemetry = new Schema<TelemetryDoc>(
    {
      userId: { type: String, required: true },
      eventType: { type: String, required: true },
      eventData: { type: Schema.Types.Mixed, default: {} },
      metadata: { type: metadata, required: true },
      status: { type: String, enum: ['completed', 'failed', 'retrying'], required: true },
      retryCount: { type: Number, default: 0 },
      batchId: { type: String, default: null },
      createdAt: { type: Date, required: true },
      updatedAt: { type: Date, required: true },
    },
    { ...options, collection: 'telemetry' },
  );
  telemetry.index({ userId: 1, createdAt: -1 });
  telemetry.index({ eventType: 1, createdAt: -1 });
  telemetry.index({ userId: 1, 'metadata.eventId': 1 }, { unique: true });
  // Retention deletes by age across all users.
  telemetry.index({ createdAt: 1 });

  const syncQueue = new Schema<SyncQueueDoc>(
    {
      userId: { type: String, required: true },
      itemKey: { type: String, required: true },
      itemType: { type: String, enum: ['event', 'progress', 'assessment'], required: true },
      itemData: { type: Schema.Types.Mixed, default: {} },
      status: { type: String, enum: ['pending', 'syncing', 'synced', 'error'], required: true },
      priority: { type: Number, default: 0 },
      attempts: { type: Number, default: 0 },
      conflictResolution: { type: Schema.Types.Mixed, default: null },
      createdAt: { type: Date, required: true },
      syncedAt: { type: Date, default: null },
      nextAttemptAt: { type: Date, default: null },
      claimedAt: { type: Date, default: null },
      claimSeq: { type: Number, default: 0 },
      errors: [{ _id: false, at: Date, message: String }],
    },
    // `errors` is the API's field name; we never use mongoose documents' own `errors`.
    { ...options, collection: 'syncQueues', suppressReservedKeysWarning: true },
  );
  syncQueue.index({ userId: 1, status: 1 });
  syncQueue.index({ userId: 1, itemKey: 1 }, { unique: true });
  syncQueue.index({ status: 1, priority: -1, createdAt: 1 });

  const claims = new Schema<ClaimTicketDoc>(
    { _id: String, itemId: { type: Schema.Types.ObjectId, required: true }, userId: { type: String, required: true }, createdAt: Date },
    { ...options, collection: 'syncQueueClaims' },
  );
  claims.index({ itemId: 1 });
  claims.index({ userId: 1 });

  const batchLogs = new Schema<BatchLogDoc>(
    {
      batchId: { type: String, required: true },
      userId: { type: String, required: true },
      kind: { type: String, enum: ['telemetry', 'snapshot', 'queue'], required: true },
      itemCount: Number,
      successCount: Number,
      failureCount: Number,
      conflictCount: Number,
      duplicateCount: Number,
      startTime: { type: Date, required: true },
      endTime: Date,
      duration: Number,
      status: { type: String, enum: ['completed', 'partial', 'failed'] },
    },
    { ...options, collection: 'batchLogs' },
  );
  batchLogs.index({ userId: 1, startTime: -1 });
  batchLogs.index({ startTime: -1 });

  const docUpdates = new Schema<DocUpdateDoc>(
    {
      docName: { type: String, required: true },
      update: { type: Buffer, required: true },
      author: { type: String, required: true },
      createdAt: { type: Date, required: true },
    },
    { ...options, collection: 'docUpdates' },
  );
  docUpdates.index({ docName: 1, _id: 1 });

  const docSnapshots = new Schema<DocSnapshotDoc>(
    {
      docName: { type: String, required: true },
      version: { type: Number, required: true },
      token: { type: String, required: true },
      part: { type: Number, required: true },
      partCount: { type: Number, required: true },
      data: { type: Buffer, required: true },
      createdAt: { type: Date, required: true },
    },
    { ...options, collection: 'docSnapshots' },
  );
  // Unique: two writers of the same next version cannot both succeed.
  docSnapshots.index({ docName: 1, version: 1, part: 1 }, { unique: true });

  const leases = new Schema<LeaseDoc>(
    { _id: String, key: { type: String, required: true }, gen: { type: Number, required: true }, owner: String, expiresAt: Date },
    { ...options, collection: 'leases' },
  );
  leases.index({ key: 1, gen: -1 });

  const auditLog = new Schema<AuditDoc>(
    {
      at: { type: Date, required: true },
      actor: { type: String, required: true },
      actorRole: { type: String, enum: ['learner', 'service', 'system'], required: true },
      action: { type: String, required: true },
      subjectUserId: { type: String, default: null },
      target: { type: String, default: null },
      from: { type: String, default: null },
      details: { type: Schema.Types.Mixed, default: null },
    },
    { ...options, collection: 'auditLog' },
  );
  auditLog.index({ at: 1, _id: 1 });
  auditLog.index({ subjectUserId: 1, at: 1 });
  auditLog.index({ actor: 1 });

  return {
    auditLog: conn.model<AuditDoc>('AuditLog', auditLog),
    telemetry: conn.model<TelemetryDoc>('Telemetry', telemetry),
    syncQueue: conn.model<SyncQueueDoc>('SyncQueue', syncQueue),
    claims: conn.model<ClaimTicketDoc>('SyncQueueClaim', claims),
    batchLogs: conn.model<BatchLogDoc>('BatchLog', batchLogs),
    docUpdates: conn.model<DocUpdateDoc>('DocUpdate', docUpdates),
    docSnapshots: conn.model<DocSnapshotDoc>('DocSnapshot', docSnapshots),
    leases: conn.model<LeaseDoc>('Lease', leases),
  };
}

export type Models = ReturnType<typeof buildModels>;

export const ObjectId = mongoose.Types.ObjectId;
