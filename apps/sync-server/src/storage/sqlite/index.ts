import { join } from 'node:path';
import type { Store } from '../ports.js';
import { silentLogger, type StoreLogger } from '../logger.js';
import { createSqliteAppender } from './appender.js';
import { sqliteAudit } from './audit.js';
import { sqliteBatchLogs } from './batch-logs.js';
import { isUnavailable, openSqliteDb } from './connection.js';
import { sqliteDocuments } from './documents.js';
import { sqliteLeases } from './leases.js';
import { sqliteRecords } from './records.js';
import { sqliteSyncQueue } from './sync-queue.js';
import { sqliteTelemetry } from './telemetry.js';

export interface SqliteStoreOptions {
  /** Directory for `prepmate.sqlite` (created if missing). One of `dir` or `file`. */
  readonly dir?: string;
  /** Exact database file path; wins over `dir`. */
  readonly file?: string;
  readonly logger?: StoreLogger;
  /** How long a write waits for another process's lock before failing, ms. Default 5000. */
  readonly busyTimeoutMs?: number;
}

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous, so every
 * method runs to completion without interleaving inside this process; transactions make the
 * multi-row operations atomic against other processes on the same file.
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const file = options.file ?? (options.dir !== undefined ? join(options.dir, 'prepmate.sqlite') : undefined);
  if (file === undefined) throw new TypeError('createSqliteStore needs `dir` or `file`');
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const db = openSqliteDb(file, busyTimeoutMs, options.logger ?? silentLogger);

  // Fail at start, not at the first request, when the file cannot be opened (this also creates
  // the schema before the appender's own connection opens the file).
  await db.run(() => undefined);

  // The update log's group commits, telemetry and batch-log inserts and audit appends run on a
  // worker so their fsync never blocks fan-out or request handling.
  const appender = createSqliteAppender(file, busyTimeoutMs);
  try {
    await appender.open();
  } catch (err) {
    await appender.close();
    db.close();
    throw isUnavailable(err) ? db.unavailable(err) : err;
  }

  return {
    kind: 'sqlite',
    documents: sqliteDocuments(db, appender),
    telemetry: sqliteTelemetry(db, appender),
    syncQueue: sqliteSyncQueue(db),
    batchLogs: sqliteBatchLogs(db, appender),
    leases: sqliteLeases(db),
    audit: sqliteAudit(db, appender),
    records: sqliteRecords(db),
    ping: () =>
      db.run((c) => {
        c.prep('SELECT 1').get();
      }),
    close: async () => {
      if (db.closed) return;
      // Closed first, so calls made during the shutdown fail instead of reopening the file.
      db.close();
      await appender.close();
    },
  };
}
