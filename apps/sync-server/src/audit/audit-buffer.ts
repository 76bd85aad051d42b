import { ownerOfDocName } from '@prepmate/crdt-model';
import type { AuditEntry, AuditStore, DocumentStore, UpdateRecord } from '../storage/ports.js';

export interface AuditBufferOptions {
  readonly audit: AuditStore;
  /**
   * Aggregation window, ms. Default 1000. The update log flushes every `UPDATE_FLUSH_MS` (50 ms);
   * an audit row per flush would double the write rate of a busy document for no extra
   * information, so updates are counted per (document, author) and written once per window,
   * together with whatever other entries were {@link AuditBuffer.enqueue}d meanwhile.
   */
  readonly windowMs?: number;
  readonly onError: (error: unknown, entries: readonly AuditEntry[]) => void;
}

/**
 * The buffer every audit entry of a high-rate action goes through: `document.update` counts from
 * the decorated document store, `event.ingest` entries enqueued by the telemetry decorator. One
 * write per window for all of them.
 */
export interface AuditBuffer {
  /** The decorated store: `appendUpdates` also counts what it wrote. */
  readonly documents: DocumentStore;
  /**
   * Queues entries for the next window's write. Event ingestion uses it so a batch costs one
   * store transaction, not two (with SQLite `synchronous=FULL`, one fsync each).
   */
  enqueue(entries: readonly AuditEntry[]): void;
  /** Writes the pending counts and queued entries now; resolves after any write already in flight. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  stop(): Promise<void>;
}

interface Pending {
  readonly docName: string;
  readonly author: string;
  updates: number;
  bytes: number;
  first: Date;
  last: Date;
}


/**
 * The audit buffer, and the DocumentStore decorated so every durable Yjs update is accounted for in the audit trail as
 * `document.update` entries: one per document, author and second, with the update count, bytes
 * and first/last time. The fine-grained history (each update with author and time) stays in the
 * update log until compaction and is listed by `GET /api/audit/history`.
 */
export function createAuditBuffer(inner: DocumentStore, options: AuditBufferOptions): AuditBuffer {
  const windowMs = options.windowMs ?? 1000;
  const pending = new Map<string, Pending>();
  let queued: AuditEntry[] = [];
  let chain: Promise<void> = Promise.resolve();

  const take = (): AuditEntry[] => {
    const entries = [...pending.values()].map(
      (p): AuditEntry => ({
        at: p.last,
        actor: p.author,
        actorRole: p.author.startsWith('service:') ? 'service' : 'learner',
        action: 'document.update',
        subjectUserId: ownerOfDocName(p.docName) ?? p.docName,
        target: p.docName,
        from: null,
        details: { updates: p.updates, bytes: p.bytes, firstAt: p.first.toISOString(), lastAt: p.last.toISOString() },
      }),
    );
    pending.clear();
    const out = [...queued, ...entries];
    queued = [];
    return out;
  };

  const flush = (): Promise<void> => {
    chain = chain.then(async () => {
      const entries = take();
      if (entries.length === 0) return;
      try {
        await options.audit.append(entries);
      } catch (error) {
        options.onError(error, entries);
      }
    });
    return chain;
  };

  const timer = setInterval(() => void flush(), windowMs);
  // The timer alone must not keep a process (tests, CLI) alive.
  timer.unref();

  const documents: DocumentStore = {
    async appendUpdates(records: readonly UpdateRecord[]) {
      await inner.appendUpdates(records);
      for (const r of records) {
        const key = `${r.docName}\0${r.author}`;
        const p = pending.get(key);
        if (p) {
          p.updates += 1;
          p.bytes += r.update.byteLength;
          if (r.createdAt > p.last) p.last = r.createdAt;
          if (r.createdAt < p.first) p.first = r.createdAt;
        } else {
          pending.set(key, { docName: r.docName, author: r.author, updates: 1, bytes: r.update.byteLength, first: r.createdAt, last: r.createdAt });
        }
      }
    },
    loadDocument: (docName) => inner.loadDocument(docName),
    compact: (docName, state, coveredIds) => inner.compact(docName, state, coveredIds),
    listDocumentsWithLog: (limit) => inner.listDocumentsWithLog(limit),
    listUserDocuments: (userId) => inner.listUserDocuments(userId),
    listUpdates: (docName, limit) => inner.listUpdates(docName, limit),
    deleteDocument: (docName) => inner.deleteDocument(docName),
  };

  return {
    documents,
    enqueue(entries) {
      queued.push(...entries);
    },
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
