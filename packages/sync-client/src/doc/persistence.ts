import { fromBase64, toBase64 } from 'lib0/buffer';
import { IndexeddbPersistence, PREFERRED_TRIM_SIZE, storeState } from 'y-indexeddb';
import * as Y from 'yjs';
import { noLifecycle, type LifecyclePort, type RescueStore } from '../ports.js';
import { createRescueSlot } from '../rescue-slot.js';
import type { UpdateListener } from './quiet-load.js';
import { CUSTOM_STORE, UPDATES_STORE, VIEW_KEY, type StoredViewRecord } from './stored-view.js';

/**
 * Local persistence of the learner document (the port; y-indexeddb in browsers, an update
 * journal file in Node, none at all where neither exists).
 */
export interface DocPersistence {
  /** The transaction origin of updates it applies while loading, so they are not counted as new local changes. */
  readonly origin: unknown;
  /** Resolves once stored state is applied to the document. */
  readonly whenLoaded: Promise<void>;
  /** Its own `update` listeners, all of which ignore updates of {@link origin}. */
  readonly updateListeners?: readonly UpdateListener[];
  /**
   * Stores an update exactly as its `update` listeners would have stored the update of the
   * transaction that applied it (used when that transaction is not encoded: a sync step 2 whose
   * received bytes are the update).
   */
  readonly storeReceived?: (update: Uint8Array) => void;
  /**
   * Keeps `value` beside the stored state as its view (see `stored-view.ts`), if the stored state
   * is exactly the document's state now: loaded, every update since then written or being written
   * by this page, nothing written by anyone else. Resolves whether it was kept.
   */
  saveView?(value: unknown): Promise<boolean>;
  destroy(): Promise<void>;
}

/** Creates a persistence for a document; `report` is told about write failures (they surface as `lastError`). */
export type DocPersistenceFactory = (docName: string, doc: Y.Doc, report: (message: string) => void) => DocPersistence;

export interface IndexedDbDocPersistenceOptions {
  /**
   * Where updates whose IndexedDB write has not completed are copied when the page goes away
   * (`localStorage` in browsers), and taken back from at the next load. Default: none.
   */
  readonly rescue?: RescueStore | null;
  /** Signals that the page may go away (`hidden`, `pagehide`). Default: none. */
  readonly lifecycle?: LifecyclePort;
}

/** How long after the store passes {@link PREFERRED_TRIM_SIZE} records it is compacted (y-indexeddb's own delay). */
const TRIM_DELAY_MS = 1_000;
const RESCUE_PREFIX = 'prepmate-doc-rescue:';

/** The database of a document's records in IndexedDB. */
export const docDatabaseName = (docName: string): string => `prepmate-doc:${docName}`;
/** The prefix of a document's unload copies in the rescue store. */
export const docRescuePrefix = (docName: string): string => `${RESCUE_PREFIX}${encodeURIComponent(docName)}:`;

/** Above this size an update is written as a record of its own rather than merged with the others of its task. */
export const LARGE_UPDATE_BYTES = 64 * 1024;

/**
 * The records for the updates of one task: the small ones merged into one (a burst of edits is one
 * record), each large one as it is. Merging decodes and re-encodes every update it is given, and a
 * new device's first sync (a whole year's document) would cost as much again as applying it.
 */
export function recordsOf(updates: readonly Uint8Array[]): Uint8Array[] {
  if (updates.length === 1) return [updates[0]!];
  const small = updates.filter((u) => u.byteLength <= LARGE_UPDATE_BYTES);
  const large = updates.filter((u) => u.byteLength > LARGE_UPDATE_BYTES);
  if (small.length === 0) return large;
  return [...large, small.length === 1 ? small[0]! : Y.mergeUpdates(small)];
}

/**
 * y-indexeddb, which uses the global `indexedDB` (browsers; in Node tests, `fake-indexeddb/auto`).
 * The database is named `prepmate-doc:<docName>` so that it never collides with the outbox.
 *
 * y-indexeddb loads, compacts and owns the database; its per-update writer is replaced. That
 * writer opens one transaction per update and lets it commit by itself, which only happens after
 * the page has seen the request succeed. Transactions on one store run one after another, so a
 * tab closed a few milliseconds after a burst of edits lost every edit whose transaction had not
 * reached that point (measured in Chromium: 13 closes in 30 lost edits). Here the updates of one
 * task go in one transaction that is committed explicitly, so the browser finishes it without
 * waiting for the page. A write still in progress when the tab is torn down can still be lost;
 * with a rescue store, the updates not yet written are copied there synchronously on `hidden`
 * and `pagehide`, and the next load applies and writes them.
 */
export function createIndexedDbDocPersistence(options: IndexedDbDocPersistenceOptions = {}): DocPersistenceFactory {
  const rescue = options.rescue ?? null;
  const lifecycle = options.lifecycle ?? noLifecycle;
  return (docName, doc, report) => {
    const idb = new IndexeddbPersistence(docDatabaseName(docName), doc);
    doc.off('update', idb._storeUpdate);
    const slot = rescue ? createRescueSlot(rescue, docRescuePrefix(docName), Math.random().toString(36).slice(2)) : null;
    let pending: Uint8Array[] = [];
    /** Written, transaction not complete yet. */
    const inflight = new Set<Uint8Array>();
    /** Keys of the records this page wrote: their updates are in the document. */
    const ownKeys = new Set<number>();
    /** A write failed: the document holds an update the records lack, so no view can be tied to them any more. */
    let writeFailed = false;
    let loaded = false;

    const write = (onComplete?: () => void): void => {
      const db = idb.db;
      if (!db || pending.length === 0 || idb._destroyed) return;
      const records = recordsOf(pending);
      pending = [];
      try {
        const tx = db.transaction([UPDATES_STORE], 'readwrite');
        for (const update of records) inflight.add(update);
        tx.addEventListener('abort', () => {
          writeFailed = true;
          report(`saving the document locally failed: ${tx.error?.message ?? 'transaction aborted'}`);
        });
        tx.addEventListener('complete', () => {
          for (const update of records) inflight.delete(update);
          onComplete?.();
          if (inflight.size === 0 && pending.length === 0) slot?.clear();
        });
        for (const update of records) {
          const added = tx.objectStore(UPDATES_STORE).add(update);
          added.onsuccess = () => {
            if (typeof added.result === 'number') ownKeys.add(added.result);
          };
        }
        tx.commit();
      } catch (err) {
        writeFailed = true;
        report(`saving the document locally failed: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      idb._dbsize += records.length;
      if (idb._dbsize >= PREFERRED_TRIM_SIZE) {
        // Compaction rewrites the whole state as one record; debounced as y-indexeddb does.
        if (idb._storeTimeoutId !== null) clearTimeout(idb._storeTimeoutId);
        idb._storeTimeoutId = setTimeout(() => {
          idb._storeTimeoutId = null;
          void storeState(idb, false).catch((err: unknown) => report(`compacting the local document failed: ${String(err)}`));
        }, TRIM_DELAY_MS);
      }
    };

    const store = (update: Uint8Array): void => {
      // Before the database is open there is nothing to write to: y-indexeddb's load writes the
      // whole state first, which covers these updates.
      if (!idb.db) return;
      pending.push(update);
      if (pending.length === 1) queueMicrotask(() => write());
    };
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin !== idb) store(update);
    };
    doc.on('update', onUpdate);

    const unsubscribe = slot
      ? lifecycle.subscribe(() => {
          const unwritten = [...inflight, ...pending];
          if (unwritten.length > 0) slot.save(toBase64(Y.mergeUpdates(unwritten)));
        })
      : () => undefined;

    /** Applies what earlier pages left in the rescue store, writes it, then removes the copies. */
    const restore = (): void => {
      const left = slot?.leftovers() ?? [];
      for (const { key, value } of left) {
        try {
          const update = fromBase64(value);
          // As loaded state (origin y-indexeddb): the client counts it as restored, not as new edits.
          Y.applyUpdate(doc, update, idb);
          pending.push(update);
        } catch {
          slot?.remove(key); // not an update of ours
        }
      }
      if (pending.length > 0) write(() => left.forEach(({ key }) => slot?.remove(key)));
    };

    const saveView = (value: unknown): Promise<boolean> => {
      const db = idb.db;
      // Updates not yet handed to IndexedDB are in the document but not in the records. Those
      // handed over are written in transactions opened before the one below, so they are done
      // (and their keys known) when it reads the keys.
      if (!db || !loaded || idb._destroyed || writeFailed || pending.length > 0) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        try {
          const tx = db.transaction([UPDATES_STORE, CUSTOM_STORE], 'readwrite');
          const keys = tx.objectStore(UPDATES_STORE).getAllKeys();
          keys.onsuccess = () => {
            const list = keys.result.filter((k): k is number => typeof k === 'number');
            // Below `_dbref`: the records the load (or a compaction's fetch) applied. Anything
            // else not written here (another tab, a compaction's record) may hold what the
            // document lacks, or be unknown to it: no view then.
            const known = list.length === keys.result.length && list.every((k) => k < idb._dbref || ownKeys.has(k));
            // Checked here, not before: a write handed over earlier has finished (or failed) by now.
            if (!known || list.length === 0 || writeFailed) {
              tx.abort();
              return;
            }
            const record: StoredViewRecord = { lastKey: list[list.length - 1]!, count: list.length, value };
            try {
              tx.objectStore(CUSTOM_STORE).put(record, VIEW_KEY);
              tx.commit();
            } catch {
              tx.abort(); // not cloneable: nothing kept
            }
          };
          tx.addEventListener('complete', () => resolve(true));
          tx.addEventListener('abort', () => resolve(false));
        } catch {
          resolve(false);
        }
      });
    };

    return {
      origin: idb,
      whenLoaded: idb.whenSynced.then(() => {
        restore();
        loaded = true;
      }),
      updateListeners: [onUpdate],
      storeReceived: store,
      saveView,
      destroy: async () => {
        write();
        unsubscribe();
        doc.off('update', onUpdate);
        await idb.destroy();
      },
    };
  };
}

/** {@link createIndexedDbDocPersistence} without a rescue store. */
export const indexedDbDocPersistence: DocPersistenceFactory = createIndexedDbDocPersistence();
