import type { BatchLogDraft, EventPage, EventQuery, InsertEventsResult, RecentEventsPage, RecentEventsQuery, TelemetryEventRecord, TelemetryStore } from '../ports.js';
import { DateTexts, clampLimit, metadataFromJson, metadataToJson, parsePosition } from '../shared.js';
import { StoreUnavailableError } from '../errors.js';
import type { EventColumns, EventsLogDraft, SqliteAppender } from './appender.js';
import { isUnavailable, type Connection, type SqliteDb } from './connection.js';
import { keysetPage } from './paging.js';
import { INSERT_EVENT } from './statements.js';

export interface TelemetryRow {
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

export const toEvent = (r: TelemetryRow): TelemetryEventRecord => ({
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

/** The parameters of `INSERT_EVENT` for one record. */
const rowOf = (e: TelemetryEventRecord): readonly [string, string, string, string, string, string, number, string | null, number, number] => [
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
];

/**
 * One appender column, built row by row: a single value while every row has the same one (a
 * batch: one learner, one batch id, one receive time), an array from the first row that differs.
 */
class Column<T> {
  private first: T | undefined;
  private values: T[] | null = null;
  private rows = 0;
  add(value: T): void {
    if (this.values !== null) this.values.push(value);
    else if (this.rows === 0) this.first = value;
    else if (value !== this.first) {
      this.values = new Array<T>(this.rows).fill(this.first as T);
      this.values.push(value);
    }
    this.rows += 1;
  }
  get(): T[] | T {
    return this.values ?? (this.rows === 0 ? [] : (this.first as T));
  }
}

/**
 * The records as the appender's columns (see `EventColumns`), the JSON columns serialised here;
 * a column the same for every record is sent as its one value.
 */
function columnsOf(events: readonly TelemetryEventRecord[]): EventColumns {
  const n = events.length;
  const eventId = new Array<string>(n);
  const eventType = new Array<string>(n);
  const eventData = new Array<string>(n);
  const metadata = new Array<string>(n);
  const userId = new Column<string>();
  const status = new Column<string>();
  const retryCount = new Column<number>();
  const batchId = new Column<string | null>();
  const createdAt = new Column<number>();
  const updatedAt = new Column<number>();
  const dates = new DateTexts();
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    eventId[i] = e.metadata.eventId;
    eventType[i] = e.eventType;
    eventData[i] = JSON.stringify(e.eventData);
    metadata[i] = metadataToJson(e.metadata, dates);
    userId.add(e.userId);
    status.add(e.status);
    retryCount.add(e.retryCount);
    batchId.add(e.batchId);
    createdAt.add(e.createdAt.getTime());
    updatedAt.add(e.updatedAt.getTime());
  }
  return {
    userId: userId.get(),
    eventId,
    eventType,
    eventData: eventData.join('\n'),
    metadata: metadata.join('\n'),
    status: status.get(),
    retryCount: retryCount.get(),
    batchId: batchId.get(),
    createdAt: createdAt.get(),
    updatedAt: updatedAt.get(),
  };
}

const draftOf = (l: BatchLogDraft): EventsLogDraft => ({
  batchId: l.batchId,
  userId: l.userId,
  kind: l.kind,
  itemCount: l.itemCount,
  successCount: l.successCount,
  failureCount: l.failureCount,
  conflictCount: l.conflictCount,
  duplicateCount: l.duplicateCount,
  startTime: l.startTime.getTime(),
  status: l.status,
});

/** Counts a deletion of telemetry rows, in the deleting transaction (see `telemetry_deletions`). */
function deleted(c: Connection, changes: number): number {
  if (changes > 0) c.prep('UPDATE telemetry_deletions SET n = n + 1 WHERE id = 1').run();
  return changes;
}

/**
 * The learner's most recent events, or those stored since `query.after`: one read transaction,
 * so the rows and the position are of the same moment, whatever the writer thread commits
 * meanwhile. The position is the deletion count and the highest rowid: SQLite gives every later
 * row a higher rowid as long as no row was deleted (rowids are max + 1).
 */
function recentEventsIn(c: Connection, userId: string, query: RecentEventsQuery): RecentEventsPage {
  const limit = clampLimit(query.limit);
  const { n: deletions, maxId } = c.prep('SELECT (SELECT n FROM telemetry_deletions WHERE id = 1) AS n, (SELECT MAX(id) FROM telemetry) AS maxId').get() as {
    n: number;
    maxId: number | null;
  };
  const through = maxId ?? 0;
  const position = `${deletions}:${through}`;
  const after = query.after === undefined ? null : parsePosition(query.after.position);
  const oldest = query.after?.oldest ?? null;
  let rows: TelemetryRow[];
  let incremental = false;
  // A position past the highest rowid is from another history of the file (replaced, restored): complete.
  if (after === null || after.deletions !== deletions || after.seq > through) {
    rows = c.prep('SELECT * FROM telemetry WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?').all(userId, limit) as TelemetryRow[];
  } else if (oldest === null) {
    incremental = true;
    rows = c.prep('SELECT * FROM telemetry WHERE user_id = ? AND id > ? ORDER BY created_at DESC, id DESC LIMIT ?').all(userId, after.seq, limit) as TelemetryRow[];
  } else {
    incremental = true;
    // `created_at >= ?` bounds the index range: only the kept events' span and newer is scanned.
    rows = c
      .prep(
        'SELECT * FROM telemetry WHERE user_id = @userId AND id > @seq AND created_at >= @at AND (created_at > @at OR id > @id) ORDER BY created_at DESC, id DESC LIMIT @limit',
      )
      .all({ userId, seq: after.seq, at: oldest.createdAt, id: oldest.seq, limit }) as TelemetryRow[];
  }
  return { incremental, events: rows.map(toEvent), resume: { keys: rows.map((r) => ({ createdAt: r.created_at, seq: r.id })), position } };
}

/** Inserts one event unless `(userId, eventId)` is stored; true when it was new (restore). */
export function insertEvent(c: Connection, e: TelemetryEventRecord): boolean {
  return c.prep(INSERT_EVENT).run(...rowOf(e)).changes === 1;
}

/**
 * Ingestion's inserts run on the appender's worker thread (one transaction per call, committed
 * before the promise resolves): the JSON columns are serialised here, the SQLite work and its
 * fsync happen there while this thread serves other requests. Reads stay on the main connection
 * and see a batch once its insert resolved (WAL).
 */
export function sqliteTelemetry(db: SqliteDb, appender: SqliteAppender): TelemetryStore {
  async function insert(events: readonly TelemetryEventRecord[], log?: BatchLogDraft): Promise<InsertEventsResult> {
    if (db.closed) throw new StoreUnavailableError('SQLite store is closed');
    let rows: number[];
    try {
      rows = await appender.insertEvents(columnsOf(events), log === undefined ? undefined : draftOf(log));
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      throw db.unavailable(err);
    }
    // Every row new (the usual batch): no per-row bookkeeping of which.
    if (rows.length === events.length) return { inserted: events.map((e) => e.metadata.eventId), duplicates: [] };
    const isNew = new Uint8Array(events.length);
    for (const i of rows) isNew[i] = 1;
    const inserted: string[] = [];
    const duplicates: string[] = [];
    for (let i = 0; i < events.length; i++) (isNew[i] === 1 ? inserted : duplicates).push(events[i]!.metadata.eventId);
    return { inserted, duplicates };
  }

  return {
    insertEvents: (events: readonly TelemetryEventRecord[]) => insert(events),
    // One message to the writer thread, one transaction: events and log commit (and fsync) together.
    insertEventsWithLog: (events: readonly TelemetryEventRecord[], log: BatchLogDraft) => insert(events, log),

    listEvents: (userId: string, query: EventQuery) =>
      db.run((c): EventPage => {
        const where = ['user_id = @userId'];
        const params: Record<string, unknown> = { userId };
        if (query.since !== undefined) {
          where.push('created_at >= @since');
          params['since'] = query.since.getTime();
        }
        if (query.eventType !== undefined) {
          where.push('event_type = @eventType');
          params['eventType'] = query.eventType;
        }
        const { rows, nextCursor } = keysetPage<TelemetryRow>(
          c,
          { table: 'telemetry', timeColumn: 'created_at', order: 'desc', where, params, limit: query.limit, cursor: query.cursor },
          (r) => r.created_at,
        );
        return { events: rows.map(toEvent), nextCursor };
      }),

    recentEvents: (userId: string, query: RecentEventsQuery) => db.run((c) => c.db.transaction(() => recentEventsIn(c, userId, query))()),

    findEvent: (userId: string, eventId: string) =>
      db.run((c) => {
        const row = c.prep('SELECT * FROM telemetry WHERE user_id = ? AND event_id = ?').get(userId, eventId) as TelemetryRow | undefined;
        return row === undefined ? null : toEvent(row);
      }),
    countEvents: (userId: string) => db.run((c) => (c.prep('SELECT COUNT(*) AS n FROM telemetry WHERE user_id = ?').get(userId) as { n: number }).n),
    listActiveUsers: (since: Date, limit: number) =>
      db.run((c) =>
        (
          c
            .prep('SELECT DISTINCT user_id FROM telemetry WHERE created_at >= ? ORDER BY user_id LIMIT ?')
            .all(since.getTime(), clampLimit(limit, 100_000)) as { user_id: string }[]
        ).map((r) => r.user_id),
      ),
    deleteUserEvents: (userId: string) => db.run((c) => c.db.transaction(() => deleted(c, c.prep('DELETE FROM telemetry WHERE user_id = ?').run(userId).changes))()),
    deleteEventsOlderThan: (cutoff: Date) =>
      db.run((c) => c.db.transaction(() => deleted(c, c.prep('DELETE FROM telemetry WHERE created_at < ?').run(cutoff.getTime()).changes))()),
  };
}
