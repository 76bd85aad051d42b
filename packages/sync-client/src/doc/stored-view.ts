import type { RescueStore } from '../ports.js';

/**
 * A view of the stored document: a small value an app derives from the document (counts, a
 * dashboard) and keeps beside it in IndexedDB, so that the next page can show it before it has
 * decoded and derived a large document.
 *
 * It is only ever handed back for exactly the state it was derived from. y-indexeddb keeps the
 * document as records of updates under auto-incremented keys, which never decrease and are never
 * reused; records are only added (a write, a load, a compaction) or removed together with adding
 * one (a compaction). So the highest key and the number of records name the set of records, i.e.
 * the stored state. A view is saved with that pair, read back only while the pair is unchanged,
 * and only when no copy of unwritten updates waits in the rescue store (those are applied at the
 * next load, so the state loaded would differ from the records). Anything else (another tab wrote,
 * a compaction ran, the format changed) means no view, never a stale one.
 */
export interface StoredViewRecord {
  readonly lastKey: number;
  readonly count: number;
  readonly value: unknown;
}

/** y-indexeddb's stores (its format, which we keep) and the key of the view in its `custom` store. */
export const UPDATES_STORE = 'updates';
export const CUSTOM_STORE = 'custom';
export const VIEW_KEY = 'prepmate-view';

export interface ReadStoredViewOptions {
  readonly indexedDB: IDBFactory;
  /** The persistence's database name (`prepmate-doc:<docName>`). */
  readonly dbName: string;
  /** The rescue store and the prefix of the document's unload copies; a copy there means no view. */
  readonly rescue: RescueStore | null;
  readonly rescuePrefix: string;
}

/**
 * The view saved for the stored state, or `null` (none saved, a different state stored, copies
 * of unwritten updates waiting, no database). Never creates the database. Never rejects.
 */
export function readStoredView(options: ReadStoredViewOptions): Promise<unknown> {
  try {
    if (options.rescue?.keys().some((k) => k.startsWith(options.rescuePrefix))) return Promise.resolve(null);
  } catch {
    return Promise.resolve(null);
  }
  return new Promise<unknown>((resolve) => {
    let request: IDBOpenDBRequest;
    try {
      request = options.indexedDB.open(options.dbName);
    } catch {
      resolve(null);
      return;
    }
    // No database yet: abort the creation, so that y-indexeddb still creates it with its stores.
    request.onupgradeneeded = () => request.transaction?.abort();
    request.onerror = (event) => {
      event.preventDefault();
      resolve(null);
    };
    request.onblocked = () => resolve(null);
    request.onsuccess = () => {
      const db = request.result;
      const done = (value: unknown): void => {
        db.close();
        resolve(value);
      };
      try {
        if (!db.objectStoreNames.contains(UPDATES_STORE) || !db.objectStoreNames.contains(CUSTOM_STORE)) return done(null);
        const tx = db.transaction([UPDATES_STORE, CUSTOM_STORE], 'readonly');
        const updates = tx.objectStore(UPDATES_STORE);
        const last = updates.openKeyCursor(null, 'prev');
        const count = updates.count();
        const view = tx.objectStore(CUSTOM_STORE).get(VIEW_KEY);
        tx.oncomplete = () => {
          const record = view.result as Partial<StoredViewRecord> | undefined;
          const lastKey = last.result?.key;
          done(record && typeof lastKey === 'number' && record.lastKey === lastKey && record.count === count.result ? (record.value ?? null) : null);
        };
        tx.onerror = (event) => {
          event.preventDefault();
          done(null);
        };
        tx.onabort = () => done(null);
      } catch {
        done(null);
      }
    };
  });
}
