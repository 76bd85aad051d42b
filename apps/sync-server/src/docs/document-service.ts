import type * as Y from 'yjs';
import { LearnerDocument, type LearnerDocumentJSON } from '@prepmate/crdt-model';
import { ApiError } from '../errors.js';
import { StoreUnavailableError } from '../storage/errors.js';
import { asDocName, type DocName, type UserId } from '../ids.js';
import type { DocumentStore } from '../storage/ports.js';
import type { DocumentManager } from './manager.js';
import type { UpdateLog } from './update-log.js';

/**
 * Documents for the REST side: the same loaded Y.Doc the WebSocket peers edit, so a server-side
 * change reaches connected clients at once and goes through the same update log.
 */
export interface DocumentService {
  /** Runs `fn` on the loaded document (loading it first). `fn` must not keep the doc. */
  read<T>(docName: DocName, fn: (doc: Y.Doc) => T): Promise<T>;
  /** The learner document (named by the userId) as JSON, via crdt-model's `LearnerDocument`. */
  readLearner(userId: UserId): Promise<LearnerDocumentJSON>;
  /**
   * Applies `fn` in one transaction authored by `author` (e.g. `service:telemetry`), broadcasts
   * it, and resolves once it is in the durable log. Throws `StoreUnavailableError` if the log does
   * not confirm within `durableTimeoutMs` (the change stays applied and is written when the store
   * is back; a retry is harmless because Yjs merges are idempotent for the same facts). Throws
   * `ApiError('QUOTA_EXCEEDED')`, changing nothing, once the document has reached
   * `SYNC_MAX_DOCUMENT_BYTES`.
   */
  change(docName: DocName, author: string, fn: (doc: Y.Doc) => void, options?: { durableTimeoutMs?: number }): Promise<void>;
  /** True when `bytes` more would take the document past `SYNC_MAX_DOCUMENT_BYTES`. */
  wouldExceed(docName: DocName, bytes: number): Promise<boolean>;
  /** Log entries of a document (author, time), oldest first. */
  history: DocumentStore['listUpdates'];
  /**
   * Erases one document: closes its sockets (4410), drops it from memory without persisting,
   * forgets its queued updates, deletes it from the store and tells other instances. Idempotent.
   */
  erase(docName: DocName): Promise<void>;
  /** {@link erase} for every document of a learner (`<userId>` and `<userId>/*`, stored or loaded); resolves with how many were stored. */
  eraseUser(userId: UserId): Promise<number>;
}

export function createDocumentService(deps: { manager: DocumentManager; log: UpdateLog; store: DocumentStore }): DocumentService {
  const { manager, log, store } = deps;

  async function read<T>(docName: DocName, fn: (doc: Y.Doc) => T): Promise<T> {
    const live = await manager.acquire(docName);
    try {
      return fn(live.doc);
    } finally {
      manager.release(live);
    }
  }

  return {
    read,
    readLearner: (userId) => read(asDocName(userId), (doc) => new LearnerDocument(doc).toJSON()),
    async change(docName, author, fn, options = {}) {
      if (log.overloaded) throw new StoreUnavailableError('the update log backlog is full; retry later');
      const live = await manager.acquire(docName);
      let seq: number;
      try {
        // A change cannot be sized before it is made, so the cap refuses changes once reached.
        if (manager.wouldExceed(live, 0)) throw new ApiError('QUOTA_EXCEEDED', `the document ${docName} has reached its stored size quota (SYNC_MAX_DOCUMENT_BYTES); nothing was changed`);
        seq = manager.applyServiceChange(live, author, fn);
      } finally {
        manager.release(live);
      }
      if (seq === 0) return;
      const timeoutMs = options.durableTimeoutMs ?? 5_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StoreUnavailableError('the change is applied but not yet durable; the store is unavailable')), timeoutMs);
      });
      try {
        await Promise.race([log.whenDurable(seq), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async wouldExceed(docName, bytes) {
      const live = await manager.acquire(docName);
      try {
        return manager.wouldExceed(live, bytes);
      } finally {
        manager.release(live);
      }
    },
    history: (docName, limit) => store.listUpdates(docName, limit),
    erase: (docName) => manager.erase(docName),
    async eraseUser(userId) {
      const stored = await store.listUserDocuments(userId);
      const names = new Set<string>(stored);
      names.add(userId);
      // Loaded documents whose updates are not in the store yet.
      for (const name of manager.loadedNames()) if (name === userId || name.startsWith(`${userId}/`)) names.add(name);
      // Stored names were validated when written.
      for (const name of names) await manager.erase(asDocName(name));
      return stored.length;
    },
  };
}
