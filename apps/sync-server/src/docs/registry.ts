/**
 * The registry of loaded documents: loads a document before anyone is answered (one shared load
 * per name), counts who holds it, and unloads it once idle and durable. Owns the loaded set,
 * the loads in flight, the references and the unload timers.
 */
import * as Y from 'yjs';
import { StoreUnavailableError } from '../storage/errors.js';
import { applyAll } from './compaction.js';
import type { DocumentStore } from '../storage/ports.js';
import { LiveDocument } from './live-document.js';
import type { SyncMetrics } from './metrics.js';
import { LOAD_ORIGIN } from './origins.js';
import type { UpdateLog } from './update-log.js';

export interface RegistryHooks {
  /** A document was loaded and registered; nothing has seen it yet. */
  loaded(live: LiveDocument): void;
  /** A document was dropped (unloaded, erased or stopped); it is destroyed right after. */
  dropped(live: LiveDocument): void;
  /** True while the document still has work of the current turn: its unload waits. */
  busy(live: LiveDocument): boolean;
}

export interface RegistryDeps {
  readonly store: DocumentStore;
  readonly log: UpdateLog;
  readonly metrics: SyncMetrics;
  /** How long a document without holders stays loaded before it is unloaded, ms. */
  readonly unloadGraceMs: number;
}

export interface DocumentRegistry {
  /**
   * The loaded document, loading it first if needed (one shared load per name). Holds a
   * reference: call {@link release} exactly once. Rejects when the store cannot load it, or with
   * `StoreUnavailableError` while the update log is overloaded: never an empty stand-in.
   */
  acquire(docName: string): Promise<LiveDocument>;
  release(live: LiveDocument): void;
  get(docName: string): LiveDocument | undefined;
  loaded(): LiveDocument[];
  readonly count: number;
  /** Forgets a document at once (erasure): no durability wait. */
  drop(live: LiveDocument): void;
  /**
   * Unloads nothing from now on (the service is stopping): a document its last peer left while
   * the log drains would otherwise be dropped before the stop snapshots it.
   */
  keepLoaded(): void;
  /** Refuses new acquisitions and drops every document (after the log was drained). */
  stop(): void;
}

interface Entry {
  readonly live: LiveDocument;
  /** Peers plus in-flight service reads/changes; unloading waits for zero. */
  refs: number;
  unloadTimer: NodeJS.Timeout | null;
}

export function createDocumentRegistry(deps: RegistryDeps, hooks: RegistryHooks): DocumentRegistry {
  const { store, log, metrics, unloadGraceMs } = deps;
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<Entry>>();
  let stopped = false;
  let keeping = false;

  const setLoaded = (): void => metrics.loadedDocuments.set(entries.size);
  const current = (live: LiveDocument): Entry | undefined => {
    const entry = entries.get(live.name);
    return entry?.live === live ? entry : undefined;
  };

  async function load(docName: string): Promise<Entry> {
    let loaded;
    try {
      loaded = await store.loadDocument(docName);
    } catch (error) {
      metrics.storeErrors.inc({ operation: 'load' });
      throw error;
    }
    // A fixed guid: Y.Doc otherwise draws a random uuid with ~30 webcrypto calls (~0.5 ms a document).
    const doc = new Y.Doc({ gc: true, guid: docName });
    const parts: Uint8Array[] = [];
    if (loaded.snapshot) parts.push(loaded.snapshot.state);
    for (const entry of loaded.updates) parts.push(entry.update);
    applyAll(doc, parts, LOAD_ORIGIN);
    const entry: Entry = { live: new LiveDocument(docName, doc, parts), refs: 0, unloadTimer: null };
    entries.set(docName, entry);
    setLoaded();
    hooks.loaded(entry.live);
    return entry;
  }

  function cancelUnload(entry: Entry): void {
    if (entry.unloadTimer) {
      clearTimeout(entry.unloadTimer);
      entry.unloadTimer = null;
    }
  }

  function drop(live: LiveDocument): void {
    const entry = current(live);
    if (entry) {
      cancelUnload(entry);
      entries.delete(live.name);
    }
    hooks.dropped(live);
    live.destroy();
    setLoaded();
  }

  function scheduleUnload(entry: Entry, delayMs: number): void {
    cancelUnload(entry);
    entry.unloadTimer = setTimeout(() => void unloadIfIdle(entry), delayMs);
    entry.unloadTimer.unref?.();
  }

  async function unloadIfIdle(entry: Entry): Promise<void> {
    entry.unloadTimer = null;
    const { live } = entry;
    if (entry.refs > 0 || current(live) !== entry || stopped || keeping) return;
    if (hooks.busy(live)) return scheduleUnload(entry, 0);
    // Persisted first: wait until every update of this document is in the log.
    if (live.lastSeq > log.durableSeq) {
      try {
        await log.whenDurable(live.lastSeq);
      } catch {
        return; // log closed: stop() drops everything itself
      }
      return unloadIfIdle(entry);
    }
    drop(live);
  }

  return {
    async acquire(docName) {
      if (stopped) throw new StoreUnavailableError('the sync service is stopping');
      const existing = entries.get(docName);
      if (existing) {
        existing.refs += 1;
        cancelUnload(existing);
        return existing.live;
      }
      let pending = loading.get(docName);
      if (!pending) {
        if (log.overloaded) throw new StoreUnavailableError('the update log backlog is full; retry later');
        pending = load(docName).finally(() => loading.delete(docName));
        loading.set(docName, pending);
      }
      const entry = await pending;
      entry.refs += 1;
      cancelUnload(entry);
      return entry.live;
    },
    release(live) {
      const entry = current(live);
      if (!entry) return;
      entry.refs -= 1;
      if (entry.refs > 0 || stopped || keeping) return;
      scheduleUnload(entry, unloadGraceMs);
    },
    get: (docName) => entries.get(docName)?.live,
    loaded: () => [...entries.values()].map((e) => e.live),
    get count() {
      return entries.size;
    },
    drop,
    keepLoaded() {
      keeping = true;
      for (const entry of entries.values()) cancelUnload(entry);
    },
    stop() {
      stopped = true;
      for (const entry of [...entries.values()]) drop(entry.live);
    },
  };
}
