import { randomUUID } from 'node:crypto';
import { canonicalJson, type BatchItem } from '@prepmate/crdt-model';
import { ApiError } from '../errors.js';
import type { UserId } from '../ids.js';
import type { BatchLog, BatchLogDraft, NewSyncQueueItem, SyncQueueItem, TelemetryEventRecord } from '../storage/ports.js';
import { anonymiseIp, trimUserAgent } from './enrich.js';
import { mergeQueueItems, tallyOutcomes } from './merge.js';
import { forgetLearner } from './read-cache.js';
import { toEventRecord } from './records.js';
import { settleOutcomes } from './settle.js';
import {
  statusCacheKey,
  type BatchResult,
  type ItemResult,
  type ItemStatus,
  type RequestContext,
  type TelemetryDeps,
  type TrackResult,
} from './types.js';
import { makeBatchEnvelopeSchema, parseBatchEnvelope, parseTrackBody, requestedUserId } from './parse.js';
import { createInlineValidator } from './item-validator.js';

/** Assessments first: they are facts other devices wait for; progress patches can lag. */
const PRIORITY = { assessment: 10, progress: 5 } as const;

export interface Ingestion {
  /** `POST /telemetry/track`: one event, stored once per `(userId, eventId)`. */
  track(ctx: RequestContext, body: unknown): Promise<TrackResult>;
  /** `POST /telemetry/batch`: every item validated on its own, one result per item. */
  ingestBatch(ctx: RequestContext, body: unknown): Promise<BatchResult>;
}

/** What a group's batch log needs besides its items. */
interface GroupLog {
  readonly batchId: string;
  readonly startTime: Date;
  /** Items of the batch counted in this learner's log besides the group's own (rejected before attribution). */
  readonly alsoCounted: readonly number[];
}

function failuresOf(results: readonly ItemResult[], indexes: readonly number[]): number {
  let failure = 0;
  for (const i of indexes) if (results[i]?.status === 'rejected') failure += 1;
  return failure;
}

const statusOf = (failure: number, items: number): BatchLog['status'] => (failure === 0 ? 'completed' : failure === items ? 'failed' : 'partial');

/**
 * A batch log from the results settled so far; items still without a result (events whose
 * insert is under way) are left for the store to count (`BatchLogDraft`).
 */
function draftOf(userId: string, batchId: string, results: readonly ItemResult[], indexes: readonly number[], conflictCount: number, startTime: Date): BatchLogDraft {
  let success = 0;
  let failure = 0;
  let duplicate = 0;
  for (const i of indexes) {
    const status = results[i]?.status;
    if (status === 'stored' || status === 'merged') success += 1;
    else if (status === 'rejected') failure += 1;
    else if (status === 'duplicate') duplicate += 1;
  }
  return {
    batchId,
    userId,
    itemCount: indexes.length,
    successCount: success,
    failureCount: failure,
    conflictCount,
    duplicateCount: duplicate,
    startTime,
    status: statusOf(failure, indexes.length),
    kind: 'telemetry',
  };
}

interface Entry {
  readonly index: number;
  readonly item: BatchItem;
}

/** The ingestion use-cases. No HTTP here: the routers pass a parsed body and a context. */
export function createIngestion(deps: TelemetryDeps): Ingestion {
  const { store, documents, cache, config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const envelopeSchema = makeBatchEnvelopeSchema(config.MAX_BATCH_ITEMS);
  const validator = deps.validator ?? createInlineValidator();

  async function track(ctx: RequestContext, body: unknown): Promise<TrackResult> {
    const request = parseTrackBody(body);
    const receivedAt = now();
    // Without a client-made id the event cannot be deduplicated; the server's id at least
    // lets the client refer to it.
    const eventId = request.metadata.eventId ?? `evt_${randomUUID().replaceAll('-', '')}`;
    const record = toEventRecord(
      { eventId, eventType: request.eventType, eventData: request.eventData, metadata: request.metadata },
      { userId: ctx.userId, receivedAt, ipAddress: anonymiseIp(ctx.ip), userAgent: trimUserAgent(ctx.userAgent), batchId: null, sentAt: null },
    );
    const result = await store.telemetry.insertEvents([record]);
    const duplicate = !result.inserted.includes(eventId);
    deps.metrics?.itemsIngested('event', duplicate ? 'duplicate' : 'stored', 1);
    if (!duplicate) {
      await cache.delete(statusCacheKey(ctx.userId));
      return { eventId, serverTimestamp: receivedAt.toISOString(), duplicate, flags: record.metadata.flags ?? [] };
    }
    // A repeat answers with what was stored the first time, so that every answer for one event
    // agrees (a retry after a lost response must not see a second receipt time). Erased in
    // between: nothing stored is left to report, so this request's view stands.
    const stored = await store.telemetry.findEvent(ctx.userId, eventId);
    const meta = stored?.metadata ?? record.metadata;
    return { eventId, serverTimestamp: meta.serverTimestamp.toISOString(), duplicate, flags: meta.flags ?? [] };
  }

  async function ingestBatch(ctx: RequestContext, body: unknown): Promise<BatchResult> {
    const startTime = now();
    const started = process.hrtime.bigint();
    const envelope = parseBatchEnvelope(envelopeSchema, body);
    const batchSentAt = envelope.sentAt ? new Date(envelope.sentAt) : null;
    const results: ItemResult[] = new Array<ItemResult>(envelope.items.length);

    // Group valid items by the learner they belong to: a learner's items all belong to them; a
    // service may send items of several learners in one batch.
    const owners: { index: number; userId: UserId; raw: unknown }[] = [];
    envelope.items.forEach((raw, index) => {
      try {
        // Only an item that names a learner needs the token check; the request's own learner
        // is already resolved (and checking it per item would be 500 schema parses a batch).
        const requested = requestedUserId(raw);
        owners.push({ index, userId: requested === undefined || requested === (ctx.userId as string) ? ctx.userId : ctx.actFor(requested), raw });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        const code = error.code === 'FORBIDDEN' ? 'FORBIDDEN' : 'VALIDATION_FAILED';
        results[index] = { index, status: 'rejected', error: { code, message: error.message, details: error.details.map((d) => ({ path: d.path ?? 'userId', message: d.message })) } };
      }
    });
    const validations = await validator.validate(owners.map((o) => o.raw));
    const groups = new Map<UserId, Entry[]>();
    owners.forEach(({ index, userId }, i) => {
      const validation = validations[i]!;
      if (!validation.ok) {
        results[index] = { index, status: 'rejected', error: validation.error };
        return;
      }
      const list = groups.get(userId);
      if (list) list.push({ index, item: validation.item });
      else groups.set(userId, [{ index, item: validation.item }]);
    });

    const rejected: number[] = [];
    results.forEach((r, i) => {
      if (r?.status !== 'rejected') return;
      rejected.push(i);
      const claimed = (envelope.items[i] as { itemType?: unknown } | null)?.itemType;
      deps.metrics?.itemsIngested(claimed === 'event' || claimed === 'progress' || claimed === 'assessment' ? claimed : 'invalid', 'rejected', 1);
    });
    let conflicts = 0;
    for (const [userId, entries] of groups) {
      // The caller's log also counts the items rejected before they could be attributed.
      const log = { batchId: envelope.batchId, startTime, alsoCounted: userId === ctx.userId ? rejected : [] };
      conflicts += await ingestGroup(ctx, userId, log, batchSentAt, entries, results);
      await forgetLearner(cache, userId);
    }
    if (!groups.has(ctx.userId) && rejected.length > 0) {
      await writeBatchLog(ctx.userId, envelope.batchId, results, rejected, 0, startTime);
    }

    let processed = 0;
    let failed = 0;
    let duplicates = 0;
    for (const r of results) {
      if (r.status === 'stored' || r.status === 'merged') processed += 1;
      else if (r.status === 'rejected') failed += 1;
      else duplicates += 1;
    }
    deps.metrics?.batchDuration(Number(process.hrtime.bigint() - started) / 1e9);
    deps.metrics?.conflicts('request', conflicts);
    return { batchId: envelope.batchId, processed, failed, conflicts, duplicates, results };
  }

  /**
   * One learner's items: stored, results set, and the learner's batch log written. Returns the
   * group's conflicts.
   */
  async function ingestGroup(
    ctx: RequestContext,
    userId: UserId,
    log: GroupLog,
    batchSentAt: Date | null,
    entries: readonly Entry[],
    results: ItemResult[],
  ): Promise<number> {
    const { batchId } = log;
    const logIndexes = entries.map((e) => e.index).concat(log.alsoCounted);
    const conflicts = { count: 0 };
    const receivedAt = now();
    const set = (index: number, status: ItemStatus): void => {
      results[index] = { index, status };
    };

    // Events: one insert for the whole group; the store's unique (userId, eventId) index
    // decides, so concurrent copies of the batch store each event once.
    const ipAddress = anonymiseIp(ctx.ip);
    const userAgent = trimUserAgent(ctx.userAgent);
    const events: TelemetryEventRecord[] = [];
    const eventIndexes = new Map<string, number>();
    const queued: { index: number; item: NewSyncQueueItem }[] = [];
    const queuedKeys = new Map<string, unknown>();
    for (const { index, item } of entries) {
      if (item.itemType === 'event') {
        const data = item.itemData;
        if (eventIndexes.has(data.eventId)) {
          set(index, 'duplicate');
          continue;
        }
        eventIndexes.set(data.eventId, index);
        events.push(toEventRecord(data, { userId, receivedAt, ipAddress, userAgent, batchId, sentAt: batchSentAt }));
        continue;
      }
      const itemKey = item.itemType === 'assessment' ? `assessment:${item.itemData.assessmentId}` : `progress:${batchId}:${index}`;
      const first = queuedKeys.get(itemKey);
      if (first) {
        set(index, 'duplicate');
        // The same assessment id twice in one batch with other values: the first wins.
        if (canonicalJson(first) !== canonicalJson(item.itemData)) conflicts.count += 1;
        continue;
      }
      queuedKeys.set(itemKey, item.itemData);
      queued.push({
        index,
        item: { userId, itemKey, itemType: item.itemType, itemData: { ...item.itemData }, priority: PRIORITY[item.itemType] },
      });
    }

    // Items that would take the learner document past its quota are refused one by one, before
    // anything of them is stored; the events of the batch are still taken. A change cannot be
    // sized before it is made: twice the items' JSON covers the document's keys and edit stamps.
    if (queued.length > 0 && documents.wouldExceed && (await documents.wouldExceed(userId, 2 * queued.reduce((sum, q) => sum + Buffer.byteLength(JSON.stringify(q.item.itemData)), 0)))) {
      for (const q of queued.splice(0)) {
        deps.metrics?.itemsIngested(q.item.itemType as 'progress' | 'assessment', 'rejected', 1);
        results[q.index] = {
          index: q.index,
          status: 'rejected',
          error: { code: 'QUOTA_EXCEEDED', message: 'the learner document has reached its stored size quota (SYNC_MAX_DOCUMENT_BYTES); nothing of this item was stored' },
        };
      }
    }

    // A group of events only (the usual telemetry batch): its log is complete as soon as the
    // insert's outcome is known, so the store writes both together (on SQLite one transaction,
    // one commit). A group with queue items is logged after their merge, below.
    const logWithEvents = queued.length === 0 && events.length > 0;
    if (events.length > 0) {
      const result = logWithEvents
        ? await store.telemetry.insertEventsWithLog(events, draftOf(userId, batchId, results, logIndexes, conflicts.count, log.startTime))
        : await store.telemetry.insertEvents(events);
      if (result.duplicates.length === 0) {
        // Every event new (the usual batch): no set of the inserted ids to look each one up in.
        for (const index of eventIndexes.values()) set(index, 'stored');
      } else {
        const inserted = new Set(result.inserted);
        for (const [eventId, index] of eventIndexes) set(index, inserted.has(eventId) ? 'stored' : 'duplicate');
      }
      deps.metrics?.itemsIngested('event', 'stored', result.inserted.length);
      deps.metrics?.itemsIngested('event', 'duplicate', eventIndexes.size - result.inserted.length);
    }

    if (queued.length > 0) {
      const { inserted, duplicates } = await store.syncQueue.enqueue(queued.map((q) => q.item));
      const indexByKey = new Map(queued.map((q) => [q.item.itemKey, q.index]));
      // Keys the store already had: a replay, or a concurrent copy of this batch that won.
      for (const q of queued) set(q.index, 'duplicate');
      if (inserted.length > 0) await mergeNow(userId, inserted, indexByKey, set, conflicts);
      conflicts.count += await knownAssessmentConflicts(userId, queued, duplicates);
      for (const q of queued) deps.metrics?.itemsIngested(q.item.itemType as 'progress' | 'assessment', results[q.index]!.status, 1);
    }

    if (logWithEvents) deps.metrics?.batchLogged(statusOf(failuresOf(results, logIndexes), logIndexes.length));
    else await writeBatchLog(userId, batchId, results, logIndexes, conflicts.count, log.startTime);
    return conflicts.count;
  }

  /**
   * Assessments re-sent under a known id with other values: first-write-wins keeps the stored
   * fact and answers `duplicate`, and the batch counts a conflict (a replay with the same values
   * is no conflict). Compared with the learner document; a first version still waiting in the
   * queue for its merge cannot be compared yet and is not counted.
   */
  async function knownAssessmentConflicts(userId: UserId, queued: readonly { item: NewSyncQueueItem }[], duplicateKeys: readonly string[]): Promise<number> {
    const known = new Set(duplicateKeys.filter((k) => k.startsWith('assessment:')));
    if (known.size === 0) return 0;
    const { assessments } = await documents.read(userId);
    let count = 0;
    for (const { item } of queued) {
      if (!known.has(item.itemKey)) continue;
      const stored = assessments[String(item.itemData['assessmentId'])];
      if (stored && canonicalJson(stored) !== canonicalJson(item.itemData)) count += 1;
    }
    return count;
  }

  /**
   * Merges freshly queued items at once, so connected devices see them within the request.
   * A failed merge leaves the item durably queued (`stored`) for the queue job to retry.
   */
  async function mergeNow(
    userId: UserId,
    inserted: readonly SyncQueueItem[],
    indexByKey: ReadonlyMap<string, number>,
    set: (index: number, status: ItemStatus) => void,
    conflicts: { count: number },
  ): Promise<void> {
    const outcomes = await mergeQueueItems(documents, userId, userId, inserted, deps.config.CONFLICT_RESOLUTION_STRATEGY);
    const at = now();
    const tally = tallyOutcomes(outcomes);
    for (const outcome of ['merged', 'conflict', 'failed'] as const) deps.metrics?.merged('request', outcome, tally[outcome]);
    const byId = new Map(inserted.map((i) => [i.id, i]));
    for (const o of outcomes) {
      const index = indexByKey.get(byId.get(o.id)?.itemKey ?? '');
      if (index === undefined) continue;
      set(index, o.ok ? 'merged' : 'stored');
      if (o.ok && o.conflict) conflicts.count += 1;
      if (!o.ok) logger.warn({ userId, itemId: o.id, error: o.error?.message }, 'merge into learner document failed; queued for retry');
    }
    await settleOutcomes(store.syncQueue, inserted, outcomes, at, config);
  }

  async function writeBatchLog(
    userId: string,
    batchId: string,
    results: readonly ItemResult[],
    indexes: readonly number[],
    conflictCount: number,
    startTime: Date,
  ): Promise<void> {
    const draft = draftOf(userId, batchId, results, indexes, conflictCount, startTime);
    const endTime = now();
    const log: BatchLog = { ...draft, endTime, duration: Math.max(0, endTime.getTime() - startTime.getTime()) };
    await store.batchLogs.insert(log);
    deps.metrics?.batchLogged(log.status);
  }

  return { track, ingestBatch };
}
