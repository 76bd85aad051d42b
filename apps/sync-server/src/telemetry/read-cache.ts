/**
 * Read caches of the REST API: the learner's progress (topics with mastery, assessments, and the
 * `insights` map: statistics, weak areas, trend) beside the sync status (status.ts). Entries live
 * `CACHE_TTL_SECONDS` in the cache port (in-process, or Redis shared by every instance).
 *
 * A learner never reads their own stale write: every write path deletes the learner's entries
 * before it answers (batch ingestion, `/track`, the queue job, erasure), and every change of a
 * loaded learner document (WebSocket edits, server jobs, updates from other instances) deletes
 * the progress entry as it is applied ({@link createDocumentChangeInvalidator}). docs/operations.md
 * explains the one window that remains between instances.
 */
import type { Cache } from '../cache/ports.js';
import type { UserId } from '../ids.js';
import type { LearnerJson } from './ports.js';
import { statusCacheKey, type TelemetryDeps } from './types.js';

export const progressCacheKey = (userId: string): string => `progress:v1:${userId}`;

/** Deletes every cached read of one learner; resolves when the cache has done so. */
export async function forgetLearner(cache: Cache, userId: string): Promise<void> {
  await Promise.all([cache.delete(statusCacheKey(userId)), cache.delete(progressCacheKey(userId))]);
}

const isLearnerJson = (value: unknown, userId: string): value is LearnerJson =>
  typeof value === 'object' && value !== null && (value as { userId?: unknown }).userId === userId && typeof (value as { topics?: unknown }).topics === 'object';

/**
 * `GET /progress`: the cached JSON, else the document's, cached. The entry is written right
 * after the document is read (no I/O in between), so a change applied after the read deletes
 * it after it was written, never before.
 */
export async function readProgress(deps: Pick<TelemetryDeps, 'documents' | 'cache' | 'config'>, userId: UserId): Promise<LearnerJson> {
  const key = progressCacheKey(userId);
  const cached = await deps.cache.get(key);
  if (isLearnerJson(cached, userId)) return cached;
  const progress = await deps.documents.read(userId);
  void deps.cache.set(key, progress, deps.config.CACHE_TTL_SECONDS);
  return progress;
}

/**
 * Told every change of a learner document (`userId`), deletes its progress entry. Many updates
 * of one document in one event-loop turn cost two deletes, not one per update: one at the first
 * update, and one after the turn for updates that followed it (a read that ran between them
 * must not keep its entry).
 */
export function createDocumentChangeInvalidator(cache: Cache): (userId: UserId) => void {
  /** Learners changed this turn; true when more changes followed the first delete. */
  const pending = new Map<UserId, boolean>();
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    for (const [userId, more] of pending) if (more) void cache.delete(progressCacheKey(userId));
    pending.clear();
  };
  return (userId) => {
    if (pending.has(userId)) {
      pending.set(userId, true);
      return;
    }
    pending.set(userId, false);
    void cache.delete(progressCacheKey(userId));
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}
