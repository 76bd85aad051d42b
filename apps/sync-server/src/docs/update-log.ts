/**
 * The durable update log's group committer. Every Yjs update that changes a loaded document is
 * appended here synchronously (it never waits on the store), and one timer per `UPDATE_FLUSH_MS`
 * writes everything queued in ONE `appendUpdates` call, off the fan-out path.
 *
 * Failure policy: a failed write is retried with exponential backoff (`RETRY_DELAY_MS`,
 * doubling for `MAX_RETRIES` attempts) and then keeps retrying at that cap forever; nothing is
 * dropped. Meanwhile documents keep syncing from memory and {@link UpdateLog.status} reports the
 * backlog.
 *
 * Records are written as they come (the manager already hands over one update per peer per
 * event-loop turn). Memory bound: whenever the queue exceeds `maxPendingRecords` it is merged per
 * (document, author), so an outage costs one record per
 * (document, author) plus the bytes of the changes themselves. If even the merged queue is above
 * the bound, {@link UpdateLog.overloaded} turns true and callers refuse to load new documents or
 * accept server-side changes until the store catches up.
 */
import * as Y from 'yjs';
import type { Logger } from '../logger.js';
import type { DocumentStore, UpdateRecord } from '../storage/ports.js';

export interface UpdateLogOptions {
  readonly store: Pick<DocumentStore, 'appendUpdates'>;
  readonly logger: Logger;
  /** Group-commit window, ms (`UPDATE_FLUSH_MS`). */
  readonly flushMs: number;
  /** Doubling retries before the delay stops growing (`MAX_RETRIES`). */
  readonly maxRetries: number;
  /** First retry delay, ms (`RETRY_DELAY_MS`). */
  readonly retryDelayMs: number;
  /** Queued records above which the queue is merged, and above which it is overloaded. */
  readonly maxPendingRecords: number;
  readonly metrics?: UpdateLogMetrics;
  readonly now?: () => Date;
}

/** Hooks for prom-client, kept abstract so the log does not depend on a registry. */
export interface UpdateLogMetrics {
  flushed(seconds: number, records: number): void;
  failed(): void;
  backlog(records: number): void;
}

export interface UpdateLogStatus {
  /** Records queued or being written. */
  readonly backlog: number;
  /** False from a failed write until the next successful one. */
  readonly healthy: boolean;
  readonly consecutiveFailures: number;
  readonly lastError: string | null;
}

export interface UpdateLog {
  /** Queues one update; returns its sequence number (monotonic per log). */
  append(docName: string, update: Uint8Array, author: string): number;
  /** Highest sequence number handed out so far. */
  readonly enqueuedSeq: number;
  /** Every update with a sequence number up to this one is in the store. */
  readonly durableSeq: number;
  /** True while the merged queue is above `maxPendingRecords`. */
  readonly overloaded: boolean;
  /** Resolves once `seq` is durable; rejects only if the log is closed first. */
  whenDurable(seq: number): Promise<void>;
  /** Called synchronously when a write is started, with the highest sequence number it covers. */
  onBatchStart(listener: (maxSeq: number) => void): () => void;
  /** Called after each successful write with the new {@link durableSeq}. */
  onDurable(listener: (durableSeq: number) => void): () => void;
  /** Forgets queued updates of an erased document (they must not resurrect it). */
  discard(docName: string): void;
  /**
   * Writes now and keeps retrying (short delays) until everything queued before the call is
   * durable or `timeoutMs` passes. Resolves true when durable.
   */
  drain(timeoutMs: number): Promise<boolean>;
  status(): UpdateLogStatus;
  /** Stops timers; pending waiters are rejected. Call {@link drain} first. */
  close(): void;
}

interface Pending {
  readonly docName: string;
  readonly author: string;
  readonly update: Uint8Array;
  readonly createdAt: Date;
  readonly seq: number;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Y.mergeUpdates slows down sharply with many inputs (it re-sorts its decoders per struct), so
 * long lists are merged as a tree of 16-input merges.
 */
function mergeMany(updates: Uint8Array[]): Uint8Array {
  let level = updates;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 16) {
      const chunk = level.slice(i, i + 16);
      next.push(chunk.length === 1 ? chunk[0]! : Y.mergeUpdates(chunk));
    }
    level = next;
  }
  return level[0]!;
}

/**
 * Merges queued entries per (document, author), keeping first-seen order and the newest time.
 * Only used when the queue overflows (an outage): merging costs far more CPU than writing rows.
 */
function mergeByDocAndAuthor(entries: readonly Pending[]): Pending[] {
  const groups = new Map<string, Pending[]>();
  for (const entry of entries) {
    const key = `${entry.docName}\u0000${entry.author}`;
    const group = groups.get(key);
    if (group) group.push(entry);
    else groups.set(key, [entry]);
  }
  if (groups.size === entries.length) return [...entries];
  const merged: Pending[] = [];
  for (const group of groups.values()) {
    for (const run of bySize(group)) {
      const first = run[0]!;
      if (run.length === 1) {
        merged.push(first);
        continue;
      }
      const last = run[run.length - 1]!;
      merged.push({
        docName: first.docName,
        author: first.author,
        update: mergeMany(run.map((e) => e.update)),
        createdAt: last.createdAt,
        seq: run.reduce((max, e) => Math.max(max, e.seq), 0),
      });
    }
  }
  return merged;
}

/**
 * A merged record is written as one row / one MongoDB document, which must stay under MongoDB's
 * 16 MB limit: merge runs of at most this many input bytes (a merged update is never larger than
 * its inputs together). Otherwise a long outage could build a record no store accepts, and the
 * log would retry it forever.
 */
const MAX_MERGED_BYTES = 8 * 1024 * 1024;

function bySize(group: readonly Pending[]): Pending[][] {
  const runs: Pending[][] = [];
  let run: Pending[] = [];
  let bytes = 0;
  for (const entry of group) {
    if (run.length > 0 && bytes + entry.update.byteLength > MAX_MERGED_BYTES) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(entry);
    bytes += entry.update.byteLength;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

export function createUpdateLog(options: UpdateLogOptions): UpdateLog {
  const { store, logger, flushMs, maxRetries, retryDelayMs, maxPendingRecords, metrics } = options;
  const now = options.now ?? (() => new Date());
  let queue: Pending[] = [];
  let inFlight = 0;
  let enqueuedSeq = 0;
  let durableSeq = 0;
  let consecutiveFailures = 0;
  let lastError: string | null = null;
  let overloaded = false;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> | null = null;
  let closed = false;
  let waiters: Waiter[] = [];
  const batchListeners = new Set<(maxSeq: number) => void>();
  const durableListeners = new Set<(seq: number) => void>();

  const backlog = (): number => queue.length + inFlight;
  const capDelay = retryDelayMs * 2 ** Math.max(0, maxRetries - 1);
  const retryDelay = (failures: number): number => Math.min(capDelay, retryDelayMs * 2 ** Math.max(0, failures - 1));

  function schedule(delayMs: number): void {
    if (timer || writing || closed) return;
    timer = setTimeout(() => {
      timer = null;
      void write();
    }, delayMs);
    // The log must not keep a stopping process alive; `drain` is the explicit path.
    timer.unref?.();
  }

  function compactQueue(): void {
    queue = mergeByDocAndAuthor(queue);
    overloaded = queue.length > maxPendingRecords;
  }

  async function write(): Promise<void> {
    if (writing || queue.length === 0) return;
    const batch = queue;
    queue = [];
    inFlight = batch.length;
    const maxSeq = batch.reduce((max, e) => Math.max(max, e.seq), 0);
    for (const listener of batchListeners) listener(maxSeq);
    const records: UpdateRecord[] = batch.map(({ docName, author, update, createdAt }) => ({ docName, author, update, createdAt }));
    const started = process.hrtime.bigint();
    let done!: () => void;
    writing = new Promise<void>((resolve) => (done = resolve));
    try {
      await store.appendUpdates(records);
      metrics?.flushed(Number(process.hrtime.bigint() - started) / 1e9, records.length);
      if (consecutiveFailures > 0) logger.info({ records: records.length, failures: consecutiveFailures }, 'update log: store is writable again');
      consecutiveFailures = 0;
      lastError = null;
      durableSeq = Math.max(durableSeq, maxSeq);
      inFlight = 0;
      overloaded = queue.length > maxPendingRecords;
      const ready = waiters.filter((w) => w.seq <= durableSeq);
      if (ready.length > 0) {
        waiters = waiters.filter((w) => w.seq > durableSeq);
        for (const w of ready) w.resolve();
      }
      for (const listener of durableListeners) listener(durableSeq);
    } catch (error) {
      consecutiveFailures += 1;
      lastError = error instanceof Error ? error.message : String(error);
      metrics?.failed();
      // Put the batch back in front: order is kept and nothing is dropped.
      queue = batch.concat(queue);
      inFlight = 0;
      if (queue.length > maxPendingRecords) compactQueue();
      const level = consecutiveFailures > maxRetries ? 'error' : 'warn';
      logger[level]({ err: lastError, backlog: queue.length, failures: consecutiveFailures, retryInMs: retryDelay(consecutiveFailures) }, 'update log: write failed, will retry');
    } finally {
      writing = null;
      done();
      metrics?.backlog(backlog());
    }
    if (queue.length > 0) schedule(consecutiveFailures > 0 ? retryDelay(consecutiveFailures) : 0);
  }

  return {
    append(docName, update, author) {
      enqueuedSeq += 1;
      queue.push({ docName, author, update, createdAt: now(), seq: enqueuedSeq });
      if (queue.length > maxPendingRecords) compactQueue();
      if (consecutiveFailures === 0) schedule(flushMs);
      else schedule(retryDelay(consecutiveFailures));
      return enqueuedSeq;
    },
    get enqueuedSeq() {
      return enqueuedSeq;
    },
    get durableSeq() {
      return durableSeq;
    },
    get overloaded() {
      return overloaded;
    },
    whenDurable(seq) {
      if (seq <= durableSeq) return Promise.resolve();
      if (closed) return Promise.reject(new Error('update log closed'));
      return new Promise<void>((resolve, reject) => waiters.push({ seq, resolve, reject }));
    },
    onBatchStart(listener) {
      batchListeners.add(listener);
      return () => batchListeners.delete(listener);
    },
    onDurable(listener) {
      durableListeners.add(listener);
      return () => durableListeners.delete(listener);
    },
    discard(docName) {
      queue = queue.filter((e) => e.docName !== docName);
    },
    async drain(timeoutMs) {
      const target = enqueuedSeq;
      const deadline = Date.now() + timeoutMs;
      // Nothing queued and nothing in flight: the rest up to `target` was discarded (erased
      // documents), so there is nothing left to wait for.
      const settled = (): boolean => durableSeq >= target || (!writing && queue.length === 0);
      while (!settled() && Date.now() < deadline) {
        if (timer) {
          clearTimeout(timer);
          timer = null;
        }
        if (writing) await writing;
        else await write();
        if (!settled()) {
          if (timer) {
            clearTimeout(timer);
            timer = null;
          }
          await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(0, deadline - Date.now()))));
        }
      }
      return settled();
    },
    status() {
      return { backlog: backlog(), healthy: consecutiveFailures === 0, consecutiveFailures, lastError };
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const w of waiters) w.reject(new Error('update log closed'));
      waiters = [];
    },
  };
}
