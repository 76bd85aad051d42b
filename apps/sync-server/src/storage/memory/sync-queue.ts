import type { NewSyncQueueItem, SyncQueueError, SyncQueueItem, SyncQueueStore } from '../ports.js';
import { MAX_QUEUE_ERRORS, clampLimit, emptyStatusCounts } from '../shared.js';
import { clone, deleteWhere, type MemoryDb, type MutableQueueItem } from './connection.js';

export function publicItem(q: MutableQueueItem): SyncQueueItem {
  const { claimedAt: _claimedAt, ...item } = q;
  return clone(item);
}

const hasKey = (db: MemoryDb, userId: string, itemKey: string): boolean => [...db.queue.values()].some((q) => q.userId === userId && q.itemKey === itemKey);

/** Restore: inserts a backed-up item as it was (a `syncing` one comes back `pending`), unless its key exists. */
export function restoreQueueItem(db: MemoryDb, q: SyncQueueItem): void {
  if (hasKey(db, q.userId, q.itemKey)) return;
  const id = String(db.nextSeq());
  db.queue.set(id, { ...clone(q), id, status: q.status === 'syncing' ? 'pending' : q.status, claimedAt: null });
}

export function memorySyncQueue(db: MemoryDb): SyncQueueStore {
  const { op, queue } = db;
  return {
    enqueue: op(async (items: readonly NewSyncQueueItem[]) => {
      const inserted: SyncQueueItem[] = [];
      const duplicates: string[] = [];
      const now = new Date();
      for (const item of items) {
        if (hasKey(db, item.userId, item.itemKey)) {
          duplicates.push(item.itemKey);
          continue;
        }
        const stored: MutableQueueItem = {
          id: String(db.nextSeq()),
          userId: item.userId,
          itemKey: item.itemKey,
          itemType: item.itemType,
          itemData: clone(item.itemData),
          status: 'pending',
          priority: item.priority,
          attempts: 0,
          conflictResolution: null,
          createdAt: now,
          syncedAt: null,
          nextAttemptAt: null,
          errors: [],
          claimedAt: null,
        };
        queue.set(stored.id, stored);
        inserted.push(publicItem(stored));
      }
      return { inserted, duplicates };
    }),
    claim: op(async (limit: number, now: Date, maxAttempts: number, staleAfterMs: number) => {
      const at = now.getTime();
      const claimable = [...queue.values()]
        .filter(
          (q) =>
            q.status === 'pending' ||
            (q.status === 'error' && q.attempts < maxAttempts && (q.nextAttemptAt === null || q.nextAttemptAt.getTime() <= at)) ||
            (q.status === 'syncing' && q.claimedAt !== null && q.claimedAt <= at - staleAfterMs),
        )
        .sort((a, b) => b.priority - a.priority || a.createdAt.getTime() - b.createdAt.getTime() || Number(a.id) - Number(b.id))
        .slice(0, clampLimit(limit, 10_000));
      for (const q of claimable) {
        q.status = 'syncing';
        q.claimedAt = at;
      }
      return claimable.map(publicItem);
    }),
    markSynced: op(async (ids: readonly string[], at: Date, conflictResolution?: Record<string, unknown> | null) => {
      for (const id of ids) {
        const q = queue.get(id);
        if (q === undefined) continue;
        q.status = 'synced';
        q.syncedAt = at;
        q.nextAttemptAt = null;
        if (conflictResolution != null) q.conflictResolution = clone(conflictResolution);
      }
    }),
    markFailed: op(async (id: string, error: SyncQueueError, nextAttemptAt: Date | null) => {
      const q = queue.get(id);
      if (q === undefined) return;
      q.status = 'error';
      q.attempts += 1;
      q.nextAttemptAt = nextAttemptAt;
      q.errors = [...q.errors, { at: error.at, message: error.message }].slice(-MAX_QUEUE_ERRORS);
    }),
    countByStatus: op(async (userId: string) => {
      const counts = emptyStatusCounts();
      for (const q of queue.values()) if (q.userId === userId) counts[q.status] += 1;
      return counts;
    }),
    lastSyncedAt: op(async (userId: string) => {
      let best: Date | null = null;
      for (const q of queue.values()) if (q.userId === userId && q.status === 'synced' && q.syncedAt !== null && (best === null || q.syncedAt > best)) best = q.syncedAt;
      return best;
    }),
    listForUser: op(async (userId: string, limit: number) =>
      [...queue.values()]
        .filter((q) => q.userId === userId)
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || Number(b.id) - Number(a.id))
        .slice(0, clampLimit(limit, 10_000))
        .map(publicItem),
    ),
    deleteUser: op(async (userId: string) => deleteWhere(queue, (q) => q.userId === userId)),
  };
}
