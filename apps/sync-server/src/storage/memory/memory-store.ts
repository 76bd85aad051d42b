import { StoreUnavailableError } from '../../errors.js';
import type {
  BatchLog,
  EventPage,
  EventQuery,
  LoadedDocument,
  NewSyncQueueItem,
  Store,
  StoredUpdate,
  SyncQueueError,
  SyncQueueItem,
  TelemetryEventRecord,
  UpdateRecord,
} from '../ports.js';
import { MAX_QUEUE_ERRORS, clampLimit, emptyStatusCounts, encodeCursor, requireCursor } from '../shared.js';

export interface MemoryStore extends Store {
  /**
   * Test hook: while true every call rejects with StoreUnavailableError, as a real store does
   * during an outage, so retry and health logic can be tested without a database.
   */
  unavailable: boolean;
}

interface StoredEvent {
  readonly seq: number;
  readonly record: TelemetryEventRecord;
}

type MutableQueueItem = { -readonly [K in keyof SyncQueueItem]: SyncQueueItem[K] } & { claimedAt: number | null };

/** Copies on the way in and out, so callers cannot mutate what the "database" holds. */
const copyBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const clone = <T>(v: T): T => structuredClone(v);

/**
 * An in-memory Store for unit tests of logic. It passes the same conformance suite as the real
 * adapters; every method is synchronous inside, so each call is atomic like a transaction.
 */
export function createMemoryStore(): MemoryStore {
  let seq = 0;
  const updates: StoredUpdate[] = [];
  const snapshots = new Map<string, { state: Uint8Array; createdAt: Date }>();
  const events = new Map<string, StoredEvent>(); // key: userId \0 eventId
  const queue = new Map<string, MutableQueueItem>();
  const logs: { seq: number; log: BatchLog }[] = [];
  const leaseTable = new Map<string, { owner: string; expiresAt: number }>();
  let closed = false;

  const store: MemoryStore = {
    kind: 'memory',
    unavailable: false,
    documents: {
      appendUpdates: op(async (records: readonly UpdateRecord[]) => {
        for (const r of records) updates.push({ ...r, update: copyBytes(r.update), id: String(++seq) });
      }),
      loadDocument: op(async (docName: string): Promise<LoadedDocument> => {
        const snap = snapshots.get(docName);
        return {
          snapshot: snap === undefined ? null : { state: copyBytes(snap.state), createdAt: snap.createdAt },
          updates: updates.filter((u) => u.docName === docName).map((u) => ({ ...u, update: copyBytes(u.update) })),
        };
      }),
      compact: op(async (docName: string, state: Uint8Array, coveredIds: readonly string[]) => {
        snapshots.set(docName, { state: copyBytes(state), createdAt: new Date() });
        const covered = new Set(coveredIds);
        for (let i = updates.length - 1; i >= 0; i--) {
          const u = updates[i];
          if (u !== undefined && u.docName === docName && covered.has(u.id)) updates.splice(i, 1);
        }
      }),
      listDocumentsWithLog: op(async (limit: number) => [...new Set(updates.map((u) => u.docName))].slice(0, clampLimit(limit, 100_000))),
      listUserDocuments: op(async (userId: string) => {
        const names = new Set([...updates.map((u) => u.docName), ...snapshots.keys()]);
        return [...names].filter((n) => n === userId || n.startsWith(`${userId}/`)).sort();
      }),
      listUpdates: op(async (docName: string, limit: number) =>
        updates
          .filter((u) => u.docName === docName)
          .slice(0, clampLimit(limit, 100_000))
          .map((u) => ({ ...u, update: copyBytes(u.update) })),
      ),
      deleteDocument: op(async (docName: string) => {
        snapshots.delete(docName);
        for (let i = updates.length - 1; i >= 0; i--) if (updates[i]?.docName === docName) updates.splice(i, 1);
      }),
    },
    telemetry: {
      insertEvents: op(async (records: readonly TelemetryEventRecord[]) => {
        const inserted: string[] = [];
        const duplicates: string[] = [];
        for (const record of records) {
          const key = `${record.userId}\0${record.metadata.eventId}`;
          if (events.has(key)) duplicates.push(record.metadata.eventId);
          else {
            events.set(key, { seq: ++seq, record: clone(record) });
            inserted.push(record.metadata.eventId);
          }
        }
        return { inserted, duplicates };
      }),
      listEvents: op(async (userId: string, query: EventQuery): Promise<EventPage> => {
        const cursor = requireCursor(query.cursor);
        const limit = clampLimit(query.limit);
        const matching = [...events.values()]
          .filter(({ record: r, seq: s }) => {
            if (r.userId !== userId) return false;
            if (query.since !== undefined && r.createdAt < query.since) return false;
            if (query.eventType !== undefined && r.eventType !== query.eventType) return false;
            if (cursor !== null) {
              const t = r.createdAt.getTime();
              if (t > cursor.createdAt || (t === cursor.createdAt && s >= Number(cursor.id))) return false;
            }
            return true;
          })
          .sort((a, b) => b.record.createdAt.getTime() - a.record.createdAt.getTime() || b.seq - a.seq);
        const page = matching.slice(0, limit);
        const last = page.at(-1);
        return {
          events: page.map((e) => clone(e.record)),
          nextCursor: matching.length > limit && last !== undefined ? encodeCursor({ createdAt: last.record.createdAt.getTime(), id: String(last.seq) }) : null,
        };
      }),
      countEvents: op(async (userId: string) => [...events.values()].filter((e) => e.record.userId === userId).length),
      deleteUserEvents: op(async (userId: string) => deleteWhere(events, (e) => e.record.userId === userId)),
      deleteEventsOlderThan: op(async (cutoff: Date) => deleteWhere(events, (e) => e.record.createdAt < cutoff)),
    },
    syncQueue: {
      enqueue: op(async (items: readonly NewSyncQueueItem[]) => {
        const inserted: SyncQueueItem[] = [];
        const duplicates: string[] = [];
        const now = new Date();
        for (const item of items) {
          if ([...queue.values()].some((q) => q.userId === item.userId && q.itemKey === item.itemKey)) {
            duplicates.push(item.itemKey);
            continue;
          }
          const stored: MutableQueueItem = {
            id: String(++seq),
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
    },
    batchLogs: {
      insert: op(async (log: BatchLog) => {
        logs.push({ seq: ++seq, log: clone(log) });
      }),
      listForUser: op(async (userId: string, limit: number) => newestLogs((l) => l.userId === userId, limit)),
      listSince: op(async (since: Date, limit: number) => newestLogs((l) => l.startTime >= since, limit)),
      deleteUser: op(async (userId: string) => {
        const before = logs.length;
        for (let i = logs.length - 1; i >= 0; i--) if (logs[i]?.log.userId === userId) logs.splice(i, 1);
        return before - logs.length;
      }),
    },
    leases: {
      tryAcquire: op(async (key: string, owner: string, ttlMs: number) => {
        const now = Date.now();
        const held = leaseTable.get(key);
        if (held !== undefined && held.owner !== owner && held.expiresAt > now) return false;
        leaseTable.set(key, { owner, expiresAt: now + ttlMs });
        return true;
      }),
      release: op(async (key: string, owner: string) => {
        if (leaseTable.get(key)?.owner === owner) leaseTable.delete(key);
      }),
    },
    ping: op(async () => undefined),
    close: async () => {
      closed = true;
    },
  };
  return store;

  /** Wraps each method with the outage switch and the closed check. */
  function op<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      if (closed) throw new StoreUnavailableError('memory store is closed');
      if (store.unavailable) throw new StoreUnavailableError('memory store is marked unavailable');
      return fn(...args);
    };
  }

  function newestLogs(match: (l: BatchLog) => boolean, limit: number): BatchLog[] {
    return logs
      .filter((l) => match(l.log))
      .sort((a, b) => b.log.startTime.getTime() - a.log.startTime.getTime() || b.seq - a.seq)
      .slice(0, clampLimit(limit))
      .map((l) => clone(l.log));
  }
}

function publicItem(q: MutableQueueItem): SyncQueueItem {
  const { claimedAt: _claimedAt, ...item } = q;
  return clone(item);
}

function deleteWhere<V>(map: Map<string, V>, match: (v: V) => boolean): number {
  let n = 0;
  for (const [k, v] of map) {
    if (match(v)) {
      map.delete(k);
      n++;
    }
  }
  return n;
}
