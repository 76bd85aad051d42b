/**
 * Appends update-log records, and inserts telemetry event rows, batch logs and audit entries, on
 * a worker thread with its own SQLite connection.
 *
 * Why: every group commit ends in an fsync (`synchronous = FULL`, because durable acks promise
 * "saved on server"). better-sqlite3 is synchronous, so on the main thread each flush froze the
 * event loop for the length of that fsync — about 2 ms a flush on this machine's disk, tens of ms
 * when the disk is busy — and every WebSocket frame that arrived meanwhile waited: that was a
 * third of the sync server's busy time at 100 updates/s and the tail of its fan-out latency.
 * On a worker the fsync waits there; the main thread keeps fanning out. Telemetry batches are
 * the same case: a 500-event insert holds the thread for several milliseconds plus its fsync,
 * during which the main thread could read and validate the next request. The audit buffer's
 * once-a-window write is the same case again: on the main connection it paid its own fsync and,
 * while the worker held the write lock, slept in SQLite's busy handler on the main thread.
 *
 * Messages that arrive while a transaction commits are written together in the next one (group
 * commit: one fsync for several requests), each answered after that commit.
 *
 * Consistency: WAL mode lets the worker's connection and the main connection share the file;
 * SQLite serialises their write transactions (busy timeout), and a read on the main connection
 * that starts after an append resolved sees it. The update log keeps one append in flight at a
 * time, and the worker handles messages in order anyway.
 *
 * The worker runs plain JavaScript from a string: it must start the same way whether the server
 * runs from `src/` under tsx/Vitest or from `dist/`, and Node cannot load a `.ts` worker file.
 * Its pragmas and its INSERTs come from `statements.ts` through `workerData`, so the SQL is
 * written once for both connections.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { UpdateRecord } from '../ports.js';
import { APPENDER_PRAGMAS, INSERT_AUDIT, INSERT_BATCH_LOG, INSERT_EVENT, INSERT_UPDATE } from './statements.js';

const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db = null;
let insert = null;
let insertEvent = null;
let insertBatchLog = null;
let insertAudit = null;
function open() {
  db = new Database(workerData.file, { timeout: workerData.busyTimeoutMs });
  for (const pragma of workerData.pragmas) db.pragma(pragma);
  insert = db.prepare(workerData.insertSql);
  insertEvent = db.prepare(workerData.insertEventSql);
  insertBatchLog = db.prepare(workerData.insertBatchLogSql);
  insertAudit = db.prepare(workerData.insertAuditSql);
}
function drop() {
  try { if (db) db.close(); } catch (_) { /* a broken handle is dropped either way */ }
  db = null;
  insert = null;
  insertEvent = null;
  insertBatchLog = null;
  insertAudit = null;
}
/** One message's writes, inside the caller's transaction; answers what the reply carries. */
function apply(message) {
  if (message.type === 'append') {
    // Packed (see PackedRecords): the updates back to back in one buffer, by length.
    const { bytes, lengths, createdAt } = message;
    const docName = typeof message.docName === 'string' ? message.docName : null;
    const author = typeof message.author === 'string' ? message.author : null;
    let offset = 0;
    for (let i = 0; i < lengths.length; i++) {
      insert.run(docName ?? message.docName[i], Buffer.from(bytes.buffer, bytes.byteOffset + offset, lengths[i]), author ?? message.author[i], createdAt[i]);
      offset += lengths[i];
    }
  } else if (message.type === 'events') {
    // Columns (see EventColumns); the answer lists the rows that were new (a row whose
    // (user_id, event_id) is stored changes nothing).
    const c = message.columns;
    const n = c.eventId.length;
    const data = n === 0 ? [] : c.eventData.split('\n');
    const meta = n === 0 ? [] : c.metadata.split('\n');
    // A column the same for every row arrives as one value.
    const userId = Array.isArray(c.userId) ? null : c.userId;
    const status = Array.isArray(c.status) ? null : c.status;
    const retryCount = Array.isArray(c.retryCount) ? null : c.retryCount;
    const batchId = Array.isArray(c.batchId) ? undefined : c.batchId;
    const createdAt = Array.isArray(c.createdAt) ? null : c.createdAt;
    const updatedAt = Array.isArray(c.updatedAt) ? null : c.updatedAt;
    const inserted = [];
    for (let i = 0; i < n; i++) {
      if (
        insertEvent.run(
          userId ?? c.userId[i], c.eventId[i], c.eventType[i], data[i], meta[i], status ?? c.status[i], retryCount ?? c.retryCount[i],
          batchId === undefined ? c.batchId[i] : batchId, createdAt ?? c.createdAt[i], updatedAt ?? c.updatedAt[i],
        ).changes === 1
      ) inserted.push(i);
    }
    const log = message.log;
    if (log) {
      // The same sums as completeBatchLog (storage/shared.ts), in the events' transaction.
      const end = Date.now();
      insertBatchLog.run(log.batchId, log.userId, log.kind, log.itemCount, log.successCount + inserted.length, log.failureCount, log.conflictCount, log.duplicateCount + (n - inserted.length), log.startTime, end, Math.max(0, end - log.startTime), log.status);
    }
    return { inserted };
  } else if (message.type === 'batchLog') {
    insertBatchLog.run(...message.params);
  } else if (message.type === 'audit') {
    for (const row of message.rows) insertAudit.run(...row);
  }
  return {};
}
function fail(message, err) {
  parentPort.postMessage({ id: message.id, ok: false, code: err && typeof err.code === 'string' ? err.code : null, message: err && err.message ? String(err.message) : String(err) });
}
/**
 * Group commit: the messages that arrived while the previous transaction (and its fsync) ran are
 * written in one transaction, one fsync for all; each is answered only after that commit. If the
 * group fails, each message is tried alone, so one bad message fails only itself.
 */
let queue = [];
function flush() {
  const group = queue;
  queue = [];
  try {
    if (db === null) open();
    const replies = [];
    db.transaction(() => {
      for (const m of group) replies.push(apply(m));
    })();
    group.forEach((m, i) => parentPort.postMessage({ id: m.id, ok: true, ...replies[i] }));
    return;
  } catch (err) {
    // Reopen on the next request, so a disk that was full or a file that was locked works again.
    drop();
    if (group.length === 1) return fail(group[0], err);
  }
  for (const m of group) {
    try {
      if (db === null) open();
      const reply = db.transaction(() => apply(m))();
      parentPort.postMessage({ id: m.id, ok: true, ...reply });
    } catch (err) {
      drop();
      fail(m, err);
    }
  }
}
parentPort.on('message', (message) => {
  if (message.type === 'close') {
    if (queue.length > 0) flush();
    drop();
    parentPort.close();
    return;
  }
  queue.push(message);
  // After the messages already delivered to this thread: they join the same transaction.
  if (queue.length === 1) setImmediate(flush);
});
`;

/** An append the worker could not do; `code` is SQLite's (or the OS's) error code. */
export class AppendError extends Error {
  constructor(message: string, readonly code: string | null) {
    super(message);
    this.name = 'AppendError';
  }
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly code?: string | null;
  readonly message?: string;
  readonly inserted?: readonly number[];
}

/**
 * Telemetry rows by column, the parameters of `INSERT_EVENT` in order. Columns rather than one
 * array per row: the copy to the worker (structured clone) costs per object, and 500 rows are
 * 500 arrays but only ten columns. The two JSON columns travel as one string each, the rows'
 * texts joined by a newline, which JSON text never contains outside a string (where
 * `JSON.stringify` escapes it). A column that holds one value for every row (a batch's learner,
 * status, retry count, batch id and times) travels as that value, not as an array of copies.
 */
export interface EventColumns {
  readonly userId: readonly string[] | string;
  readonly eventId: readonly string[];
  readonly eventType: readonly string[];
  readonly eventData: string;
  readonly metadata: string;
  readonly status: readonly string[] | string;
  readonly retryCount: readonly number[] | number;
  readonly batchId: readonly (string | null)[] | string | null;
  readonly createdAt: readonly number[] | number;
  readonly updatedAt: readonly number[] | number;
}

/**
 * A batch log written with its events: the counts known before the insert; the worker adds the
 * new rows to `successCount`, the others to `duplicateCount`, and stamps the end time.
 */
export interface EventsLogDraft {
  readonly batchId: string;
  readonly userId: string;
  readonly kind: string;
  readonly itemCount: number;
  readonly successCount: number;
  readonly failureCount: number;
  readonly conflictCount: number;
  readonly duplicateCount: number;
  /** Epoch ms. */
  readonly startTime: number;
  readonly status: string;
}

/**
 * Update-log records as the worker receives them: every update back to back in one buffer,
 * their lengths and times in typed arrays, all three transferred rather than copied. A flush
 * under load is a few hundred small records; as objects, each with its own typed array, the
 * structured clone to the worker cost more main-thread time than anything else the log does.
 * A learner's document and author are usually the same for every record of a flush, and then
 * travel once.
 */
export interface PackedRecords {
  readonly type: 'append';
  readonly docName: string | readonly string[];
  readonly author: string | readonly string[];
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly lengths: Uint32Array<ArrayBuffer>;
  /** Epoch ms. */
  readonly createdAt: Float64Array<ArrayBuffer>;
}

/** `records` packed for the worker (see {@link PackedRecords}). */
export function packRecords(records: readonly UpdateRecord[]): PackedRecords {
  const n = records.length;
  let total = 0;
  for (const r of records) total += r.update.byteLength;
  const bytes = new Uint8Array(total);
  const lengths = new Uint32Array(n);
  const createdAt = new Float64Array(n);
  const first = records[0];
  let sameDoc = true;
  let sameAuthor = true;
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    bytes.set(r.update, offset);
    offset += r.update.byteLength;
    lengths[i] = r.update.byteLength;
    createdAt[i] = r.createdAt.getTime();
    if (r.docName !== first?.docName) sameDoc = false;
    if (r.author !== first?.author) sameAuthor = false;
  }
  return {
    type: 'append',
    docName: sameDoc && first ? first.docName : records.map((r) => r.docName),
    author: sameAuthor && first ? first.author : records.map((r) => r.author),
    bytes,
    lengths,
    createdAt,
  };
}

/** One batch log: the parameters of `INSERT_BATCH_LOG`, in order. */
export type BatchLogParams = readonly [string, string, string, number, number, number, number, number, number, number, number, string];

/**
 * One audit entry: the parameters of `INSERT_AUDIT`, in order (`at` in epoch ms, `details` as
 * JSON text or null). A tuple per entry: a window's write is a handful of rows, not hundreds.
 */
export type AuditParams = readonly [number, string, string, string, string | null, string | null, string | null, string | null];

export interface SqliteAppender {
  /**
   * Starts the worker and opens its connection now rather than at the first append: the thread's
   * fixed memory then belongs to the process's start, and an unusable file fails the start.
   */
  open(): Promise<void>;
  /** Appends the records in one transaction; resolves once they are committed (fsync'd). */
  append(records: readonly UpdateRecord[]): Promise<void>;
  /**
   * Inserts telemetry rows in one transaction (a stored `(user_id, event_id)` is left as it is),
   * and with them, in the same transaction, the batch's log when `log` is given; resolves, once
   * committed, with the indexes of the rows that were new.
   */
  insertEvents(columns: EventColumns, log?: EventsLogDraft): Promise<number[]>;
  /**
   * Inserts one batch log; resolves once committed. On the worker too: written from the main
   * connection right after a batch's events, it would wait (asleep, on the main thread) for the
   * worker's transaction to release the write lock.
   */
  insertBatchLog(params: BatchLogParams): Promise<void>;
  /**
   * Inserts audit entries in one transaction, in the given order; resolves once committed. On the
   * worker for the batch log's reason: the audit buffer writes once per window while ingestion
   * and the update log keep the worker's transactions coming.
   */
  insertAudit(rows: readonly AuditParams[]): Promise<void>;
  /** Waits for appends in flight, then stops the worker. */
  close(): Promise<void>;
}

export function createSqliteAppender(file: string, busyTimeoutMs: number): SqliteAppender {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve: (inserted: number[]) => void; reject: (error: Error) => void }>();

  function failAll(error: Error): void {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  }

  function start(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, busyTimeoutMs, pragmas: APPENDER_PRAGMAS, insertSql: INSERT_UPDATE, insertEventSql: INSERT_EVENT, insertBatchLogSql: INSERT_BATCH_LOG, insertAuditSql: INSERT_AUDIT } });
    w.on('message', (reply: Reply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (reply.ok) p.resolve([...(reply.inserted ?? [])]);
      else p.reject(new AppendError(reply.message ?? 'append failed', reply.code ?? null));
      // Idle: a worker with nothing to do must not keep the process alive.
      if (pending.size === 0) w.unref();
    });
    // A crashed worker (native fault, out of memory) fails what it held; the next append starts a new one.
    w.on('error', (error: Error) => {
      if (worker === w) worker = null;
      failAll(new AppendError(`update log writer failed: ${error.message}`, null));
    });
    w.on('exit', () => {
      if (worker === w) worker = null;
      failAll(new AppendError('update log writer exited', null));
    });
    w.unref();
    return w;
  }

  function request(
    message:
      | { type: 'open' }
      | PackedRecords
      | { type: 'events'; columns: EventColumns; log?: EventsLogDraft }
      | { type: 'batchLog'; params: BatchLogParams }
      | { type: 'audit'; rows: readonly AuditParams[] },
    transfer: readonly ArrayBuffer[] = [],
  ): Promise<number[]> {
    const w = (worker ??= start());
    const id = nextId++;
    return new Promise<number[]>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      // Busy: keep the process alive until the answer is known.
      w.ref();
      w.postMessage({ ...message, id }, [...transfer]);
    });
  }

  return {
    open: async () => {
      await request({ type: 'open' });
    },
    async append(records) {
      if (records.length === 0) return;
      const packed = packRecords(records);
      await request(packed, [packed.bytes.buffer, packed.lengths.buffer, packed.createdAt.buffer]);
    },
    insertEvents: async (columns, log) => (columns.eventId.length === 0 && log === undefined ? [] : request(log === undefined ? { type: 'events', columns } : { type: 'events', columns, log })),
    async insertBatchLog(params) {
      await request({ type: 'batchLog', params });
    },
    async insertAudit(rows) {
      if (rows.length === 0) return;
      await request({ type: 'audit', rows });
    },
    async close() {
      const w = worker;
      worker = null;
      if (!w) return;
      if (pending.size > 0) {
        await new Promise<void>((resolve) => {
          const check = (): void => {
            if (pending.size === 0) resolve();
          };
          w.on('message', check);
          w.on('exit', resolve);
        });
      }
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      // Keep the process alive until the worker is gone: an idle (unref'd) worker would otherwise
      // let the event loop run dry here and the process exit 0 in the middle of a shutdown.
      w.ref();
      w.postMessage({ type: 'close' });
      await exited;
    },
  };
}
