import { StoreUnavailableError } from '../../errors.js';
import type {
  AuditEntry,
  AuditPage,
  AuditQuery,
  BatchLog,
  EventPage,
  EventQuery,
  LoadedDocument,
  NewSyncQueueItem,
  RecordCollection,
  RecordPage,
  Store,
  StoreRecord,
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
  const auditLog: { seq: number; entry: AuditEntry }[] = [];
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
      findEvent: op(async (userId: string, eventId: string) => {
        const stored = events.get(`${userId}\0${eventId}`);
        return stored ? clone(stored.record) : null;
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
      purgeExpired: op(async (now: Date = new Date()) => deleteWhere(leaseTable, (l) => l.expiresAt <= now.getTime())),
    },
    audit: {
      append: op(async (entries: readonly AuditEntry[]) => {
        for (const entry of entries) auditLog.push({ seq: ++seq, entry: clone(entry) });
      }),
      list: op(async (query: AuditQuery): Promise<AuditPage> => {
        const cursor = requireCursor(query.cursor);
        const limit = clampLimit(query.limit);
        const matching = auditLog
          .filter(({ entry: e, seq: s }) => {
            if (query.userId !== undefined && e.subjectUserId !== query.userId && e.actor !== query.userId) return false;
            if (query.since !== undefined && e.at < query.since) return false;
            if (query.action !== undefined && e.action !== query.action) return false;
            if (cursor !== null) {
              const t = e.at.getTime();
              if (t < cursor.createdAt || (t === cursor.createdAt && s <= Number(cursor.id))) return false;
            }
            return true;
          })
          .sort((a, b) => a.entry.at.getTime() - b.entry.at.getTime() || a.seq - b.seq);
        const page = matching.slice(0, limit);
        const last = page.at(-1);
        return {
          entries: page.map((a) => ({ ...clone(a.entry), id: String(a.seq) })),
          nextCursor: matching.length > limit && last !== undefined ? encodeCursor({ createdAt: last.entry.at.getTime(), id: String(last.seq) }) : null,
        };
      }),
      pseudonymiseUser: op(async (userId: string, pseudonym: string) => {
        let n = 0;
        for (const a of auditLog) {
          const e = a.entry;
          if (e.subjectUserId !== userId && e.actor !== userId) continue;
          a.entry = {
            ...e,
            subjectUserId: e.subjectUserId === userId ? pseudonym : e.subjectUserId,
            actor: e.actor === userId ? pseudonym : e.actor,
            target: null,
            from: null,
            details: null,
          };
          n++;
        }
        return n;
      }),
      deleteOlderThan: op(async (cutoff: Date) => {
        const before = auditLog.length;
        for (let i = auditLog.length - 1; i >= 0; i--) if ((auditLog[i]?.entry.at ?? cutoff) < cutoff) auditLog.splice(i, 1);
        return before - auditLog.length;
      }),
    },
    records: {
      scan: op(async (collection: RecordCollection, after: string | null, limit: number): Promise<RecordPage> => {
        const n = clampLimit(limit, 10_000);
        const afterSeq = after === null ? 0 : Number(after);
        const page = <T>(rows: readonly T[], seqOf: (r: T) => number, map: (r: T) => StoreRecord): RecordPage => {
          const selected = rows.filter((r) => seqOf(r) > afterSeq).sort((a, b) => seqOf(a) - seqOf(b)).slice(0, n);
          const last = selected.at(-1);
          return { records: selected.map(map), next: selected.length === n && last !== undefined ? String(seqOf(last)) : null };
        };
        switch (collection) {
          case 'snapshots': {
            const names = [...snapshots.keys()].filter((k) => k > (after ?? '')).sort().slice(0, n);
            return {
              records: names.map((docName) => {
                const s = snapshots.get(docName)!;
                return { type: 'snapshot', docName, state: copyBytes(s.state), createdAt: s.createdAt };
              }),
              next: names.length === n ? (names.at(-1) ?? null) : null,
            };
          }
          case 'updates':
            return page(updates, (u) => Number(u.id), (u) => ({ type: 'update', docName: u.docName, update: copyBytes(u.update), author: u.author, createdAt: u.createdAt }));
          case 'events':
            return page([...events.values()], (e) => e.seq, (e) => ({ type: 'event', event: clone(e.record) }));
          case 'queue':
            return page([...queue.values()], (q) => Number(q.id), (q) => ({ type: 'queueItem', item: publicItem(q) }));
          case 'batchLogs':
            return page(logs, (l) => l.seq, (l) => ({ type: 'batchLog', log: clone(l.log) }));
          case 'audit':
            return page(auditLog, (a) => a.seq, (a) => ({ type: 'audit', entry: clone(a.entry) }));
        }
      }),
      insert: op(async (list: readonly StoreRecord[]) => {
        for (const r of list) {
          switch (r.type) {
            case 'snapshot':
              snapshots.set(r.docName, { state: copyBytes(r.state), createdAt: r.createdAt });
              break;
            case 'update':
              updates.push({ docName: r.docName, update: copyBytes(r.update), author: r.author, createdAt: r.createdAt, id: String(++seq) });
              break;
            case 'event': {
              const key = `${r.event.userId}\0${r.event.metadata.eventId}`;
              if (!events.has(key)) events.set(key, { seq: ++seq, record: clone(r.event) });
              break;
            }
            case 'queueItem': {
              const q = r.item;
              if ([...queue.values()].some((x) => x.userId === q.userId && x.itemKey === q.itemKey)) break;
              const id = String(++seq);
              queue.set(id, { ...clone(q), id, status: q.status === 'syncing' ? 'pending' : q.status, claimedAt: null });
              break;
            }
            case 'batchLog':
              logs.push({ seq: ++seq, log: clone(r.log) });
              break;
            case 'audit':
              auditLog.push({ seq: ++seq, entry: clone(r.entry) });
              break;
          }
        }
      }),
      replaceEventData: op(async (userId: string, eventId: string, eventData: Record<string, unknown>) => {
        const stored = events.get(`${userId}\0${eventId}`);
        if (stored === undefined) return false;
        events.set(`${userId}\0${eventId}`, { seq: stored.seq, record: { ...stored.record, eventData: clone(eventData) } });
        return true;
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
