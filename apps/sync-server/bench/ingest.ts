/**
 * Ingestion benchmark: 200 000 events in 500-event batches through
 * `POST /api/telemetry/batch` over 4 concurrent keep-alive connections, beside the same store's
 * raw `insertEvents` rate for the same rows with the same concurrency, in the same run (raw and
 * HTTP chunks interleaved in rounds; the HTTP client in its own worker thread). SQLite always;
 * MongoDB (FerretDB) too when MONGODB_URI is set. One JSON line per measurement; the run checks
 * that every event was stored exactly once. Target: `ratioToRaw` ≥ 0.6. On SQLite the raw baseline is a plain better-sqlite3 insert (see `rawSqliteInsert`); on MongoDB the store's own `insertEvents`.
 *
 *   node --conditions=@prepmate/source --import tsx apps/sync-server/bench/ingest.ts
 *
 * Environment: BENCH_EVENTS (default 200000), BENCH_BATCH (500), BENCH_CONNECTIONS (4),
 * BENCH_SEED (42), BENCH_ROUNDS (8), BENCH_STORES (`sqlite,mongodb`), BENCH_VALIDATION (`inline` | `workers`).
 *
 * The server is the shipped one (`startServer`: security decorators, audit, jobs), configured
 * as `npm start` runs it: `VALIDATION_THREADS` 0 (`inline`, the default), or cores − 1 for `workers`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mongoose from 'mongoose';
import { createTokenService } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { startServer as startShippedServer } from '../src/server.js';
import { createMongoStore, createSqliteStore, type Store, type TelemetryEventRecord } from '../src/storage/index.js';
import { INSERT_EVENT, MAIN_PRAGMAS } from '../src/storage/sqlite/statements.js';
import { toEventRecord } from '../src/telemetry/records.js';
import { mulberry32 } from '../test/helpers/random.js';

const intEnv = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} accepts a positive integer`);
  return n;
};
const TOTAL = intEnv('BENCH_EVENTS', 200_000);
const BATCH = intEnv('BENCH_BATCH', 500);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 4);
const SEED = intEnv('BENCH_SEED', 42);
/** Raw and HTTP chunks alternate this many times (see `measure`). */
const ROUNDS = intEnv('BENCH_ROUNDS', 8);
const STORES = (process.env['BENCH_STORES'] ?? 'sqlite,mongodb').split(',').map((s) => s.trim());
/** Learners the events are spread over: realistic index fan-out, several batches per learner. */
const LEARNERS = 50;
const SECRET = 'bench-secret-that-is-long-enough-0123456789';

interface Row {
  readonly userId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly eventData: Record<string, unknown>;
  readonly clientTimestamp: string;
}

interface Batch {
  readonly userId: string;
  readonly batchId: string;
  readonly rows: readonly Row[];
}

/** The workload, fixed by the seed: every batch belongs to one learner, as a client sends it. */
function workload(): Batch[] {
  const random = mulberry32(SEED);
  const types = ['question_answered', 'interview_completed', 'hint_requested', 'topic_viewed', 'session_started'];
  const base = Date.UTC(2026, 0, 1);
  const batches: Batch[] = [];
  for (let b = 0; b * BATCH < TOTAL; b++) {
    const userId = `learner_${b % LEARNERS}`;
    const rows: Row[] = [];
    for (let i = 0; i < BATCH && b * BATCH + i < TOTAL; i++) {
      const n = b * BATCH + i;
      rows.push({
        userId,
        eventId: `evt_${SEED}_${n}`,
        eventType: types[Math.floor(random() * types.length)]!,
        eventData: { questionId: `q_${Math.floor(random() * 10_000)}`, score: Math.floor(random() * 101), durationMs: Math.floor(random() * 120_000), correct: random() < 0.6 },
        clientTimestamp: new Date(base + n * 1000).toISOString(),
      });
    }
    batches.push({ userId, batchId: `batch_${SEED}_${b}`, rows });
  }
  return batches;
}

/**
 * The rows exactly as the ingestion path stores them (same enrichment, same `toEventRecord`),
 * so the raw baseline writes what the API writes.
 */
function rawRecords(batch: Batch, sentAt: Date): TelemetryEventRecord[] {
  const ctx = { userId: batch.userId, receivedAt: new Date(), ipAddress: '127.0.0.0', userAgent: null, batchId: batch.batchId, sentAt };
  return batch.rows.map((r) =>
    toEventRecord({ eventId: r.eventId, eventType: r.eventType, eventData: r.eventData, metadata: { clientTimestamp: r.clientTimestamp, userAgent: 'bench' } }, ctx),
  );
}

/**
 * The raw baseline: rows as an application would hold them (plain objects, ISO-string dates),
 * inserted with one prepared statement per row in one transaction per batch, through a plain
 * better-sqlite3 connection to a database the store created (same schema, same indexes, same
 * pragmas, so the same `synchronous = FULL` durability). The JSON columns are serialised inside
 * the clock, as any insert must. On MongoDB the baseline is the store's own `insertEvents`.
 */
interface RawRow {
  readonly userId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly eventData: Record<string, unknown>;
  readonly metadata: Record<string, unknown>;
  readonly batchId: string;
  readonly at: number;
}

type RawInsert = (rows: readonly RawRow[]) => void;

function plainRows(records: readonly TelemetryEventRecord[]): RawRow[] {
  return records.map((r) => ({
    userId: r.userId,
    eventId: r.metadata.eventId,
    eventType: r.eventType,
    eventData: r.eventData,
    metadata: JSON.parse(JSON.stringify(r.metadata)) as Record<string, unknown>,
    batchId: r.batchId ?? '',
    at: r.createdAt.getTime(),
  }));
}

function rawSqliteInsert(file: string): { insert: RawInsert; close(): void } {
  const db = new Database(file);
  for (const pragma of MAIN_PRAGMAS) db.pragma(pragma);
  const stmt = db.prepare(INSERT_EVENT);
  const insert = db.transaction((rows: readonly RawRow[]) => {
    for (const r of rows) stmt.run(r.userId, r.eventId, r.eventType, JSON.stringify(r.eventData), JSON.stringify(r.metadata), 'completed', 0, r.batchId, r.at, r.at);
  });
  return { insert: (rows) => insert(rows), close: () => db.close() };
}

interface OpenStore {
  readonly store: Store;
  /** Milliseconds spent inside `telemetry.insertEvents` and `insertEventsWithLog`, to show where a run's time went. */
  readonly insertMs: () => number;
  /** SQLite only: the database file, for the raw baseline's own connection. */
  readonly file?: string;
  dispose(): Promise<void>;
}

/** The store with `telemetry.insertEvents` and `insertEventsWithLog` timed; everything else untouched. */
function timed(store: Store): { store: Store; insertMs: () => number } {
  let total = 0;
  const telemetry = store.telemetry;
  const wrapped: Store = {
    ...store,
    telemetry: {
      insertEvents: async (events) => {
        const started = performance.now();
        try {
          return await telemetry.insertEvents(events);
        } finally {
          total += performance.now() - started;
        }
      },
      insertEventsWithLog: async (events, log) => {
        const started = performance.now();
        try {
          return await telemetry.insertEventsWithLog(events, log);
        } finally {
          total += performance.now() - started;
        }
      },
      listEvents: (u, q) => telemetry.listEvents(u, q),
      recentEvents: (u, q) => telemetry.recentEvents(u, q),
      findEvent: (u, id) => telemetry.findEvent(u, id),
      countEvents: (u) => telemetry.countEvents(u),
      listActiveUsers: (s, n) => telemetry.listActiveUsers(s, n),
      deleteUserEvents: (u) => telemetry.deleteUserEvents(u),
      deleteEventsOlderThan: (c) => telemetry.deleteEventsOlderThan(c),
    },
  };
  return { store: wrapped, insertMs: () => total };
}

async function openStore(kind: string): Promise<OpenStore> {
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'prepmate-bench-'));
    const store = await createSqliteStore({ dir });
    return { ...timed(store), file: join(dir, 'prepmate.sqlite'), dispose: async () => { await store.close(); await rm(dir, { recursive: true, force: true }); } };
  }
  const base = process.env['MONGODB_URI']!;
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/[^?]*)?(\?.*)?$/.exec(base.trim());
  if (!match) throw new Error('MONGODB_URI is not a mongodb:// URI');
  const uri = `${match[1]}/bench_${randomBytes(4).toString('hex')}${match[2] ?? ''}`;
  const store = await createMongoStore({ uri });
  return {
    ...timed(store),
    dispose: async () => {
      await store.close();
      const conn = await mongoose.createConnection(uri).asPromise();
      await conn.dropDatabase();
      await conn.close();
    },
  };
}

/** Runs `work` for every item with `concurrency` workers; returns each item's latency in ms. */
async function runConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const started = performance.now();
        await work(item);
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies;
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function countAll(store: Store): Promise<number> {
  let total = 0;
  for (let i = 0; i < LEARNERS; i++) total += await store.telemetry.countEvents(`learner_${i}`);
  return total;
}

interface Harness {
  readonly url: URL;
  close(): Promise<void>;
}

/** The shipped default validates inline; BENCH_VALIDATION=workers measures the worker pool. */
const VALIDATION = process.env['BENCH_VALIDATION'] ?? 'inline';

async function startServer(store: Store, dataDir: string): Promise<Harness> {
  const config = loadConfig({
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_SECRET: SECRET,
    AUTH_MODE: 'jwt',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '0',
    MAX_BATCH_ITEMS: String(Math.max(500, BATCH)),
    VALIDATION_THREADS: String(VALIDATION === 'inline' ? 0 : Math.max(1, availableParallelism() - 1)),
    DATA_DIR: dataDir,
  });
  const server = await startShippedServer(config, { store });
  return { url: new URL(`${server.url}/api/telemetry/batch`), close: () => server.stop() };
}

/**
 * The HTTP client runs in its own worker thread (plain JavaScript, no TypeScript needed): in
 * production the client is another machine, and its request/response handling must not be
 * billed to the server's event loop. `load` receives the bodies once; `run` sends a slice with
 * `concurrency` keep-alive connections and answers each batch's latency.
 */
const CLIENT_SOURCE = `
import { parentPort } from 'node:worker_threads';
import { Agent, request } from 'node:http';
let requests = [];
let agent = null;
function post(url, token, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.byteLength, authorization: 'Bearer ' + token } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error('HTTP ' + res.statusCode + ': ' + text.slice(0, 300)));
        const data = JSON.parse(text).data;
        if (data.failed !== 0) reject(new Error(data.failed + ' items rejected'));
        else resolve();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
parentPort.on('message', async (m) => {
  if (m.type === 'load') {
    requests = m.requests;
    agent = new Agent({ keepAlive: true, maxSockets: m.concurrency });
    parentPort.postMessage({ type: 'loaded' });
    return;
  }
  try {
    const latencies = [];
    let next = m.from;
    await Promise.all(Array.from({ length: m.concurrency }, async () => {
      while (next < m.to) {
        const r = requests[next++];
        const started = performance.now();
        await post(m.url, r.token, r.body);
        latencies.push(performance.now() - started);
      }
    }));
    parentPort.postMessage({ type: 'done', latencies });
  } catch (error) {
    parentPort.postMessage({ type: 'done', error: String(error && error.stack || error) });
  }
});
`;

interface HttpClient {
  run(from: number, to: number): Promise<number[]>;
  close(): Promise<void>;
}

async function startClient(url: URL, requests: readonly { token: string; body: Buffer }[]): Promise<HttpClient> {
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(CLIENT_SOURCE)}`));
  const reply = (): Promise<{ type: string; latencies?: number[]; error?: string }> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  const loaded = reply();
  worker.postMessage({ type: 'load', concurrency: CONNECTIONS, requests: requests.map((r) => ({ token: r.token, body: new Uint8Array(r.body) })) });
  await loaded;
  return {
    async run(from, to) {
      const done = reply();
      worker.postMessage({ type: 'run', url: url.href, from, to, concurrency: CONNECTIONS });
      const answer = await done;
      if (answer.error) throw new Error(`http client: ${answer.error}`);
      return answer.latencies ?? [];
    },
    async close() {
      await worker.terminate();
    },
  };
}

/**
 * Raw inserts and HTTP batches of the same rows, interleaved in rounds (raw chunk, then the
 * same chunk through the API, each into its own store): on a shared machine, load that comes
 * and goes then weighs on both rates alike instead of on whichever ran during it.
 */
async function measure(kind: string, batches: readonly Batch[]): Promise<void> {
  const raw = await openStore(kind);
  const api = await openStore(kind);
  const server = await startServer(api.store, tmpdir());
  let client: HttpClient | null = null;
  let closeRaw = (): void => undefined;
  try {
    const tokens = createTokenService(SECRET);
    const tokenOf = new Map<string, string>();
    for (let i = 0; i < LEARNERS; i++) tokenOf.set(`learner_${i}`, await tokens.sign(`learner_${i}`));
    // Rows and bodies are built before the clocks start: the client's cost is not the server's.
    const sentAt = new Date();
    const rawSqlite = raw.file === undefined ? null : rawSqliteInsert(raw.file);
    closeRaw = () => rawSqlite?.close();
    const records = batches.map((b) => rawRecords(b, sentAt));
    const rows = rawSqlite ? records.map(plainRows) : [];
    const indexes = batches.map((_, i) => i);
    const requests = batches.map((b) => ({
      token: tokenOf.get(b.userId)!,
      body: Buffer.from(
        JSON.stringify({
          batchId: b.batchId,
          sentAt: sentAt.toISOString(),
          items: b.rows.map((r) => ({ itemType: 'event', itemData: { eventId: r.eventId, eventType: r.eventType, eventData: r.eventData, metadata: { clientTimestamp: r.clientTimestamp, userAgent: 'bench' } } })),
        }),
      ),
    }));
    client = await startClient(server.url, requests);
    const perRound = Math.ceil(batches.length / ROUNDS);
    let rawMs = 0;
    let apiMs = 0;
    const rawLatencies: number[] = [];
    const apiLatencies: number[] = [];
    for (let from = 0; from < batches.length; from += perRound) {
      let started = performance.now();
      rawLatencies.push(...(await runConcurrently(indexes.slice(from, from + perRound), CONNECTIONS, async (i) => {
        if (rawSqlite) rawSqlite.insert(rows[i]!);
        else await raw.store.telemetry.insertEvents(records[i]!);
      })));
      rawMs += performance.now() - started;
      started = performance.now();
      apiLatencies.push(...(await client.run(from, Math.min(batches.length, from + perRound))));
      apiMs += performance.now() - started;
    }
    // Every benchmark checks its result: all rows stored, exactly once.
    for (const [mode, opened] of [['raw-insert', raw], ['http-batch', api]] as const) {
      const stored = await countAll(opened.store);
      if (stored !== TOTAL) throw new Error(`${mode} ${kind}: ${stored} events stored, expected ${TOTAL}`);
    }
    const rawRate = TOTAL / (rawMs / 1000);
    const apiRate = TOTAL / (apiMs / 1000);
    const common = { bench: 'ingest', store: kind, events: TOTAL, batch: BATCH, concurrency: CONNECTIONS, rounds: ROUNDS };
    emit({ ...common, mode: 'raw-insert', seconds: round(rawMs / 1000, 2), eventsPerSec: Math.round(rawRate), p99BatchMs: round(percentile(rawLatencies, 99)) });
    emit({
      ...common,
      mode: 'http-batch',
      validation: VALIDATION,
      seconds: round(apiMs / 1000, 2),
      storeInsertSeconds: round(api.insertMs() / 1000, 2),
      eventsPerSec: Math.round(apiRate),
      ratioToRaw: round(apiRate / rawRate, 3),
      target: 0.6,
      p50BatchMs: round(percentile(apiLatencies, 50)),
      p99BatchMs: round(percentile(apiLatencies, 99)),
    });
  } finally {
    await client?.close();
    await server.close();
    closeRaw();
    await raw.dispose();
    await api.dispose();
  }
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

async function main(): Promise<void> {
  const batches = workload();
  for (const kind of STORES) {
    if (kind === 'mongodb' && !process.env['MONGODB_URI']) {
      emit({ bench: 'ingest', store: 'mongodb', skipped: 'MONGODB_URI is not set' });
      continue;
    }
    if (kind !== 'sqlite' && kind !== 'mongodb') throw new Error(`BENCH_STORES: unknown store ${kind}`);
    await measure(kind, batches);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ingest bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
