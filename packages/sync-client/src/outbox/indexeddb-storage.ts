import type { EventId } from '../ids.js';
import { QuotaError, type OutboxStorage } from './storage.js';
import type { AppendResult, OutboxItem, OutboxLimits, OutboxStats } from './types.js';

/** Options of {@link createIndexedDbOutboxStorage}. */
export interface IndexedDbOutboxOptions {
  /** The factory; `globalThis.indexedDB` in browsers, `fake-indexeddb`'s in Node tests. */
  readonly indexedDB: IDBFactory;
  /** Database name; one per user so that a shared device never mixes learners. Default `prepmate-outbox`. */
  readonly dbName?: string;
}

const ITEMS = 'items';
const META = 'meta';
const STATS_KEY = 'stats';

/**
 * Outbox storage in IndexedDB. One object store keyed by the UUIDv7 id (so key order is capture
 * order) plus a `meta` record with count and bytes, updated in the same transaction as every
 * write: capping at 100 000 items stays O(1) per append instead of a scan, and stays exact when
 * several tabs write at once (IndexedDB serialises overlapping readwrite transactions).
 *
 * Callbacks, not promises, drive each transaction: a transaction commits as soon as no request
 * is pending, and callback chaining keeps it alive on every engine.
 */
export async function createIndexedDbOutboxStorage(options: IndexedDbOutboxOptions): Promise<OutboxStorage> {
  const db = await openDb(options.indexedDB, options.dbName ?? 'prepmate-outbox');
  let closed = false;

  function run<T>(mode: IDBTransactionMode, body: (items: IDBObjectStore, meta: IDBObjectStore, set: (v: T) => void) => void): Promise<T> {
    if (closed) return Promise.reject(new Error('outbox storage is closed'));
    return new Promise<T>((resolve, reject) => {
      let result: T | undefined;
      let tx: IDBTransaction;
      try {
        tx = db.transaction([ITEMS, META], mode, { durability: 'strict' });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      tx.oncomplete = () => resolve(result as T);
      const fail = (): void => {
        const err = tx.error;
        if (err && err.name === 'QuotaExceededError') reject(new QuotaError('IndexedDB quota exceeded', { cause: err }));
        else reject(err ?? new Error('IndexedDB transaction aborted'));
      };
      tx.onabort = fail;
      body(tx.objectStore(ITEMS), tx.objectStore(META), (v) => {
        result = v;
      });
    });
  }

  /** Deletes items from a cursor while `more(item)` holds, adjusting `stats`; then `after()`. */
  function deleteWhile(
    cursorReq: IDBRequest<IDBCursorWithValue | null>,
    stats: { count: number; bytes: number },
    more: (item: OutboxItem) => boolean,
    gone: EventId[],
    after: () => void,
  ): void {
    cursorReq.onsuccess = () => {
      const cursor = cursorReq.result;
      if (!cursor) return after();
      const item = cursor.value as OutboxItem;
      if (!more(item)) return after();
      cursor.delete();
      stats.count--;
      stats.bytes -= item.size;
      gone.push(item.id);
      cursor.continue();
    };
  }

  return {
    append(newItems: readonly OutboxItem[], limits: OutboxLimits): Promise<AppendResult> {
      return run<AppendResult>('readwrite', (items, meta, set) => {
        const statsReq = meta.get(STATS_KEY);
        statsReq.onsuccess = () => {
          const stats = { ...(statsReq.result as OutboxStats | undefined ?? { count: 0, bytes: 0 }) };
          let pending = newItems.length;
          const finish = (): void => {
            const dropped: EventId[] = [];
            const over = (): boolean => stats.count > limits.maxItems || stats.bytes > limits.maxBytes;
            const done = (): void => {
              meta.put(stats, STATS_KEY);
              set({ count: stats.count, bytes: stats.bytes, dropped });
            };
            if (!over()) return done();
            deleteWhile(items.openCursor(), stats, () => over(), dropped, done);
          };
          if (pending === 0) return finish();
          for (const item of newItems) {
            const req = items.add(item);
            req.onsuccess = () => {
              stats.count++;
              stats.bytes += item.size;
              if (--pending === 0) finish();
            };
            req.onerror = (ev) => {
              // An id already present: the append was retried. Keep the transaction alive.
              if (req.error?.name === 'ConstraintError') {
                ev.preventDefault();
                ev.stopPropagation();
                if (--pending === 0) finish();
              }
            };
          }
        };
      });
    },

    peek(maxItems: number, maxBytes: number): Promise<OutboxItem[]> {
      return run<OutboxItem[]>('readonly', (items, _meta, set) => {
        const req = items.getAll(null, Math.max(1, maxItems));
        req.onsuccess = () => {
          const all = req.result as OutboxItem[];
          let total = 0;
          let n = 0;
          while (n < all.length && (n === 0 || total + all[n]!.size <= maxBytes)) total += all[n++]!.size;
          set(all.slice(0, n));
        };
      });
    },

    remove(ids: readonly EventId[]): Promise<void> {
      return run<void>('readwrite', (items, meta) => {
        const statsReq = meta.get(STATS_KEY);
        statsReq.onsuccess = () => {
          const stats = { ...(statsReq.result as OutboxStats | undefined ?? { count: 0, bytes: 0 }) };
          let pending = ids.length;
          if (pending === 0) return;
          for (const id of ids) {
            const get = items.get(id);
            get.onsuccess = () => {
              const item = get.result as OutboxItem | undefined;
              if (item) {
                items.delete(id);
                stats.count--;
                stats.bytes -= item.size;
              }
              if (--pending === 0) meta.put(stats, STATS_KEY);
            };
          }
        };
      });
    },

    removeExpired(createdBefore: number): Promise<EventId[]> {
      return run<EventId[]>('readwrite', (items, meta, set) => {
        const statsReq = meta.get(STATS_KEY);
        statsReq.onsuccess = () => {
          const stats = { ...(statsReq.result as OutboxStats | undefined ?? { count: 0, bytes: 0 }) };
          const gone: EventId[] = [];
          // Walk the index from its start instead of using IDBKeyRange, which is a global that
          // Node lacks (fake-indexeddb ships its own) and would have to be injected too.
          const cursor = items.index('createdAt').openCursor();
          deleteWhile(cursor, stats, (item) => item.createdAt < createdBefore, gone, () => {
            if (gone.length > 0) meta.put(stats, STATS_KEY);
            set(gone);
          });
        };
      });
    },

    removeOldest(count: number): Promise<EventId[]> {
      return run<EventId[]>('readwrite', (items, meta, set) => {
        const statsReq = meta.get(STATS_KEY);
        statsReq.onsuccess = () => {
          const stats = { ...(statsReq.result as OutboxStats | undefined ?? { count: 0, bytes: 0 }) };
          const gone: EventId[] = [];
          if (count <= 0) return set(gone);
          deleteWhile(items.openCursor(), stats, () => gone.length < count, gone, () => {
            meta.put(stats, STATS_KEY);
            set(gone);
          });
        };
      });
    },

    stats(): Promise<OutboxStats> {
      return run<OutboxStats>('readonly', (_items, meta, set) => {
        const req = meta.get(STATS_KEY);
        req.onsuccess = () => {
          const s = req.result as OutboxStats | undefined;
          set({ count: s?.count ?? 0, bytes: s?.bytes ?? 0 });
        };
      });
    },

    async close(): Promise<void> {
      closed = true;
      db.close();
    },
  };
}

function openDb(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      const items = db.createObjectStore(ITEMS, { keyPath: 'id' });
      items.createIndex('createdAt', 'createdAt');
      db.createObjectStore(META).put({ count: 0, bytes: 0 }, STATS_KEY);
    };
    req.onsuccess = () => {
      const db = req.result;
      // A newer version of the SDK in another tab wants to upgrade: step aside rather than block it.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    req.onerror = () => reject(req.error ?? new Error(`cannot open IndexedDB ${name}`));
    // `blocked` needs no handler: the older connection closes itself on `versionchange`.
  });
}
