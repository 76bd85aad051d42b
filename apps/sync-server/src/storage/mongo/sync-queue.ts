import type { Types } from 'mongoose';
import type { NewSyncQueueItem, SyncQueueError, SyncQueueItem, SyncQueueStatus, SyncQueueStore } from '../ports.js';
import { MAX_QUEUE_ERRORS, clampLimit, emptyStatusCounts } from '../shared.js';
import { ID_CHUNK, chunks, insertIgnoringDuplicates, isDuplicateKey, toObjectIds } from './connection.js';
import { ObjectId, type Models, type SyncQueueDoc } from './models.js';

export const toQueueItem = (d: SyncQueueDoc): SyncQueueItem => ({
  id: d._id.toHexString(),
  userId: d.userId,
  itemKey: d.itemKey,
  itemType: d.itemType,
  itemData: d.itemData,
  status: d.status,
  priority: d.priority,
  attempts: d.attempts,
  conflictResolution: d.conflictResolution ?? null,
  createdAt: d.createdAt,
  syncedAt: d.syncedAt ?? null,
  nextAttemptAt: d.nextAttemptAt ?? null,
  errors: (d.errors ?? []).map((e) => ({ at: e.at, message: e.message })),
});

/** Restore: inserts a backed-up item as it was (a `syncing` one comes back `pending`), unless its key exists. */
export async function restoreQueueItem(m: Models, item: SyncQueueItem): Promise<void> {
  const { id: _id, ...q } = item;
  await insertIgnoringDuplicates(() =>
    m.syncQueue.insertMany(
      [{ ...q, _id: new ObjectId(), status: q.status === 'syncing' ? 'pending' : q.status, claimedAt: null, claimSeq: 0, errors: q.errors.map((e) => ({ at: e.at, message: e.message })) }],
      { ordered: false, lean: true },
    ),
  );
}

export function mongoSyncQueue(m: Models): SyncQueueStore {
  /** Takes one item if our ticket for its next claim generation is the one the unique `_id` accepts. */
  async function claimOne(item: SyncQueueDoc, now: Date): Promise<SyncQueueItem | null> {
    const claimSeq = item.claimSeq + 1;
    try {
      await m.claims.insertMany([{ _id: `${item._id.toHexString()}:${claimSeq}`, itemId: item._id, userId: item.userId, createdAt: now }], { lean: true });
    } catch (err) {
      if (isDuplicateKey(err)) return null; // another claimer won this generation
      throw err;
    }
    await m.syncQueue.updateOne({ _id: item._id }, { $set: { status: 'syncing', claimedAt: now, claimSeq } });
    return toQueueItem({ ...item, status: 'syncing', claimedAt: now, claimSeq });
  }

  return {
    async enqueue(items: readonly NewSyncQueueItem[]) {
      if (items.length === 0) return { inserted: [], duplicates: [] };
      const createdAt = new Date();
      const docs: SyncQueueDoc[] = items.map((i) => ({
        _id: new ObjectId(),
        userId: i.userId,
        itemKey: i.itemKey,
        itemType: i.itemType,
        itemData: i.itemData,
        status: 'pending',
        priority: i.priority,
        attempts: 0,
        conflictResolution: null,
        createdAt,
        syncedAt: null,
        nextAttemptAt: null,
        claimedAt: null,
        claimSeq: 0,
        errors: [],
      }));
      const rejected = await insertIgnoringDuplicates(() => m.syncQueue.insertMany(docs, { ordered: false, lean: true }));
      return {
        inserted: docs.filter((_, i) => !rejected.has(i)).map(toQueueItem),
        duplicates: items.filter((_, i) => rejected.has(i)).map((i) => i.itemKey),
      };
    },

    async claim(limit: number, now: Date, maxAttempts: number, staleAfterMs: number) {
      const want = clampLimit(limit, 10_000);
      const claimed: SyncQueueItem[] = [];
      const skip: Types.ObjectId[] = [];
      // Lost races free slots; a few more rounds fill them from the next candidates.
      for (let round = 0; round < 5 && claimed.length < want; round++) {
        const candidates = await m.syncQueue
          .find({
            _id: { $nin: skip },
            $or: [
              { status: 'pending' },
              { status: 'error', attempts: { $lt: maxAttempts }, nextAttemptAt: null },
              { status: 'error', attempts: { $lt: maxAttempts }, nextAttemptAt: { $lte: now } },
              { status: 'syncing', claimedAt: { $lte: new Date(now.getTime() - staleAfterMs) } },
            ],
          })
          .sort({ priority: -1, createdAt: 1, _id: 1 })
          .limit(want - claimed.length)
          .lean<SyncQueueDoc[]>();
        if (candidates.length === 0) break;
        const results = await Promise.all(candidates.map((c) => claimOne(c, now)));
        for (const [i, r] of results.entries()) {
          skip.push((candidates[i] as SyncQueueDoc)._id);
          if (r !== null) claimed.push(r);
        }
      }
      return claimed;
    },

    async markSynced(ids: readonly string[], at: Date, conflictResolution?: Record<string, unknown> | null) {
      const set: Record<string, unknown> = { status: 'synced', syncedAt: at, nextAttemptAt: null };
      if (conflictResolution != null) set['conflictResolution'] = conflictResolution;
      for (const chunk of chunks(toObjectIds(ids), ID_CHUNK)) {
        await m.syncQueue.updateMany({ _id: { $in: chunk } }, { $set: set });
        // A synced item is never claimed again, so its tickets are garbage.
        await m.claims.deleteMany({ itemId: { $in: chunk } });
      }
    },

    async markFailed(id: string, error: SyncQueueError, nextAttemptAt: Date | null) {
      const [oid] = toObjectIds([id]);
      if (oid === undefined) return;
      await m.syncQueue.updateOne(
        { _id: oid },
        { $set: { status: 'error', nextAttemptAt }, $inc: { attempts: 1 }, $push: { errors: { $each: [{ at: error.at, message: error.message }], $slice: -MAX_QUEUE_ERRORS } } },
      );
    },

    async countByStatus(userId: string) {
      const counts = emptyStatusCounts();
      const rows = await m.syncQueue.aggregate<{ _id: SyncQueueStatus; n: number }>([{ $match: { userId } }, { $group: { _id: '$status', n: { $sum: 1 } } }]);
      for (const r of rows) counts[r._id] = r.n;
      return counts;
    },

    async lastSyncedAt(userId: string) {
      const [row] = await m.syncQueue.find({ userId, status: 'synced', syncedAt: { $ne: null } }, { syncedAt: 1 }).sort({ syncedAt: -1 }).limit(1).lean<Pick<SyncQueueDoc, 'syncedAt'>[]>();
      return row?.syncedAt ?? null;
    },

    async listForUser(userId: string, limit: number) {
      return (await m.syncQueue.find({ userId }).sort({ createdAt: -1, _id: -1 }).limit(clampLimit(limit, 10_000)).lean<SyncQueueDoc[]>()).map(toQueueItem);
    },

    async deleteUser(userId: string) {
      const { deletedCount } = await m.syncQueue.deleteMany({ userId });
      await m.claims.deleteMany({ userId });
      return deletedCount;
    },
  };
}
