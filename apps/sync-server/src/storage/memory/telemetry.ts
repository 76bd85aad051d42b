import type { BatchLogDraft, EventPage, EventQuery, InsertEventsResult, RecentEventsPage, RecentEventsQuery, TelemetryEventRecord, TelemetryStore } from '../ports.js';
import { clampLimit, completeBatchLog, parsePosition } from '../shared.js';
import { clone, deleteWhere, eventKey, type MemoryDb, type StoredEvent } from './connection.js';
import { keysetPage } from './paging.js';

/** Stores the event unless `(userId, eventId)` is stored; true when it was new (ingestion and restore). */
export function insertEvent(db: MemoryDb, record: TelemetryEventRecord): boolean {
  const key = eventKey(record.userId, record.metadata.eventId);
  if (db.events.has(key)) return false;
  db.events.set(key, { seq: db.nextSeq(), record: clone(record) });
  return true;
}

export function memoryTelemetry(db: MemoryDb): TelemetryStore {
  const { op, events } = db;
  const insertAll = (records: readonly TelemetryEventRecord[]): InsertEventsResult => {
    const inserted: string[] = [];
    const duplicates: string[] = [];
    for (const record of records) (insertEvent(db, record) ? inserted : duplicates).push(record.metadata.eventId);
    return { inserted, duplicates };
  };
  const counted = (n: number): number => {
    if (n > 0) db.eventDeletions += 1;
    return n;
  };
  return {
    insertEvents: op(async (records: readonly TelemetryEventRecord[]) => insertAll(records)),
    // One synchronous step: no other call sees the events without their log.
    insertEventsWithLog: op(async (records: readonly TelemetryEventRecord[], log: BatchLogDraft) => {
      const result = insertAll(records);
      db.logs.push({ seq: db.nextSeq(), log: clone(completeBatchLog(log, result.inserted.length, records.length, new Date())) });
      return result;
    }),
    listEvents: op(async (userId: string, query: EventQuery): Promise<EventPage> => {
      const matching = [...events.values()].filter(({ record: r }) => {
        if (r.userId !== userId) return false;
        if (query.since !== undefined && r.createdAt < query.since) return false;
        if (query.eventType !== undefined && r.eventType !== query.eventType) return false;
        return true;
      });
      const { rows, nextCursor } = keysetPage(matching, { timeOf: (e) => e.record.createdAt, seqOf: (e) => e.seq, order: 'desc', limit: query.limit, cursor: query.cursor });
      return { events: rows.map((e) => clone(e.record)), nextCursor };
    }),
    // Sequences only grow, so while no event was deleted, every event stored after a position
    // has a higher seq (the SQLite store's rule, kept the same here).
    recentEvents: op(async (userId: string, query: RecentEventsQuery): Promise<RecentEventsPage> => {
      const position = `${db.eventDeletions}:${db.lastSeq()}`;
      const after = query.after === undefined ? null : parsePosition(query.after.position);
      const incremental = after !== null && after.deletions === db.eventDeletions && after.seq <= db.lastSeq();
      const oldest = incremental ? (query.after?.oldest ?? null) : null;
      const above = (e: StoredEvent): boolean => {
        if (oldest === null) return true;
        const t = e.record.createdAt.getTime();
        return t > oldest.createdAt || (t === oldest.createdAt && e.seq > oldest.seq);
      };
      const rows = [...events.values()]
        .filter((e) => e.record.userId === userId && (!incremental || (e.seq > after.seq && above(e))))
        .sort((a, b) => b.record.createdAt.getTime() - a.record.createdAt.getTime() || b.seq - a.seq)
        .slice(0, clampLimit(query.limit));
      return { incremental, events: rows.map((e) => clone(e.record)), resume: { keys: rows.map((e) => ({ createdAt: e.record.createdAt.getTime(), seq: e.seq })), position } };
    }),
    findEvent: op(async (userId: string, eventId: string) => {
      const stored = events.get(eventKey(userId, eventId));
      return stored ? clone(stored.record) : null;
    }),
    countEvents: op(async (userId: string) => [...events.values()].filter((e) => e.record.userId === userId).length),
    listActiveUsers: op(async (since: Date, limit: number) => {
      const users = new Set<string>();
      for (const { record: r } of events.values()) if (r.createdAt >= since) users.add(r.userId);
      return [...users].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, clampLimit(limit, 100_000));
    }),
    deleteUserEvents: op(async (userId: string) => counted(deleteWhere(events, (e) => e.record.userId === userId))),
    deleteEventsOlderThan: op(async (cutoff: Date) => counted(deleteWhere(events, (e) => e.record.createdAt < cutoff))),
  };
}
