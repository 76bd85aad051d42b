import * as Y from 'yjs';
import type { UserId } from '../ids.js';
import type { BatchLog, SyncQueueItem } from '../storage/ports.js';
import type { LearnerJson } from './ports.js';
import { eventToJson } from './records.js';
import { forgetLearner } from './read-cache.js';
import type { TelemetryDeps } from './types.js';

/** Page size used to walk a learner's events for an export. */
const EXPORT_PAGE = 1000;
/** Upper bound of queue items and batch logs in one export; far above any real learner. */
const EXPORT_MAX_ROWS = 100_000;

export interface UserExport {
  readonly userId: UserId;
  readonly exportedAt: string;
  readonly progress: LearnerJson;
  readonly events: readonly Record<string, unknown>[];
  readonly syncQueue: readonly Record<string, unknown>[];
  readonly batchLogs: readonly Record<string, unknown>[];
  /** Every stored document with its full Yjs state (base64 of one merged update). */
  readonly documents: readonly { readonly name: string; readonly state: string }[];
}

export interface ErasureReport {
  readonly userId: UserId;
  readonly deleted: { readonly events: number; readonly queueItems: number; readonly batchLogs: number; readonly documents: number };
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function queueItemToJson(item: SyncQueueItem): Record<string, unknown> {
  return {
    id: item.id,
    itemKey: item.itemKey,
    itemType: item.itemType,
    itemData: item.itemData,
    status: item.status,
    priority: item.priority,
    attempts: item.attempts,
    conflictResolution: item.conflictResolution,
    createdAt: iso(item.createdAt),
    syncedAt: iso(item.syncedAt),
    nextAttemptAt: iso(item.nextAttemptAt),
    errors: item.errors.map((e) => ({ at: iso(e.at), message: e.message })),
  };
}

function batchLogToJson(log: BatchLog): Record<string, unknown> {
  return { ...log, startTime: iso(log.startTime), endTime: iso(log.endTime) };
}

/** `GET /users/me/export`: everything stored about the learner, as one JSON document. */
export async function exportUser(deps: Pick<TelemetryDeps, 'store' | 'documents' | 'now'>, userId: UserId): Promise<UserExport> {
  const { store } = deps;
  const events: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.telemetry.listEvents(userId, { limit: EXPORT_PAGE, ...(cursor ? { cursor } : {}) });
    for (const e of page.events) events.push(eventToJson(e));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);

  const [queue, logs, names, progress] = await Promise.all([
    store.syncQueue.listForUser(userId, EXPORT_MAX_ROWS),
    store.batchLogs.listForUser(userId, EXPORT_MAX_ROWS),
    store.documents.listUserDocuments(userId),
    deps.documents.read(userId),
  ]);
  const documents: { name: string; state: string }[] = [];
  for (const name of names.sort()) {
    const loaded = await store.documents.loadDocument(name);
    const parts = [...(loaded.snapshot ? [loaded.snapshot.state] : []), ...loaded.updates.map((u) => u.update)];
    const state = parts.length === 0 ? new Uint8Array() : parts.length === 1 ? parts[0]! : Y.mergeUpdates(parts);
    documents.push({ name, state: Buffer.from(state).toString('base64') });
  }
  return {
    userId,
    exportedAt: (deps.now?.() ?? new Date()).toISOString(),
    progress,
    events,
    syncQueue: queue.map(queueItemToJson),
    batchLogs: logs.map(batchLogToJson),
    documents,
  };
}

/**
 * `DELETE /users/me`: documents first (each disconnected and dropped from memory before its
 * stored state is removed, so no open copy writes it back), then events, queue and logs.
 * Every step is idempotent: a request cut short by a store outage is completed by repeating it.
 */
export async function eraseUser(deps: Pick<TelemetryDeps, 'store' | 'documents' | 'cache'>, userId: UserId): Promise<ErasureReport> {
  const { store } = deps;
  // One call: open copies are dropped before the stored state goes, so nothing writes it back.
  const documents = await deps.documents.eraseAll(userId);
  const events = await store.telemetry.deleteUserEvents(userId);
  const queueItems = await store.syncQueue.deleteUser(userId);
  const batchLogs = await store.batchLogs.deleteUser(userId);
  await forgetLearner(deps.cache, userId);
  return { userId, deleted: { events, queueItems, batchLogs, documents } };
}
