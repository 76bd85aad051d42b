import type { BatchLog, BatchLogStore } from '../ports.js';
import { clampLimit } from '../shared.js';
import { StoreUnavailableError } from '../errors.js';
import type { BatchLogParams, SqliteAppender } from './appender.js';
import { isUnavailable, type Connection, type SqliteDb } from './connection.js';
import { INSERT_BATCH_LOG } from './statements.js';

export interface BatchLogRow {
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

export const toBatchLog = (r: BatchLogRow): BatchLog => ({
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

const paramsOf = (l: BatchLog): BatchLogParams => [
  l.batchId,
  l.userId,
  l.kind,
  l.itemCount,
  l.successCount,
  l.failureCount,
  l.conflictCount,
  l.duplicateCount,
  l.startTime.getTime(),
  l.endTime.getTime(),
  l.duration,
  l.status,
];

/** Restore's insert, on the main connection inside its transaction. */
export function insertBatchLog(c: Connection, l: BatchLog): void {
  c.prep(INSERT_BATCH_LOG).run(...paramsOf(l));
}

/** Inserts go through the appender's worker, like the events they follow (see `appender.ts`). */
export function sqliteBatchLogs(db: SqliteDb, appender: SqliteAppender): BatchLogStore {
  return {
    async insert(log: BatchLog) {
      if (db.closed) throw new StoreUnavailableError('SQLite store is closed');
      try {
        await appender.insertBatchLog(paramsOf(log));
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        throw db.unavailable(err);
      }
    },
    listForUser: (userId: string, limit: number) =>
      db.run((c) => (c.prep('SELECT * FROM batch_logs WHERE user_id = ? ORDER BY start_time DESC, id DESC LIMIT ?').all(userId, clampLimit(limit)) as BatchLogRow[]).map(toBatchLog)),
    listSince: (since: Date, limit: number) =>
      db.run((c) => (c.prep('SELECT * FROM batch_logs WHERE start_time >= ? ORDER BY start_time DESC, id DESC LIMIT ?').all(since.getTime(), clampLimit(limit)) as BatchLogRow[]).map(toBatchLog)),
    deleteUser: (userId: string) => db.run((c) => c.prep('DELETE FROM batch_logs WHERE user_id = ?').run(userId).changes),
  };
}
