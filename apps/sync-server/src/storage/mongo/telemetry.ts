import type { BatchLogDraft, EventPage, EventQuery, InsertEventsResult, RecentEventsPage, RecentEventsQuery, TelemetryEventRecord, TelemetryStore } from '../ports.js';
import { clampLimit, completeBatchLog } from '../shared.js';
import { insertBatchLog } from './batch-logs.js';
import { insertIgnoringDuplicates, withoutUndefined } from './connection.js';
import { ObjectId, type Models, type TelemetryDoc } from './models.js';
import { keysetPage } from './paging.js';

export const toEvent = (d: TelemetryDoc): TelemetryEventRecord => ({
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

export const eventDoc = (e: TelemetryEventRecord): TelemetryDoc => ({
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
});

/**
 * Inserts the events unordered: one duplicate does not stop the rest; the unique
 * (userId, metadata.eventId) index decides, so concurrent callers with the same ids store each
 * exactly once. Returns the indexes the index refused (ingestion and restore).
 */
export const insertEventDocs = (m: Models, events: readonly TelemetryEventRecord[]): Promise<Set<number>> =>
  insertIgnoringDuplicates(() => m.telemetry.insertMany(events.map(eventDoc), { ordered: false, lean: true }));

export function mongoTelemetry(m: Models): TelemetryStore {
  async function insertEvents(events: readonly TelemetryEventRecord[]): Promise<InsertEventsResult> {
    if (events.length === 0) return { inserted: [], duplicates: [] };
    const rejected = await insertEventDocs(m, events);
    const inserted: string[] = [];
    const duplicates: string[] = [];
    events.forEach((e, i) => (rejected.has(i) ? duplicates : inserted).push(e.metadata.eventId));
    return { inserted, duplicates };
  }
  async function listEvents(userId: string, query: EventQuery): Promise<EventPage> {
    const and: Record<string, unknown>[] = [{ userId }];
    if (query.since !== undefined) and.push({ createdAt: { $gte: query.since } });
    if (query.eventType !== undefined) and.push({ eventType: query.eventType });
    const { rows, nextCursor } = await keysetPage<TelemetryDoc>(m.telemetry, { timeField: 'createdAt', order: 'desc', and, limit: query.limit, cursor: query.cursor }, (d) => d.createdAt);
    return { events: rows.map(toEvent), nextCursor };
  }
  return {
    insertEvents,

    // Two writes: MongoDB transactions need a replica set (and FerretDB has none). The log
    // follows its events as it did when ingestion wrote it separately.
    async insertEventsWithLog(events: readonly TelemetryEventRecord[], log: BatchLogDraft): Promise<InsertEventsResult> {
      const result = await insertEvents(events);
      await insertBatchLog(m, completeBatchLog(log, result.inserted.length, events.length, new Date()));
      return result;
    },

    listEvents,

    // Always complete: `_id`s are made by each instance's driver, so no position tells which
    // events another instance stored since.
    async recentEvents(userId: string, query: RecentEventsQuery): Promise<RecentEventsPage> {
      const { events } = await listEvents(userId, { limit: query.limit });
      return { incremental: false, events, resume: null };
    },

    async findEvent(userId: string, eventId: string) {
      const row = await m.telemetry.findOne({ userId, 'metadata.eventId': eventId }).lean<TelemetryDoc>();
      return row ? toEvent(row) : null;
    },
    countEvents: (userId: string) => m.telemetry.countDocuments({ userId }),
    async listActiveUsers(since: Date, limit: number) {
      const rows = await m.telemetry.aggregate<{ _id: string }>([
        { $match: { createdAt: { $gte: since } } },
        // Grouped by learner only: FerretDB implements neither `$max` nor `$first` in `$group`,
        // so "most recent first" is not offered by any adapter.
        { $group: { _id: '$userId' } },
        { $sort: { _id: 1 } },
        { $limit: clampLimit(limit, 100_000) },
      ]);
      return rows.map((r) => r._id);
    },
    deleteUserEvents: async (userId: string) => (await m.telemetry.deleteMany({ userId })).deletedCount,
    deleteEventsOlderThan: async (cutoff: Date) => (await m.telemetry.deleteMany({ createdAt: { $lt: cutoff } })).deletedCount,
  };
}
