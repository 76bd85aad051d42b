import type { NewSyncQueueItem, SyncQueueError, SyncQueueItem, SyncQueueStatus, SyncQueueStore } from '../ports.js';
import { MAX_QUEUE_ERRORS, clampLimit, emptyStatusCounts, errorsFromJson } from '../shared.js';
import { parseIds, type Connection, type SqliteDb } from './connection.js';

export interface QueueRow {
  id: number;
  user_id: string;
  item_key: string;
  item_type: SyncQueueItem['itemType'];
  item_data: string;
  status: SyncQueueStatus;
  priority: number;
  attempts: number;
  conflict_resolution: string | null;
  created_at: number;
  synced_at: number | null;
  next_attempt_at: number | null;
  errors: string;
}

export const toQueueItem = (r: QueueRow): SyncQueueItem => ({
  id: String(r.id),
  userId: r.user_id,
  itemKey: r.item_key,
  itemType: r.item_type,
  itemData: JSON.parse(r.item_data) as Record<string, unknown>,
  status: r.status,
  priority: r.priority,
  attempts: r.attempts,
  conflictResolution: r.conflict_resolution === null ? null : (JSON.parse(r.conflict_resolution) as Record<string, unknown>),
  createdAt: new Date(r.created_at),
  syncedAt: r.synced_at === null ? null : new Date(r.synced_at),
  nextAttemptAt: r.next_attempt_at === null ? null : new Date(r.next_attempt_at),
  errors: errorsFromJson(r.errors),
});

/** Restore: inserts a backed-up item as it was (a `syncing` one comes back `pending`), unless its key exists. */
export function restoreQueueItem(c: Connection, q: SyncQueueItem): void {
  c.prep(
    `INSERT INTO sync_queue (user_id, item_key, item_type, item_data, status, priority, attempts, conflict_resolution, created_at, synced_at, next_attempt_at, errors)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, item_key) DO NOTHING`,
  ).run(
    q.userId,
    q.itemKey,
    q.itemType,
    JSON.stringify(q.itemData),
    q.status === 'syncing' ? 'pending' : q.status,
    q.priority,
    q.attempts,
    q.conflictResolution === null ? null : JSON.stringify(q.conflictResolution),
    q.createdAt.getTime(),
    q.syncedAt?.getTime() ?? null,
    q.nextAttemptAt?.getTime() ?? null,
    JSON.stringify(q.errors),
  );
}

export function sqliteSyncQueue(db: SqliteDb): SyncQueueStore {
  return {
    enqueue: (items: readonly NewSyncQueueItem[]) =>
      db.run((c) => {
        const now = Date.now();
        const insert = c.prep(
          `INSERT INTO sync_queue (user_id, item_key, item_type, item_data, status, priority, created_at)
           VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (user_id, item_key) DO NOTHING RETURNING *`,
        );
        const inserted: SyncQueueItem[] = [];
        const duplicates: string[] = [];
        c.db.transaction(() => {
          for (const item of items) {
            const row = insert.get(item.userId, item.itemKey, item.itemType, JSON.stringify(item.itemData), item.priority, now) as QueueRow | undefined;
            if (row === undefined) duplicates.push(item.itemKey);
            else inserted.push(toQueueItem(row));
          }
        })();
        return { inserted, duplicates };
      }),

    claim: (limit: number, now: Date, maxAttempts: number, staleAfterMs: number) =>
      db.run((c) => {
        const at = now.getTime();
        const select = c.prep(
          `SELECT id FROM sync_queue
           WHERE status = 'pending'
              OR (status = 'error' AND attempts < ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?))
              OR (status = 'syncing' AND claimed_at <= ?)
           ORDER BY priority DESC, created_at, id LIMIT ?`,
        );
        const update = c.prep(`UPDATE sync_queue SET status = 'syncing', claimed_at = ? WHERE id = ? RETURNING *`);
        // IMMEDIATE takes the write lock before the SELECT, so another process cannot pick the
        // same rows between our read and our update.
        return c.db
          .transaction(() => {
            const ids = (select.all(maxAttempts, at, at - staleAfterMs, clampLimit(limit, 10_000)) as { id: number }[]).map((r) => r.id);
            return ids.map((id) => toQueueItem(update.get(at, id) as QueueRow));
          })
          .immediate();
      }),

    markSynced: (ids: readonly string[], at: Date, conflictResolution?: Record<string, unknown> | null) =>
      db.run((c) => {
        const update = c.prep(`UPDATE sync_queue SET status = 'synced', synced_at = ?, conflict_resolution = COALESCE(?, conflict_resolution), next_attempt_at = NULL WHERE id = ?`);
        const resolution = conflictResolution == null ? null : JSON.stringify(conflictResolution);
        c.db.transaction(() => {
          for (const id of parseIds(ids)) update.run(at.getTime(), resolution, id);
        })();
      }),

    markFailed: (id: string, error: SyncQueueError, nextAttemptAt: Date | null) =>
      db.run((c) => {
        const [numericId] = parseIds([id]);
        if (numericId === undefined) return;
        c.db.transaction(() => {
          const row = c.prep('SELECT errors FROM sync_queue WHERE id = ?').get(numericId) as { errors: string } | undefined;
          if (row === undefined) return;
          const errors = [...errorsFromJson(row.errors), error].slice(-MAX_QUEUE_ERRORS);
          c.prep(`UPDATE sync_queue SET status = 'error', attempts = attempts + 1, next_attempt_at = ?, errors = ? WHERE id = ?`).run(nextAttemptAt?.getTime() ?? null, JSON.stringify(errors), numericId);
        })();
      }),

    countByStatus: (userId: string) =>
      db.run((c) => {
        const counts = emptyStatusCounts();
        for (const r of c.prep('SELECT status, COUNT(*) AS n FROM sync_queue WHERE user_id = ? GROUP BY status').all(userId) as { status: SyncQueueStatus; n: number }[]) counts[r.status] = r.n;
        return counts;
      }),

    lastSyncedAt: (userId: string) =>
      db.run((c) => {
        const { at } = c.prep(`SELECT MAX(synced_at) AS at FROM sync_queue WHERE user_id = ? AND status = 'synced'`).get(userId) as { at: number | null };
        return at === null ? null : new Date(at);
      }),

    listForUser: (userId: string, limit: number) =>
      db.run((c) => (c.prep('SELECT * FROM sync_queue WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?').all(userId, clampLimit(limit, 10_000)) as QueueRow[]).map(toQueueItem)),

    deleteUser: (userId: string) => db.run((c) => c.prep('DELETE FROM sync_queue WHERE user_id = ?').run(userId).changes),
  };
}
