import { z } from 'zod';
import type { BatchLog, SyncQueueStatus } from '../storage/ports.js';
import { statusCacheKey, type LearnerSyncStatus, type TelemetryDeps } from './types.js';

const cachedStatusSchema = z.object({
  lastSyncTime: z.string().nullable(),
  pendingItems: z.number(),
  totalItems: z.number(),
  syncHealth: z.enum(['good', 'degraded', 'failing']),
});

/**
 * `failing`: the last batch failed entirely, or merges fail at least as often as they succeed.
 * `degraded`: some queue item is in `error` (retried with backoff) or the last batch was partial.
 * `good` otherwise. Documented in docs/api.md.
 */
export function syncHealthOf(counts: Record<SyncQueueStatus, number>, lastLog: BatchLog | undefined): LearnerSyncStatus['syncHealth'] {
  if (lastLog?.status === 'failed' || (counts.error > 0 && counts.error >= counts.synced)) return 'failing';
  if (counts.error > 0 || lastLog?.status === 'partial') return 'degraded';
  return 'good';
}

/**
 * The caller's sync status (`lastSyncTime`: the latest of the last batch's end, the last merged
 * queue item and the newest stored event), cached for `CACHE_TTL_SECONDS` (the caller's own ingestion and the
 * queue job invalidate it, so the cache only hides other instances' in-flight work).
 */
export async function readSyncStatus(deps: Pick<TelemetryDeps, 'store' | 'cache' | 'config'>, userId: string): Promise<LearnerSyncStatus> {
  const key = statusCacheKey(userId);
  const cached = cachedStatusSchema.safeParse(await deps.cache.get(key));
  if (cached.success) return cached.data;

  const { store } = deps;
  const [counts, events, lastSynced, logs, newest] = await Promise.all([
    store.syncQueue.countByStatus(userId),
    store.telemetry.countEvents(userId),
    store.syncQueue.lastSyncedAt(userId),
    store.batchLogs.listForUser(userId, 1),
    // A client that only uses `track` has no batch logs: its newest event is its last sync.
    store.telemetry.listEvents(userId, { limit: 1 }),
  ]);
  const lastLog = logs[0];
  const candidates = [lastLog?.endTime, lastSynced, newest.events[0]?.createdAt].filter((d): d is Date => d instanceof Date);
  const last = candidates.length > 0 ? new Date(Math.max(...candidates.map((d) => d.getTime()))) : null;
  const status: LearnerSyncStatus = {
    lastSyncTime: last ? last.toISOString() : null,
    pendingItems: counts.pending + counts.syncing + counts.error,
    totalItems: events + counts.pending + counts.syncing + counts.synced + counts.error,
    syncHealth: syncHealthOf(counts, lastLog),
  };
  await deps.cache.set(key, status, deps.config.CACHE_TTL_SECONDS);
  return status;
}
