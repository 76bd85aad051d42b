import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
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
  errorsFromJson,
  joinParts,
  metadataFromJson,
  metadataToJson,
  newestCompleteVersion,
  requireCursor,
  splitSnapshot,
  userDocumentRange,
} from '../shared.js';
import { createSqliteAppender } from './appender.js';
import { SCHEMA_SQL } from './schema.js';

export interface SqliteStoreOptions {
  /** Directory for `prepmate.sqlite` (created if missing). One of `dir` or `file`. */
  readonly dir?: string;
  /** Exact database file path; wins over `dir`. */
  readonly file?: string;
  readonly logger?: StoreLogger;
  /** How long a write waits for another process's lock before failing, ms. Default 5000. */
  readonly busyTimeoutMs?: number;
}

type Db = Database.Database;
type Stmt = Database.Statement<unknown[], unknown>;

/** SQLite result codes (primary, before the `_EXTENDED` suffix) that mean "the file cannot be used now". */
const unavailableCodes = ['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_PERM'];

function sqliteCode(err: unknown): string | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return null;
}

function isUnavailable(err: unknown): boolean {
  const code = sqliteCode(err);
  if (code === null) return false;
  return unavailableCodes.some((c) => code === c || code.startsWith(`${c}_`)) || ['EACCES', 'EROFS', 'ENOSPC', 'EPERM', 'ENOTDIR'].includes(code);
}

/** One open database plus its prepared statements, so a reopen after an I/O error starts clean. */
class Connection {
  private readonly statements = new Map<string, Stmt>();
  constructor(readonly db: Db) {}
  /** Prepared once per connection, reused for every call. */
  prep(sql: string): Stmt {
    let stmt = this.statements.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}

function open(file: string, busyTimeoutMs: number): Connection {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and the
    // update log and telemetry acknowledge durability to clients ("saved on server", exactly-once
    // ids). The cost is one fsync per commit, which group commit (one append per flush window)
    // keeps to ~20 a second per busy process.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA_SQL);
  } catch (err) {
    db.close();
    throw err;
  }
  return new Connection(db);
}

interface UpdateRow {
  id: number;
  doc_name: string;
  update_data: Buffer;
  author: string;
  created_at: number;
}
interface SnapshotMetaRow {
  version: number;
  part: number;
  part_count: number;
}
interface TelemetryRow {
  id: number;
  user_id: string;
  event_type: string;
  event_data: string;
  metadata: string;
  status: TelemetryEventRecord['status'];
  retry_count: number;
  batch_id: string | null;
  created_at: number;
  updated_at: number;
}
interface QueueRow {
  id: number;
  user_id: string;
  item_key: string;
  item_type: SyncQueueItem['itemType'];
  item_data: string;
  status: SyncQueueStatus;
  priority: number;
  attempts: number;
  conflict_resolution: string | null;
  created_at: number;
  synced_at: number | null;
  next_attempt_at: number | null;
  errors: string;
}
interface BatchLogRow {
  id: number;
  batch_id: string;
  user_id: string;
  kind: BatchLog['kind'];
  item_count: number;
  success_count: number;
  failure_count: number;
  conflict_count: number;
  duplicate_count: number;
  start_time: number;
  end_time: number;
  duration: number;
  status: BatchLog['status'];
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  actor_role: AuditEntry['actorRole'];
  action: string;
  subject_user_id: string | null;
  target: string | null;
  from_address: string | null;
  details: string | null;
}

const toAudit = (r: AuditRow) => ({
  id: String(r.id),
  at: new Date(r.at),
  actor: r.actor,
  actorRole: r.actor_role,
  action: r.action,
  subjectUserId: r.subject_user_id,
  target: r.target,
  from: r.from_address,
  details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
});

const toUpdate = (r: UpdateRow): StoredUpdate => ({
  id: String(r.id),
  docName: r.doc_name,
  update: new Uint8Array(r.update_data.buffer, r.update_data.byteOffset, r.update_data.byteLength),
  author: r.author,
  createdAt: new Date(r.created_at),
});

const toEvent = (r: TelemetryRow): TelemetryEventRecord => ({
  userId: r.user_id,
  eventType: r.event_type,
  eventData: JSON.parse(r.event_data) as Record<string, unknown>,
  metadata: metadataFromJson(r.metadata),
  status: r.status,
  retryCount: r.retry_count,
  batchId: r.batch_id,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

const toQueueItem = (r: QueueRow): SyncQueueItem => ({
  id: String(r.id),
  userId: r.user_id,
  itemKey: r.item_key,
  itemType: r.item_type,
  itemData: JSON.parse(r.item_data) as Record<string, unknown>,
  status: r.status,
  priority: r.priority,
  attempts: r.attempts,
  conflictResolution: r.conflict_resolution === null ? null : (JSON.parse(r.conflict_resolution) as Record<string, unknown>),
  createdAt: new Date(r.created_at),
  syncedAt: r.synced_at === null ? null : new Date(r.synced_at),
  nextAttemptAt: r.next_attempt_at === null ? null : new Date(r.next_attempt_at),
  errors: errorsFromJson(r.errors),
});

const toBatchLog = (r: BatchLogRow): BatchLog => ({
  batchId: r.batch_id,
  userId: r.user_id,
  kind: r.kind,
  itemCount: r.item_count,
  successCount: r.success_count,
  failureCount: r.failure_count,
  conflictCount: r.conflict_count,
  duplicateCount: r.duplicate_count,
  startTime: new Date(r.start_time),
  endTime: new Date(r.end_time),
  duration: r.duration,
  status: r.status,
});

/** The newest complete snapshot of a document; call inside a transaction when consistency with the log matters. */
function readSnapshot(c: Connection, docName: string): LoadedDocument['snapshot'] {
  const metas = c.prep('SELECT version, part, part_count FROM doc_snapshots WHERE doc_name = ?').all(docName) as SnapshotMetaRow[];
  const newest = newestCompleteVersion(metas.map((m) => ({ version: m.version, part: m.part, partCount: m.part_count })));
  if (newest === null) return null;
  const rows = c.prep('SELECT data, created_at FROM doc_snapshots WHERE doc_name = ? AND version = ? ORDER BY part').all(docName, newest.version) as { data: Buffer; created_at: number }[];
  return { state: joinParts(rows.map((r) => new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength))), createdAt: new Date(rows[0]?.created_at ?? 0) };
}

/** Writes `state` as the next snapshot version and drops older versions (compaction and restore). */
function writeSnapshot(c: Connection, docName: string, state: Uint8Array, createdAt: number): void {
  const parts = splitSnapshot(state);
  const insertPart = c.prep('INSERT INTO doc_snapshots (doc_name, version, part, part_count, data, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  // A snapshot version number (not a log id): the write lock held by the caller makes max + 1 safe.
  const { next } = c.prep('SELECT COALESCE(MAX(version), 0) + 1 AS next FROM doc_snapshots WHERE doc_name = ?').get(docName) as { next: number };
  parts.forEach((p, i) => insertPart.run(docName, next, i, parts.length, Buffer.from(p.buffer, p.byteOffset, p.byteLength), createdAt));
  c.prep('DELETE FROM doc_snapshots WHERE doc_name = ? AND version < ?').run(docName, next);
}

const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** Ids arrive as strings through the port; anything that is not one of ours matches nothing. */
function parseIds(ids: readonly string[]): number[] {
  return ids.filter((id) => /^[0-9]{1,15}$/.test(id)).map(Number);
}

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous, so every
 * method runs to completion without interleaving inside this process; transactions make the
 * multi-row operations atomic against other processes on the same file.
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const file = options.file ?? (options.dir !== undefined ? join(options.dir, 'prepmate.sqlite') : undefined);
  if (file === undefined) throw new TypeError('createSqliteStore needs `dir` or `file`');
  const logger = options.logger ?? silentLogger;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let conn: Connection | null = null;
  let closed = false;

  const toUnavailable = (err: unknown): StoreUnavailableError =>
    new StoreUnavailableError(`SQLite database ${file} is unavailable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });

  function connection(): Connection {
    if (closed) throw new StoreUnavailableError('SQLite store is closed');
    if (conn === null) {
      try {
        conn = open(file as string, busyTimeoutMs);
      } catch (err) {
        throw isUnavailable(err) ? toUnavailable(err) : err;
      }
    }
    return conn;
  }

  /**
   * Runs one operation; maps file-level failures to StoreUnavailableError. After such a failure
   * the connection is dropped and reopened on the next call, so a disk that was full or a file
   * that was read-only works again without restarting the process.
   */
  async function withDb<T>(fn: (c: Connection) => T): Promise<T> {
    const c = connection();
    try {
      return fn(c);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      const code = sqliteCode(err);
      logger.warn({ err, code, file }, 'sqlite store unavailable');
      if (code !== null && !code.startsWith('SQLITE_BUSY') && conn === c) {
        conn = null;
        try {
          c.db.close();
        } catch {
          // Closing a broken handle may fail too; it is dropped either way.
        }
      }
      throw toUnavailable(err);
    }
  }

  // Fail at start, not at the first request, when the file cannot be opened (this also creates
  // the schema before the appender's own connection opens the file).
  await withDb(() => undefined);

  // The update log's group commits run on a worker so their fsync never blocks fan-out.
  const appender = createSqliteAppender(file, busyTimeoutMs);
  try {
    await appender.open();
  } catch (err) {
    await appender.close();
    connection().db.close();
    closed = true;
    throw isUnavailable(err) ? toUnavailable(err) : err;
  }

  const documents: DocumentStore = {
    appendUpdates: async (records: readonly UpdateRecord[]) => {
      if (closed) throw new StoreUnavailableError('SQLite store is closed');
      try {
        await appender.append(records);
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        logger.warn({ err, code: sqliteCode(err), file }, 'sqlite store unavailable');
        throw toUnavailable(err);
      }
    },

    loadDocument: (docName: string) =>
      withDb((c): LoadedDocument => {
        // One read transaction: snapshot and log seen at the same instant, so a concurrent compaction
        // cannot make us miss entries (deleted) that the snapshot we read does not contain.
        return c.db.transaction(() => {
          const snapshot = readSnapshot(c, docName);
          const updates = (c.prep('SELECT * FROM doc_updates WHERE doc_name = ? ORDER BY id').all(docName) as UpdateRow[]).map(toUpdate);
          return { snapshot, updates };
        })();
      }),

    compact: (docName: string, state: Uint8Array, coveredIds: readonly string[]) =>
      withDb((c) => {
        const now = Date.now();
        const deleteUpdate = c.prep('DELETE FROM doc_updates WHERE id = ? AND doc_name = ?');
        // One transaction, in the order the port describes (new parts, switch, drop old version,
        // then the covered log entries), so even a reader outside it never sees a gap.
        c.db
          .transaction(() => {
            writeSnapshot(c, docName, state, now);
            for (const id of parseIds(coveredIds)) deleteUpdate.run(id, docName);
          })
          .immediate();
      }),

    listDocumentsWithLog: (limit: number) =>
      withDb((c) =>
        (c.prep('SELECT doc_name FROM doc_updates GROUP BY doc_name ORDER BY MIN(id) LIMIT ?').all(clampLimit(limit, 100_000)) as { doc_name: string }[]).map((r) => r.doc_name),
      ),

    listUserDocuments: (userId: string) =>
      withDb((c) => {
        const { gte, lt } = userDocumentRange(userId);
        // Range instead of LIKE: `_` in a userId is a LIKE wildcard, and ranges use the index.
        const rows = c
          .prep(
            `SELECT doc_name FROM doc_updates WHERE doc_name = @userId OR (doc_name >= @gte AND doc_name < @lt)
             UNION SELECT doc_name FROM doc_snapshots WHERE doc_name = @userId OR (doc_name >= @gte AND doc_name < @lt)
             ORDER BY doc_name`,
          )
          .all({ userId, gte, lt }) as { doc_name: string }[];
        return rows.map((r) => r.doc_name);
      }),

    listUpdates: (docName: string, limit: number) =>
      withDb((c) => (c.prep('SELECT * FROM doc_updates WHERE doc_name = ? ORDER BY id LIMIT ?').all(docName, clampLimit(limit, 100_000)) as UpdateRow[]).map(toUpdate)),

    deleteDocument: (docName: string) =>
      withDb((c) => {
        c.db.transaction(() => {
          c.prep('DELETE FROM doc_updates WHERE doc_name = ?').run(docName);
          c.prep('DELETE FROM doc_snapshots WHERE doc_name = ?').run(docName);
        })();
      }),
  };

  const telemetry: TelemetryStore = {
    insertEvents: (events: readonly TelemetryEventRecord[]) =>
      withDb((c): InsertEventsResult => {
        const insert = c.prep(
          `INSERT INTO telemetry (user_id, event_id, event_type, event_data, metadata, status, retry_count, batch_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, event_id) DO NOTHING`,
        );
        const inserted: string[] = [];
        const duplicates: string[] = [];
        c.db.transaction(() => {
          for (const e of events) {
            const { changes } = insert.run(
              e.userId,
              e.metadata.eventId,
              e.eventType,
              JSON.stringify(e.eventData),
              metadataToJson(e.metadata),
              e.status,
              e.retryCount,
              e.batchId,
              e.createdAt.getTime(),
              e.updatedAt.getTime(),
            );
            (changes === 1 ? inserted : duplicates).push(e.metadata.eventId);
          }
        })();
        return { inserted, duplicates };
      }),

    listEvents: (userId: string, query: EventQuery) =>
      withDb((c): EventPage => {
        const cursor = requireCursor(query.cursor);
        const limit = clampLimit(query.limit);
        const where = ['user_id = @userId'];
        const params: Record<string, unknown> = { userId, limit: limit + 1 };
        if (query.since !== undefined) {
          where.push('created_at >= @since');
          params['since'] = query.since.getTime();
        }
        if (query.eventType !== undefined) {
          where.push('event_type = @eventType');
          params['eventType'] = query.eventType;
        }
        if (cursor !== null) {
          where.push('(created_at < @cAt OR (created_at = @cAt AND id < @cId))');
          params['cAt'] = cursor.createdAt;
          params['cId'] = Number(cursor.id);
        }
        const rows = c.prep(`SELECT * FROM telemetry WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @limit`).all(params) as TelemetryRow[];
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return {
          events: page.map(toEvent),
          nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ createdAt: last.created_at, id: String(last.id) }) : null,
        };
      }),

    findEvent: (userId: string, eventId: string) =>
      withDb((c) => {
        const row = c.prep('SELECT * FROM telemetry WHERE user_id = ? AND event_id = ?').get(userId, eventId) as TelemetryRow | undefined;
        return row === undefined ? null : toEvent(row);
      }),
    countEvents: (userId: string) => withDb((c) => (c.prep('SELECT COUNT(*) AS n FROM telemetry WHERE user_id = ?').get(userId) as { n: number }).n),
    deleteUserEvents: (userId: string) => withDb((c) => c.prep('DELETE FROM telemetry WHERE user_id = ?').run(userId).changes),
    deleteEventsOlderThan: (cutoff: Date) => withDb((c) => c.prep('DELETE FROM telemetry WHERE created_at < ?').run(cutoff.getTime()).changes),
  };

  const syncQueue: SyncQueueStore = {
    enqueue: (items: readonly NewSyncQueueItem[]) =>
      withDb((c) => {
        const now = Date.now();
        const insert = c.prep(
          `INSERT INTO sync_queue (user_id, item_key, item_type, item_data, status, priority, created_at)
           VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (user_id, item_key) DO NOTHING RETURNING *`,
        );
        const inserted: SyncQueueItem[] = [];
        const duplicates: string[] = [];
        c.db.transaction(() => {
          for (const item of items) {
            const row = insert.get(item.userId, item.itemKey, item.itemType, JSON.stringify(item.itemData), item.priority, now) as QueueRow | undefined;
            if (row === undefined) duplicates.push(item.itemKey);
            else inserted.push(toQueueItem(row));
          }
        })();
        return { inserted, duplicates };
      }),

    claim: (limit: number, now: Date, maxAttempts: number, staleAfterMs: number) =>
      withDb((c) => {
        const at = now.getTime();
        const select = c.prep(
          `SELECT id FROM sync_queue
           WHERE status = 'pending'
              OR (status = 'error' AND attempts < ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?))
              OR (status = 'syncing' AND claimed_at <= ?)
           ORDER BY priority DESC, created_at, id LIMIT ?`,
        );
        const update = c.prep(`UPDATE sync_queue SET status = 'syncing', claimed_at = ? WHERE id = ? RETURNING *`);
        // IMMEDIATE takes the write lock before the SELECT, so another process cannot pick the
        // same rows between our read and our update.
        return c.db
          .transaction(() => {
            const ids = (select.all(maxAttempts, at, at - staleAfterMs, clampLimit(limit, 10_000)) as { id: number }[]).map((r) => r.id);
            return ids.map((id) => toQueueItem(update.get(at, id) as QueueRow));
          })
          .immediate();
      }),

    markSynced: (ids: readonly string[], at: Date, conflictResolution?: Record<string, unknown> | null) =>
      withDb((c) => {
        const update = c.prep(`UPDATE sync_queue SET status = 'synced', synced_at = ?, conflict_resolution = COALESCE(?, conflict_resolution), next_attempt_at = NULL WHERE id = ?`);
        const resolution = conflictResolution == null ? null : JSON.stringify(conflictResolution);
        c.db.transaction(() => {
          for (const id of parseIds(ids)) update.run(at.getTime(), resolution, id);
        })();
      }),

    markFailed: (id: string, error: SyncQueueError, nextAttemptAt: Date | null) =>
      withDb((c) => {
        const [numericId] = parseIds([id]);
        if (numericId === undefined) return;
        c.db.transaction(() => {
          const row = c.prep('SELECT errors FROM sync_queue WHERE id = ?').get(numericId) as { errors: string } | undefined;
          if (row === undefined) return;
          const errors = [...errorsFromJson(row.errors), error].slice(-MAX_QUEUE_ERRORS);
          c.prep(`UPDATE sync_queue SET status = 'error', attempts = attempts + 1, next_attempt_at = ?, errors = ? WHERE id = ?`).run(nextAttemptAt?.getTime() ?? null, JSON.stringify(errors), numericId);
        })();
      }),

    countByStatus: (userId: string) =>
      withDb((c) => {
        const counts = emptyStatusCounts();
        for (const r of c.prep('SELECT status, COUNT(*) AS n FROM sync_queue WHERE user_id = ? GROUP BY status').all(userId) as { status: SyncQueueStatus; n: number }[]) counts[r.status] = r.n;
        return counts;
      }),

    lastSyncedAt: (userId: string) =>
      withDb((c) => {
        const { at } = c.prep(`SELECT MAX(synced_at) AS at FROM sync_queue WHERE user_id = ? AND status = 'synced'`).get(userId) as { at: number | null };
        return at === null ? null : new Date(at);
      }),

    listForUser: (userId: string, limit: number) =>
      withDb((c) => (c.prep('SELECT * FROM sync_queue WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?').all(userId, clampLimit(limit, 10_000)) as QueueRow[]).map(toQueueItem)),

    deleteUser: (userId: string) => withDb((c) => c.prep('DELETE FROM sync_queue WHERE user_id = ?').run(userId).changes),
  };

  const batchLogs: BatchLogStore = {
    insert: (log: BatchLog) =>
      withDb((c) => {
        c.prep(
          `INSERT INTO batch_logs (batch_id, user_id, kind, item_count, success_count, failure_count, conflict_count, duplicate_count, start_time, end_time, duration, status)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(log.batchId, log.userId, log.kind, log.itemCount, log.successCount, log.failureCount, log.conflictCount, log.duplicateCount, log.startTime.getTime(), log.endTime.getTime(), log.duration, log.status);
      }),
    listForUser: (userId: string, limit: number) =>
      withDb((c) => (c.prep('SELECT * FROM batch_logs WHERE user_id = ? ORDER BY start_time DESC, id DESC LIMIT ?').all(userId, clampLimit(limit)) as BatchLogRow[]).map(toBatchLog)),
    listSince: (since: Date, limit: number) =>
      withDb((c) => (c.prep('SELECT * FROM batch_logs WHERE start_time >= ? ORDER BY start_time DESC, id DESC LIMIT ?').all(since.getTime(), clampLimit(limit)) as BatchLogRow[]).map(toBatchLog)),
    deleteUser: (userId: string) => withDb((c) => c.prep('DELETE FROM batch_logs WHERE user_id = ?').run(userId).changes),
  };

  const leases: LeaseStore = {
    tryAcquire: (key: string, owner: string, ttlMs: number) =>
      withDb((c) => {
        const now = Date.now();
        // One statement: insert, or take over only when the row is ours or expired.
        const { changes } = c
          .prep(
            `INSERT INTO leases (key, owner, expires_at) VALUES (@key, @owner, @expiresAt)
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE leases.owner = excluded.owner OR leases.expires_at <= @now`,
          )
          .run({ key, owner, expiresAt: now + ttlMs, now });
        return changes === 1;
      }),
    release: (key: string, owner: string) =>
      withDb((c) => {
        c.prep('DELETE FROM leases WHERE key = ? AND owner = ?').run(key, owner);
      }),
    purgeExpired: (now: Date = new Date()) => withDb((c) => c.prep('DELETE FROM leases WHERE expires_at <= ?').run(now.getTime()).changes),
  };

  const insertAudit = (c: Connection, e: AuditEntry): void => {
    c.prep(
      `INSERT INTO audit_log (at, actor, actor_role, action, subject_user_id, target, from_address, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(e.at.getTime(), e.actor, e.actorRole, e.action, e.subjectUserId, e.target, e.from, e.details === null ? null : JSON.stringify(e.details));
  };

  const audit: AuditStore = {
    append: (entries: readonly AuditEntry[]) =>
      withDb((c) => {
        if (entries.length === 0) return;
        c.db.transaction(() => {
          for (const e of entries) insertAudit(c, e);
        })();
      }),
    list: (query: AuditQuery) =>
      withDb((c): AuditPage => {
        const cursor = requireCursor(query.cursor);
        const limit = clampLimit(query.limit);
        const where = ['1 = 1'];
        const params: Record<string, unknown> = { limit: limit + 1 };
        if (query.userId !== undefined) {
          where.push('(subject_user_id = @userId OR actor = @userId)');
          params['userId'] = query.userId;
        }
        if (query.since !== undefined) {
          where.push('at >= @since');
          params['since'] = query.since.getTime();
        }
        if (query.action !== undefined) {
          where.push('action = @action');
          params['action'] = query.action;
        }
        if (cursor !== null) {
          where.push('(at > @cAt OR (at = @cAt AND id > @cId))');
          params['cAt'] = cursor.createdAt;
          params['cId'] = Number(cursor.id);
        }
        const rows = c.prep(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY at, id LIMIT @limit`).all(params) as AuditRow[];
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return { entries: page.map(toAudit), nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ createdAt: last.at, id: String(last.id) }) : null };
      }),
    pseudonymiseUser: (userId: string, pseudonym: string) =>
      withDb((c) =>
        c
          .prep(
            `UPDATE audit_log SET
               subject_user_id = CASE WHEN subject_user_id = @userId THEN @pseudonym ELSE subject_user_id END,
               actor = CASE WHEN actor = @userId THEN @pseudonym ELSE actor END,
               target = NULL, from_address = NULL, details = NULL
             WHERE subject_user_id = @userId OR actor = @userId`,
          )
          .run({ userId, pseudonym }).changes,
      ),
    deleteOlderThan: (cutoff: Date) => withDb((c) => c.prep('DELETE FROM audit_log WHERE at < ?').run(cutoff.getTime()).changes),
  };

  const pageOf = <R extends { id: number }>(rows: readonly R[], limit: number, map: (r: R) => StoreRecord): RecordPage => ({
    records: rows.map(map),
    next: rows.length === limit ? String(rows.at(-1)?.id ?? '') : null,
  });

  const records: RecordStore = {
    scan: (collection: RecordCollection, after: string | null, limit: number) =>
      withDb((c): RecordPage => {
        const n = clampLimit(limit, 10_000);
        const afterId = after === null ? 0 : Number(after);
        switch (collection) {
          case 'snapshots': {
            const names = (c.prep('SELECT DISTINCT doc_name FROM doc_snapshots WHERE doc_name > ? ORDER BY doc_name LIMIT ?').all(after ?? '', n) as { doc_name: string }[]).map((r) => r.doc_name);
            const out: StoreRecord[] = [];
            for (const docName of names) {
              const snap = readSnapshot(c, docName);
              if (snap !== null) out.push({ type: 'snapshot', docName, state: snap.state, createdAt: snap.createdAt });
            }
            return { records: out, next: names.length === n ? (names.at(-1) ?? null) : null };
          }
          case 'updates':
            return pageOf(c.prep('SELECT * FROM doc_updates WHERE id > ? ORDER BY id LIMIT ?').all(afterId, n) as UpdateRow[], n, (r) => {
              const u = toUpdate(r);
              return { type: 'update', docName: u.docName, update: u.update, author: u.author, createdAt: u.createdAt };
            });
          case 'events':
            return pageOf(c.prep('SELECT * FROM telemetry WHERE id > ? ORDER BY id LIMIT ?').all(afterId, n) as TelemetryRow[], n, (r) => ({ type: 'event', event: toEvent(r) }));
          case 'queue':
            return pageOf(c.prep('SELECT * FROM sync_queue WHERE id > ? ORDER BY id LIMIT ?').all(afterId, n) as QueueRow[], n, (r) => ({ type: 'queueItem', item: toQueueItem(r) }));
          case 'batchLogs':
            return pageOf(c.prep('SELECT * FROM batch_logs WHERE id > ? ORDER BY id LIMIT ?').all(afterId, n) as BatchLogRow[], n, (r) => ({ type: 'batchLog', log: toBatchLog(r) }));
          case 'audit':
            return pageOf(c.prep('SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?').all(afterId, n) as AuditRow[], n, (r) => {
              const { id: _id, ...entry } = toAudit(r);
              return { type: 'audit', entry };
            });
        }
      }),

    insert: (list: readonly StoreRecord[]) =>
      withDb((c) => {
        const insertEvent = c.prep(
          `INSERT INTO telemetry (user_id, event_id, event_type, event_data, metadata, status, retry_count, batch_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, event_id) DO NOTHING`,
        );
        const insertQueue = c.prep(
          `INSERT INTO sync_queue (user_id, item_key, item_type, item_data, status, priority, attempts, conflict_resolution, created_at, synced_at, next_attempt_at, errors)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, item_key) DO NOTHING`,
        );
        c.db
          .transaction(() => {
            for (const r of list) {
              switch (r.type) {
                case 'snapshot':
                  writeSnapshot(c, r.docName, r.state, r.createdAt.getTime());
                  break;
                case 'update':
                  c.prep('INSERT INTO doc_updates (doc_name, update_data, author, created_at) VALUES (?, ?, ?, ?)').run(r.docName, toBuffer(r.update), r.author, r.createdAt.getTime());
                  break;
                case 'event': {
                  const e = r.event;
                  insertEvent.run(e.userId, e.metadata.eventId, e.eventType, JSON.stringify(e.eventData), metadataToJson(e.metadata), e.status, e.retryCount, e.batchId, e.createdAt.getTime(), e.updatedAt.getTime());
                  break;
                }
                case 'queueItem': {
                  const q = r.item;
                  insertQueue.run(
                    q.userId,
                    q.itemKey,
                    q.itemType,
                    JSON.stringify(q.itemData),
                    q.status === 'syncing' ? 'pending' : q.status,
                    q.priority,
                    q.attempts,
                    q.conflictResolution === null ? null : JSON.stringify(q.conflictResolution),
                    q.createdAt.getTime(),
                    q.syncedAt?.getTime() ?? null,
                    q.nextAttemptAt?.getTime() ?? null,
                    JSON.stringify(q.errors),
                  );
                  break;
                }
                case 'batchLog': {
                  const l = r.log;
                  c.prep(
                    `INSERT INTO batch_logs (batch_id, user_id, kind, item_count, success_count, failure_count, conflict_count, duplicate_count, start_time, end_time, duration, status)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
                  ).run(l.batchId, l.userId, l.kind, l.itemCount, l.successCount, l.failureCount, l.conflictCount, l.duplicateCount, l.startTime.getTime(), l.endTime.getTime(), l.duration, l.status);
                  break;
                }
                case 'audit':
                  insertAudit(c, r.entry);
                  break;
              }
            }
          })
          .immediate();
      }),

    replaceEventData: (userId: string, eventId: string, eventData: Record<string, unknown>) =>
      withDb((c) => c.prep('UPDATE telemetry SET event_data = ? WHERE user_id = ? AND event_id = ?').run(JSON.stringify(eventData), userId, eventId).changes === 1),
  };

  return {
    kind: 'sqlite',
    documents,
    telemetry,
    syncQueue,
    batchLogs,
    leases,
    audit,
    records,
    ping: () =>
      withDb((c) => {
        c.prep('SELECT 1').get();
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await appender.close();
      const c = conn;
      conn = null;
      c?.db.close();
    },
  };
}
