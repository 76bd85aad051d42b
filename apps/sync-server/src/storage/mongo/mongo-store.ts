import { randomUUID } from 'node:crypto';
import mongoose, { type Types } from 'mongoose';
import { StoreUnavailableError } from '../../errors.js';
import type {
  AuditEntry,
  AuditPage,
  AuditQuery,
  AuditStore,
  BatchLog,
  BatchLogStore,
  DocumentStore,
  EventPage,
  EventQuery,
  InsertEventsResult,
  LeaseStore,
  LoadedDocument,
  NewSyncQueueItem,
  RecordCollection,
  RecordPage,
  RecordStore,
  Store,
  StoreRecord,
  StoredUpdate,
  SyncQueueError,
  SyncQueueItem,
  SyncQueueStatus,
  SyncQueueStore,
  TelemetryEventRecord,
  TelemetryStore,
  UpdateRecord,
} from '../ports.js';
import { silentLogger, type StoreLogger } from '../logger.js';
import {
  MAX_QUEUE_ERRORS,
  clampLimit,
  emptyStatusCounts,
  encodeCursor,
  joinParts,
  newestCompleteVersion,
  requireCursor,
  splitSnapshot,
  userDocumentRange,
} from '../shared.js';
import { ObjectId, buildModels, type AuditDoc, type BatchLogDoc, type DocSnapshotDoc, type DocUpdateDoc, type SyncQueueDoc, type TelemetryDoc } from './models.js';

export interface MongoStoreOptions {
  /** mongodb:// URI; its database name is the one used. */
  readonly uri: string;
  readonly logger?: StoreLogger;
  /**
   * How long an operation waits for a reachable server before failing with
   * StoreUnavailableError, ms. Default 2000: an outage is noticed fast and answered with 503.
   */
  readonly serverSelectionTimeoutMS?: number;
}

const DUPLICATE_KEY = 11000;
/** Bounds the size of one `$in` list; FerretDB turns each into a SQL query. */
const ID_CHUNK = 1000;

const connectionErrorNames = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoPoolClearedError',
  'MongoServerClosedError',
  'MongoWaitQueueTimeoutError',
  'MongoOperationTimeoutError',
]);

/**
 * Socket errors the driver can surface unwrapped: when the server dies while a pooled
 * connection is being written to, Node's "This socket has been ended by the other party"
 * (EPIPE) reaches the caller as is (seen with FerretDB killed mid-session).
 */
const socketErrorCodes = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof mongoose.mongo.MongoNetworkError || err instanceof mongoose.mongo.MongoServerSelectionError) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && socketErrorCodes.has(code)) return true;
  return connectionErrorNames.has(err.name) || (err.cause !== undefined && err.cause !== err && isConnectionError(err.cause));
}

interface WriteErrorLike {
  readonly index: number;
  readonly code: number;
}

/** The per-document errors of an unordered bulk insert, or null when `err` is something else. */
function writeErrorsOf(err: unknown): readonly WriteErrorLike[] | null {
  if (typeof err !== 'object' || err === null || !('writeErrors' in err)) return null;
  const raw = (err as { writeErrors: unknown }).writeErrors;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.filter((w): w is WriteErrorLike => typeof w === 'object' && w !== null && typeof (w as WriteErrorLike).index === 'number');
}

/**
 * Runs an unordered insert and returns the indexes rejected by a unique index. Any other write
 * error (or a failure of the whole command) is rethrown.
 */
async function insertIgnoringDuplicates(insert: () => Promise<unknown>): Promise<Set<number>> {
  try {
    await insert();
    return new Set();
  } catch (err) {
    const writeErrors = writeErrorsOf(err);
    if (writeErrors === null || writeErrors.length === 0 || writeErrors.some((w) => w.code !== DUPLICATE_KEY)) throw err;
    return new Set(writeErrors.map((w) => w.index));
  }
}

function isDuplicateKey(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { code?: unknown }).code === DUPLICATE_KEY) return true;
  const writeErrors = writeErrorsOf(err);
  return writeErrors !== null && writeErrors.length > 0 && writeErrors.every((w) => w.code === DUPLICATE_KEY);
}

const toObjectIds = (ids: readonly string[]): Types.ObjectId[] => ids.filter((id) => /^[0-9a-f]{24}$/i.test(id)).map((id) => new ObjectId(id));

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** BSON has no `undefined`: drop such keys so they read back absent, not null. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Lean reads return BSON `Binary` for Buffer paths (or a Buffer, depending on the path); both become a Uint8Array. */
function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof mongoose.mongo.Binary) return value.value();
  throw new TypeError('expected binary data');
}

const toUpdate = (d: DocUpdateDoc): StoredUpdate => ({
  id: d._id.toHexString(),
  docName: d.docName,
  update: bytesOf(d.update),
  author: d.author,
  createdAt: d.createdAt,
});

const toEvent = (d: TelemetryDoc): TelemetryEventRecord => ({
  userId: d.userId,
  eventType: d.eventType,
  eventData: d.eventData,
  metadata: d.metadata,
  status: d.status,
  retryCount: d.retryCount,
  batchId: d.batchId ?? null,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

const toQueueItem = (d: SyncQueueDoc): SyncQueueItem => ({
  id: d._id.toHexString(),
  userId: d.userId,
  itemKey: d.itemKey,
  itemType: d.itemType,
  itemData: d.itemData,
  status: d.status,
  priority: d.priority,
  attempts: d.attempts,
  conflictResolution: d.conflictResolution ?? null,
  createdAt: d.createdAt,
  syncedAt: d.syncedAt ?? null,
  nextAttemptAt: d.nextAttemptAt ?? null,
  errors: (d.errors ?? []).map((e) => ({ at: e.at, message: e.message })),
});

const toBatchLog = ({ _id: _ignored, ...log }: BatchLogDoc): BatchLog => log;

/**
 * Wraps every method so connection failures surface as StoreUnavailableError. The driver keeps
 * monitoring the server and reconnects by itself, so the next call after an outage just works.
 */
function guarded<T extends object>(target: T, onUnavailable: (err: unknown) => void): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(target)) {
    out[name] =
      typeof value === 'function'
        ? async (...args: unknown[]) => {
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>)(...args);
            } catch (err) {
              if (!isConnectionError(err)) throw err;
              onUnavailable(err);
              throw new StoreUnavailableError(`MongoDB is unavailable: ${(err as Error).message}`, { cause: err });
            }
          }
        : value;
  }
  return out as T;
}

/**
 * The production store on MongoDB (and FerretDB 1.x, which the tests run against). FerretDB 1.x
 * has no multi-document transactions and, as measured, does not apply a conditional update
 * (`findOneAndUpdate`/`updateOne` with a status filter) atomically: concurrent callers all
 * "win". The only atomic primitive both share is a unique index, so every exclusive step here
 * (claims, leases, snapshot versions, event dedupe) is an insert that a unique key can refuse.
 */
export async function createMongoStore(options: MongoStoreOptions): Promise<Store> {
  const logger = options.logger ?? silentLogger;
  const timeout = options.serverSelectionTimeoutMS ?? 2000;
  // A dedicated connection: no state on the mongoose singleton, several stores per process work.
  const conn = mongoose.createConnection(options.uri, {
    serverSelectionTimeoutMS: timeout,
    connectTimeoutMS: timeout,
    // Fail at once instead of queueing operations for 10 s while disconnected.
    bufferCommands: false,
    autoIndex: false,
    autoCreate: false,
  });
  try {
    await conn.asPromise();
  } catch (err) {
    await conn.close(true).catch(() => undefined);
    throw new StoreUnavailableError(`cannot connect to MongoDB: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  const m = buildModels(conn);
  try {
    // Sequential: FerretDB creates the backing PostgreSQL tables on first use, and concurrent
    // DDL on one database can deadlock there. Awaited, so unique indexes exist before any write.
    for (const model of Object.values(m)) await model.createIndexes();
  } catch (err) {
    await conn.close(true).catch(() => undefined);
    if (isConnectionError(err)) throw new StoreUnavailableError(`MongoDB became unavailable while building indexes: ${(err as Error).message}`, { cause: err });
    throw err;
  }

  const onUnavailable = (err: unknown): void => logger.warn({ err }, 'mongodb store unavailable');

  async function readSnapshot(docName: string): Promise<LoadedDocument['snapshot']> {
    // A compaction may delete the version we picked between our two reads; then pick again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const metas = await m.docSnapshots.find({ docName }, { version: 1, token: 1, part: 1, partCount: 1 }).lean<Pick<DocSnapshotDoc, 'version' | 'token' | 'part' | 'partCount'>[]>();
      const newest = newestCompleteVersion(metas);
      if (newest === null) return null;
      const parts = await m.docSnapshots.find({ docName, version: newest.version, token: newest.token }).sort({ part: 1 }).lean<DocSnapshotDoc[]>();
      const first = parts[0];
      if (first !== undefined && parts.length === first.partCount) return { state: joinParts(parts.map((p) => bytesOf(p.data))), createdAt: first.createdAt };
    }
    throw new Error(`snapshot of ${docName} kept changing while being read`);
  }

  const documents: DocumentStore = {
    async appendUpdates(records: readonly UpdateRecord[]) {
      if (records.length === 0) return;
      const docs = records.map((r) => ({ _id: new ObjectId(), docName: r.docName, update: Buffer.from(r.update.buffer, r.update.byteOffset, r.update.byteLength), author: r.author, createdAt: r.createdAt }));
      // Ordered: ObjectIds made in this order sort in this order, which is the log order.
      await m.docUpdates.insertMany(docs, { ordered: true, lean: true });
    },

    async loadDocument(docName: string) {
      // Log before snapshot: a compaction in between then at worst gives entries the snapshot
      // already contains (applied idempotently), never a snapshot missing deleted entries.
      const updates = (await m.docUpdates.find({ docName }).sort({ _id: 1 }).lean<DocUpdateDoc[]>()).map(toUpdate);
      return { snapshot: await readSnapshot(docName), updates };
    },

    async compact(docName: string, state: Uint8Array, coveredIds: readonly string[]) {
      const metas = await m.docSnapshots.find({ docName }, { version: 1 }).sort({ version: -1 }).limit(1).lean<Pick<DocSnapshotDoc, 'version'>[]>();
      // A snapshot version, not a log id: the unique (docName, version, part) index refuses a
      // second writer of the same version, and the token keeps a mixed set from looking complete.
      const version = (metas[0]?.version ?? 0) + 1;
      const token = randomUUID();
      const parts = splitSnapshot(state);
      const createdAt = new Date();
      try {
        // One part per insert: each is up to 12 MiB, and a batch would approach the 48 MB message limit.
        for (const [part, data] of parts.entries()) {
          await m.docSnapshots.insertMany([{ _id: new ObjectId(), docName, version, token, part, partCount: parts.length, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), createdAt }], { lean: true });
        }
      } catch (err) {
        await m.docSnapshots.deleteMany({ docName, version, token }).catch(() => undefined);
        if (isDuplicateKey(err)) throw new Error(`another writer is compacting ${docName} (snapshot version ${version} exists)`, { cause: err });
        throw err;
      }
      // The new version is complete, so it is what readers now load; only then drop the old ones.
      await m.docSnapshots.deleteMany({ docName, version: { $lt: version } });
      for (const ids of chunks(toObjectIds(coveredIds), ID_CHUNK)) await m.docUpdates.deleteMany({ docName, _id: { $in: ids } });
    },

    async listDocumentsWithLog(limit: number) {
      // `$group` with only `_id`: FerretDB 1.24 implements neither `$min` nor `$first` accumulators.
      const rows = await m.docUpdates.aggregate<{ _id: string }>([{ $group: { _id: '$docName' } }, { $sort: { _id: 1 } }, { $limit: clampLimit(limit, 100_000) }]);
      return rows.map((r) => r._id);
    },

    async listUserDocuments(userId: string) {
      const { gte, lt } = userDocumentRange(userId);
      // A range, not a regex: no escaping, and it uses the docName index on both MongoDB and FerretDB.
      const filter = { $or: [{ docName: userId }, { docName: { $gte: gte, $lt: lt } }] };
      const [a, b] = await Promise.all([m.docUpdates.distinct('docName', filter), m.docSnapshots.distinct('docName', filter)]);
      return [...new Set<string>([...a, ...b])].sort();
    },

    async listUpdates(docName: string, limit: number) {
      return (await m.docUpdates.find({ docName }).sort({ _id: 1 }).limit(clampLimit(limit, 100_000)).lean<DocUpdateDoc[]>()).map(toUpdate);
    },

    async deleteDocument(docName: string) {
      // Snapshot first: a crash in between leaves log entries, which still load as the document.
      await m.docSnapshots.deleteMany({ docName });
      await m.docUpdates.deleteMany({ docName });
    },
  };

  const telemetry: TelemetryStore = {
    async insertEvents(events: readonly TelemetryEventRecord[]): Promise<InsertEventsResult> {
      if (events.length === 0) return { inserted: [], duplicates: [] };
      const docs = events.map((e) => ({
        _id: new ObjectId(),
        userId: e.userId,
        eventType: e.eventType,
        eventData: e.eventData,
        metadata: withoutUndefined(e.metadata),
        status: e.status,
        retryCount: e.retryCount,
        batchId: e.batchId,
        createdAt: e.createdAt,
        updatedAt: e.updatedAt,
      }));
      // Unordered: one duplicate does not stop the rest; the unique (userId, metadata.eventId)
      // index decides, so concurrent callers with the same ids store each exactly once.
      const rejected = await insertIgnoringDuplicates(() => m.telemetry.insertMany(docs, { ordered: false, lean: true }));
      const inserted: string[] = [];
      const duplicates: string[] = [];
      events.forEach((e, i) => (rejected.has(i) ? duplicates : inserted).push(e.metadata.eventId));
      return { inserted, duplicates };
    },

    async listEvents(userId: string, query: EventQuery): Promise<EventPage> {
      const cursor = requireCursor(query.cursor);
      const limit = clampLimit(query.limit);
      const and: Record<string, unknown>[] = [{ userId }];
      if (query.since !== undefined) and.push({ createdAt: { $gte: query.since } });
      if (query.eventType !== undefined) and.push({ eventType: query.eventType });
      if (cursor !== null) {
        const at = new Date(cursor.createdAt);
        const [id] = toObjectIds([cursor.id]);
        if (id === undefined) return { events: [], nextCursor: null };
        and.push({ $or: [{ createdAt: { $lt: at } }, { createdAt: at, _id: { $lt: id } }] });
      }
      const rows = await m.telemetry
        .find({ $and: and })
        .sort({ createdAt: -1, _id: -1 })
        .limit(limit + 1)
        .lean<TelemetryDoc[]>();
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        events: page.map(toEvent),
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ createdAt: last.createdAt.getTime(), id: last._id.toHexString() }) : null,
      };
    },

    async findEvent(userId: string, eventId: string) {
      const row = await m.telemetry.findOne({ userId, 'metadata.eventId': eventId }).lean<TelemetryDoc>();
      return row ? toEvent(row) : null;
    },
    countEvents: (userId: string) => m.telemetry.countDocuments({ userId }),
    deleteUserEvents: async (userId: string) => (await m.telemetry.deleteMany({ userId })).deletedCount,
    deleteEventsOlderThan: async (cutoff: Date) => (await m.telemetry.deleteMany({ createdAt: { $lt: cutoff } })).deletedCount,
  };

  /** Takes one item if our ticket for its next claim generation is the one the unique `_id` accepts. */
  async function claimOne(item: SyncQueueDoc, now: Date): Promise<SyncQueueItem | null> {
    const claimSeq = item.claimSeq + 1;
    try {
      await m.claims.insertMany([{ _id: `${item._id.toHexString()}:${claimSeq}`, itemId: item._id, userId: item.userId, createdAt: now }], { lean: true });
    } catch (err) {
      if (isDuplicateKey(err)) return null; // another claimer won this generation
      throw err;
    }
    await m.syncQueue.updateOne({ _id: item._id }, { $set: { status: 'syncing', claimedAt: now, claimSeq } });
    return toQueueItem({ ...item, status: 'syncing', claimedAt: now, claimSeq });
  }

  const syncQueue: SyncQueueStore = {
    async enqueue(items: readonly NewSyncQueueItem[]) {
      if (items.length === 0) return { inserted: [], duplicates: [] };
      const createdAt = new Date();
      const docs: SyncQueueDoc[] = items.map((i) => ({
        _id: new ObjectId(),
        userId: i.userId,
        itemKey: i.itemKey,
        itemType: i.itemType,
        itemData: i.itemData,
        status: 'pending',
        priority: i.priority,
        attempts: 0,
        conflictResolution: null,
        createdAt,
        syncedAt: null,
        nextAttemptAt: null,
        claimedAt: null,
        claimSeq: 0,
        errors: [],
      }));
      const rejected = await insertIgnoringDuplicates(() => m.syncQueue.insertMany(docs, { ordered: false, lean: true }));
      return {
        inserted: docs.filter((_, i) => !rejected.has(i)).map(toQueueItem),
        duplicates: items.filter((_, i) => rejected.has(i)).map((i) => i.itemKey),
      };
    },

    async claim(limit: number, now: Date, maxAttempts: number, staleAfterMs: number) {
      const want = clampLimit(limit, 10_000);
      const claimed: SyncQueueItem[] = [];
      const skip: Types.ObjectId[] = [];
      // Lost races free slots; a few more rounds fill them from the next candidates.
      for (let round = 0; round < 5 && claimed.length < want; round++) {
        const candidates = await m.syncQueue
          .find({
            _id: { $nin: skip },
            $or: [
              { status: 'pending' },
              { status: 'error', attempts: { $lt: maxAttempts }, nextAttemptAt: null },
              { status: 'error', attempts: { $lt: maxAttempts }, nextAttemptAt: { $lte: now } },
              { status: 'syncing', claimedAt: { $lte: new Date(now.getTime() - staleAfterMs) } },
            ],
          })
          .sort({ priority: -1, createdAt: 1, _id: 1 })
          .limit(want - claimed.length)
          .lean<SyncQueueDoc[]>();
        if (candidates.length === 0) break;
        const results = await Promise.all(candidates.map((c) => claimOne(c, now)));
        for (const [i, r] of results.entries()) {
          skip.push((candidates[i] as SyncQueueDoc)._id);
          if (r !== null) claimed.push(r);
        }
      }
      return claimed;
    },

    async markSynced(ids: readonly string[], at: Date, conflictResolution?: Record<string, unknown> | null) {
      const set: Record<string, unknown> = { status: 'synced', syncedAt: at, nextAttemptAt: null };
      if (conflictResolution != null) set['conflictResolution'] = conflictResolution;
      for (const chunk of chunks(toObjectIds(ids), ID_CHUNK)) {
        await m.syncQueue.updateMany({ _id: { $in: chunk } }, { $set: set });
        // A synced item is never claimed again, so its tickets are garbage.
        await m.claims.deleteMany({ itemId: { $in: chunk } });
      }
    },

    async markFailed(id: string, error: SyncQueueError, nextAttemptAt: Date | null) {
      const [oid] = toObjectIds([id]);
      if (oid === undefined) return;
      await m.syncQueue.updateOne(
        { _id: oid },
        { $set: { status: 'error', nextAttemptAt }, $inc: { attempts: 1 }, $push: { errors: { $each: [{ at: error.at, message: error.message }], $slice: -MAX_QUEUE_ERRORS } } },
      );
    },

    async countByStatus(userId: string) {
      const counts = emptyStatusCounts();
      const rows = await m.syncQueue.aggregate<{ _id: SyncQueueStatus; n: number }>([{ $match: { userId } }, { $group: { _id: '$status', n: { $sum: 1 } } }]);
      for (const r of rows) counts[r._id] = r.n;
      return counts;
    },

    async lastSyncedAt(userId: string) {
      const [row] = await m.syncQueue.find({ userId, status: 'synced', syncedAt: { $ne: null } }, { syncedAt: 1 }).sort({ syncedAt: -1 }).limit(1).lean<Pick<SyncQueueDoc, 'syncedAt'>[]>();
      return row?.syncedAt ?? null;
    },

    async listForUser(userId: string, limit: number) {
      return (await m.syncQueue.find({ userId }).sort({ createdAt: -1, _id: -1 }).limit(clampLimit(limit, 10_000)).lean<SyncQueueDoc[]>()).map(toQueueItem);
    },

    async deleteUser(userId: string) {
      const { deletedCount } = await m.syncQueue.deleteMany({ userId });
      await m.claims.deleteMany({ userId });
      return deletedCount;
    },
  };

  const batchLogs: BatchLogStore = {
    async insert(log: BatchLog) {
      await m.batchLogs.insertMany([{ _id: new ObjectId(), ...log }], { lean: true });
    },
    async listForUser(userId: string, limit: number) {
      return (await m.batchLogs.find({ userId }).sort({ startTime: -1, _id: -1 }).limit(clampLimit(limit)).lean<BatchLogDoc[]>()).map(toBatchLog);
    },
    async listSince(since: Date, limit: number) {
      return (await m.batchLogs.find({ startTime: { $gte: since } }).sort({ startTime: -1, _id: -1 }).limit(clampLimit(limit)).lean<BatchLogDoc[]>()).map(toBatchLog);
    },
    async deleteUser(userId: string) {
      return (await m.batchLogs.deleteMany({ userId })).deletedCount;
    },
  };

  const latestLease = (key: string) => m.leases.findOne({ key }).sort({ gen: -1 }).lean<{ _id: string; gen: number; owner: string; expiresAt: Date }>();

  /**
   * Leases as generations: holding `key` means having inserted its newest generation
   * `<key>#<gen>` while the previous one was yours or expired. Renewal inserts the next
   * generation too, so a renewal racing a takeover is decided by the unique `_id`, not by a
   * conditional update (which FerretDB would let both win).
   */
  const leases: LeaseStore = {
    async tryAcquire(key: string, owner: string, ttlMs: number) {
      const now = Date.now();
      const latest = await latestLease(key);
      if (latest !== null && latest.owner !== owner && latest.expiresAt.getTime() > now) return false;
      const gen = (latest?.gen ?? 0) + 1;
      try {
        await m.leases.insertMany([{ _id: `${key}#${gen}`, key, gen, owner, expiresAt: new Date(now + ttlMs) }], { lean: true });
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
      // A reader that saw a generation already cleaned up could re-insert it; the newest wins.
      const newest = await latestLease(key);
      if (newest !== null && newest.gen > gen) return false;
      await m.leases.deleteMany({ key, gen: { $lt: gen } });
      return true;
    },
    async release(key: string, owner: string) {
      const latest = await latestLease(key);
      // Expire rather than delete: with the generation gone a later taker would restart at 1 and
      // could collide with nobody, racing a taker that saw this generation.
      if (latest !== null && latest.owner === owner) await m.leases.updateOne({ _id: latest._id }, { $set: { expiresAt: new Date(0) } });
    },
    async purgeExpired(now: Date = new Date()) {
      // Deleting an expired newest generation is safe: a taker that restarts at generation 1
      // while another inserts N+1 loses the "newest wins" check in tryAcquire.
      return (await m.leases.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
    },
  };

  const toAuditEntry = (d: AuditDoc): AuditEntry => ({
    at: d.at,
    actor: d.actor,
    actorRole: d.actorRole,
    action: d.action,
    subjectUserId: d.subjectUserId ?? null,
    target: d.target ?? null,
    from: d.from ?? null,
    details: d.details ?? null,
  });

  const audit: AuditStore = {
    async append(entries: readonly AuditEntry[]) {
      if (entries.length === 0) return;
      await m.auditLog.insertMany(entries.map((e) => ({ _id: new ObjectId(), ...e })), { ordered: true, lean: true });
    },
    async list(query: AuditQuery): Promise<AuditPage> {
      const cursor = requireCursor(query.cursor);
      const limit = clampLimit(query.limit);
      const and: Record<string, unknown>[] = [];
      if (query.userId !== undefined) and.push({ $or: [{ subjectUserId: query.userId }, { actor: query.userId }] });
      if (query.since !== undefined) and.push({ at: { $gte: query.since } });
      if (query.action !== undefined) and.push({ action: query.action });
      if (cursor !== null) {
        const at = new Date(cursor.createdAt);
        const [id] = toObjectIds([cursor.id]);
        if (id === undefined) return { entries: [], nextCursor: null };
        and.push({ $or: [{ at: { $gt: at } }, { at, _id: { $gt: id } }] });
      }
      const rows = await m.auditLog
        .find(and.length > 0 ? { $and: and } : {})
        .sort({ at: 1, _id: 1 })
        .limit(limit + 1)
        .lean<AuditDoc[]>();
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        entries: page.map((d) => ({ ...toAuditEntry(d), id: d._id.toHexString() })),
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ createdAt: last.at.getTime(), id: last._id.toHexString() }) : null,
      };
    },
    async pseudonymiseUser(userId: string, pseudonym: string) {
      const cleared = { target: null, from: null, details: null };
      // Counted first: an entry where the learner is both subject and actor is changed by both updates.
      const n = await m.auditLog.countDocuments({ $or: [{ subjectUserId: userId }, { actor: userId }] });
      await m.auditLog.updateMany({ subjectUserId: userId }, { $set: { subjectUserId: pseudonym, ...cleared } });
      await m.auditLog.updateMany({ actor: userId }, { $set: { actor: pseudonym, ...cleared } });
      return n;
    },
    async deleteOlderThan(cutoff: Date) {
      return (await m.auditLog.deleteMany({ at: { $lt: cutoff } })).deletedCount;
    },
  };

  /** One page of a collection in `_id` order. */
  async function idPage<D extends { _id: Types.ObjectId }>(
    model: { find(filter: Record<string, unknown>): { sort(s: Record<string, 1>): { limit(n: number): { lean<T>(): Promise<T> } } } },
    after: string | null,
    n: number,
    map: (d: D) => StoreRecord,
  ): Promise<RecordPage> {
    const [afterId] = after === null ? [] : toObjectIds([after]);
    const rows = await model.find(afterId === undefined ? {} : { _id: { $gt: afterId } }).sort({ _id: 1 }).limit(n).lean<D[]>();
    const last = rows.at(-1);
    return { records: rows.map(map), next: rows.length === n && last !== undefined ? last._id.toHexString() : null };
  }

  const records: RecordStore = {
    async scan(collection: RecordCollection, after: string | null, limit: number): Promise<RecordPage> {
      const n = clampLimit(limit, 10_000);
      switch (collection) {
        case 'snapshots': {
          const names = (await m.docSnapshots.distinct('docName', after === null ? {} : { docName: { $gt: after } })).sort().slice(0, n);
          const out: StoreRecord[] = [];
          for (const docName of names) {
            const snap = await readSnapshot(docName);
            if (snap !== null) out.push({ type: 'snapshot', docName, state: snap.state, createdAt: snap.createdAt });
          }
          return { records: out, next: names.length === n ? (names.at(-1) ?? null) : null };
        }
        case 'updates':
          return idPage<DocUpdateDoc>(m.docUpdates, after, n, (d) => {
            const u = toUpdate(d);
            return { type: 'update', docName: u.docName, update: u.update, author: u.author, createdAt: u.createdAt };
          });
        case 'events':
          return idPage<TelemetryDoc>(m.telemetry, after, n, (d) => ({ type: 'event', event: toEvent(d) }));
        case 'queue':
          return idPage<SyncQueueDoc>(m.syncQueue, after, n, (d) => ({ type: 'queueItem', item: toQueueItem(d) }));
        case 'batchLogs':
          return idPage<BatchLogDoc>(m.batchLogs, after, n, (d) => ({ type: 'batchLog', log: toBatchLog(d) }));
        case 'audit':
          return idPage<AuditDoc>(m.auditLog, after, n, (d) => ({ type: 'audit', entry: toAuditEntry(d) }));
      }
    },

    async insert(list: readonly StoreRecord[]) {
      // In record order, one kind at a time: a backup lists snapshots before the log entries that follow them.
      const updates: DocUpdateDoc[] = [];
      const flushUpdates = async (): Promise<void> => {
        if (updates.length === 0) return;
        await m.docUpdates.insertMany(updates.splice(0), { ordered: true, lean: true });
      };
      for (const r of list) {
        if (r.type !== 'update') await flushUpdates();
        switch (r.type) {
          case 'snapshot': {
            const metas = await m.docSnapshots.find({ docName: r.docName }, { version: 1 }).sort({ version: -1 }).limit(1).lean<Pick<DocSnapshotDoc, 'version'>[]>();
            const version = (metas[0]?.version ?? 0) + 1;
            const token = randomUUID();
            const parts = splitSnapshot(r.state);
            for (const [part, data] of parts.entries()) {
              await m.docSnapshots.insertMany([{ _id: new ObjectId(), docName: r.docName, version, token, part, partCount: parts.length, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), createdAt: r.createdAt }], { lean: true });
            }
            await m.docSnapshots.deleteMany({ docName: r.docName, version: { $lt: version } });
            break;
          }
          case 'update':
            updates.push({ _id: new ObjectId(), docName: r.docName, update: Buffer.from(r.update.buffer, r.update.byteOffset, r.update.byteLength), author: r.author, createdAt: r.createdAt });
            break;
          case 'event': {
            const e = r.event;
            await insertIgnoringDuplicates(() =>
              m.telemetry.insertMany(
                [{ _id: new ObjectId(), userId: e.userId, eventType: e.eventType, eventData: e.eventData, metadata: withoutUndefined(e.metadata), status: e.status, retryCount: e.retryCount, batchId: e.batchId, createdAt: e.createdAt, updatedAt: e.updatedAt }],
                { ordered: false, lean: true },
              ),
            );
            break;
          }
          case 'queueItem': {
            const { id: _id, ...q } = r.item;
            await insertIgnoringDuplicates(() =>
              m.syncQueue.insertMany(
                [{ ...q, _id: new ObjectId(), status: q.status === 'syncing' ? 'pending' : q.status, claimedAt: null, claimSeq: 0, errors: q.errors.map((e) => ({ at: e.at, message: e.message })) }],
                { ordered: false, lean: true },
              ),
            );
            break;
          }
          case 'batchLog':
            await m.batchLogs.insertMany([{ _id: new ObjectId(), ...r.log }], { lean: true });
            break;
          case 'audit':
            await m.auditLog.insertMany([{ _id: new ObjectId(), ...r.entry }], { lean: true });
            break;
        }
      }
      await flushUpdates();
    },

    async replaceEventData(userId: string, eventId: string, eventData: Record<string, unknown>) {
      const { matchedCount } = await m.telemetry.updateOne({ userId, 'metadata.eventId': eventId }, { $set: { eventData } });
      return matchedCount === 1;
    },
  };

  let closed = false;
  return {
    kind: 'mongodb',
    audit: guarded(audit, onUnavailable),
    records: guarded(records, onUnavailable),
    documents: guarded(documents, onUnavailable),
    telemetry: guarded(telemetry, onUnavailable),
    syncQueue: guarded(syncQueue, onUnavailable),
    batchLogs: guarded(batchLogs, onUnavailable),
    leases: guarded(leases, onUnavailable),
    ping: guarded(
      {
        ping: async () => {
          if (closed) throw new StoreUnavailableError('MongoDB store is closed');
          const db = conn.db;
          if (db === undefined) throw new StoreUnavailableError('MongoDB connection has no database');
          await db.command({ ping: 1 });
        },
      },
      onUnavailable,
    ).ping,
    async close() {
      if (closed) return;
      closed = true;
      await conn.close();
    },
  };
}
