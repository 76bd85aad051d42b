/**
 * Cost constants of the capacity model (docs/capacity.md) that no other part measures, one JSON
 * line each (`bench: "costs"`), SQLite store:
 *
 * - `ingest-cpu`: server CPU per ingested telemetry event. The shipped server (`servers/ours.mjs`,
 *   from dist/) in its own process; this process posts `BENCH_COSTS_EVENTS` (40 000) events in
 *   500-event batches over 4 keep-alive connections to `POST /api/telemetry/batch`; CPU is the
 *   server process's utime + stime (`/proc/<pid>/stat`, validation workers included). Also the
 *   stored bytes per event: growth of the SQLite file (table and indexes, pages counted by a
 *   reader connection, so the WAL is included).
 * - `log-bytes`: bytes per document update in the store's log. Updates are a learner's real edits
 *   (crdt-model: assessments, topic edits, one update per edit, as a client sends them), appended
 *   in flush-sized groups of 20 through the store; reports the payload size and the SQLite growth
 *   per record (payload, ids, author, time, index).
 * - `snapshot`: the compaction job (`runSnapshots`) over `BENCH_COSTS_DOCS` (100) documents, each
 *   a snapshot of `BENCH_COSTS_ASSESSMENTS` (1 000) assessments plus a session's log of 150 edits:
 *   CPU and wall time per document (this process: the job and the store's threads), snapshot bytes
 *   per document and per assessment.
 *
 *   node --conditions=@prepmate/source --import tsx bench/costs.ts
 *
 * BENCH_COSTS_PARTS (`ingest-cpu,log-bytes,snapshot`) narrows a run.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { yjsEngine, type LearnerReplica } from '@prepmate/crdt-model';
import { createTokenService } from '../src/auth/tokens.js';
import { runSnapshots } from '../src/docs/snapshots.js';
import { createSqliteStore, type Store } from '../src/storage/index.js';
import { mulberry32 } from '../test/helpers/random.js';
import { cpuSeconds, syncPortOf } from './proc.js';

const intEnv = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} accepts a positive integer`);
  return n;
};
const EVENTS = intEnv('BENCH_COSTS_EVENTS', 40_000);
const DOCS = intEnv('BENCH_COSTS_DOCS', 100);
const ASSESSMENTS = intEnv('BENCH_COSTS_ASSESSMENTS', 1_000);
const PARTS = (process.env['BENCH_COSTS_PARTS'] ?? 'ingest-cpu,log-bytes,snapshot').split(',').map((s) => s.trim());
const BATCH = 500;
const CONNECTIONS = 4;
const LEARNERS = 50;
/** Edits of one session (the capacity model's assumption), logged between two compactions. */
const SESSION_EDITS = 150;
const SECRET = 'bench-secret-that-is-long-enough-0123456789';
const root = fileURLToPath(new URL('..', import.meta.url));

const emit = (line: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ bench: 'costs', ...line }) + '\n');
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Bytes of a SQLite database as a reader sees it now (committed pages, WAL included). */
function sqliteBytes(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- ingest-cpu

function post(url: URL, agent: Agent, token: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.byteLength, authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        const failed = (JSON.parse(text) as { data: { failed: number } }).data.failed;
        if (failed !== 0) reject(new Error(`${failed} items rejected`));
        else resolve();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function ingestCpu(): Promise<void> {
  if (!existsSync(join(root, 'dist', 'server.js'))) throw new Error('dist/ is missing: npm run build -w apps/sync-server first');
  const dir = await mkdtemp(join(tmpdir(), 'prepmate-costs-'));
  const child = spawn(process.execPath, ['bench/servers/ours.mjs'], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', DATA_DIR: dir, JWT_SECRET: SECRET, RATE_LIMIT_PER_MINUTE: '0', MAX_BATCH_ITEMS: String(BATCH) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    const port = await syncPortOf(child, 'server');
    const url = new URL(`http://127.0.0.1:${port}/api/telemetry/batch`);
    const tokens = createTokenService(SECRET);
    const tokenOf: string[] = [];
    for (let i = 0; i < LEARNERS; i++) tokenOf.push(await tokens.sign(`learner_${i}`));
    const random = mulberry32(42);
    const types = ['question_answered', 'interview_completed', 'hint_requested', 'topic_viewed', 'session_started'];
    const sentAt = new Date().toISOString();
    // Bodies are built before the clock starts: the client's cost is not the server's.
    const bodies: Array<{ token: string; body: Buffer }> = [];
    for (let b = 0; b * BATCH < EVENTS; b++) {
      const items = [];
      for (let i = 0; i < BATCH && b * BATCH + i < EVENTS; i++) {
        const n = b * BATCH + i;
        items.push({
          itemType: 'event',
          itemData: {
            eventId: `evt_costs_${n}`,
            eventType: types[Math.floor(random() * types.length)],
            eventData: { questionId: `q_${Math.floor(random() * 10_000)}`, score: Math.floor(random() * 101), durationMs: Math.floor(random() * 120_000), correct: random() < 0.6 },
            metadata: { clientTimestamp: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(), userAgent: 'bench' },
          },
        });
      }
      bodies.push({ token: tokenOf[b % LEARNERS]!, body: Buffer.from(JSON.stringify({ batchId: `batch_costs_${b}`, sentAt, items })) });
    }
    const send = async (list: typeof bodies): Promise<void> => {
      let next = 0;
      await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
        while (next < list.length) {
          const r = list[next++]!;
          await post(url, agent, r.token, r.body);
        }
      }));
    };
    // Warm-up: one batch per connection (JIT, first connections, statements), outside the figures.
    const warm = bodies.splice(0, CONNECTIONS);
    await send(warm);
    const events = bodies.reduce((n, b) => n + (JSON.parse(b.body.toString()) as { items: unknown[] }).items.length, 0);
    const file = join(dir, 'prepmate.sqlite');
    const bytesBefore = sqliteBytes(file);
    const cpuBefore = cpuSeconds(child.pid!);
    const started = performance.now();
    await send(bodies);
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuSeconds(child.pid!) - cpuBefore;
    const bytes = sqliteBytes(file) - bytesBefore;
    emit({
      row: 'ingest-cpu',
      store: 'sqlite',
      events,
      batch: BATCH,
      connections: CONNECTIONS,
      seconds: round(seconds, 2),
      events_per_s: Math.round(events / seconds),
      server_cpu_s: round(cpu, 2),
      server_cpu_us_per_event: round((cpu * 1e6) / events),
      stored_bytes_per_event: Math.round(bytes / events),
    });
  } finally {
    agent.destroy();
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- learner edits

const AREAS = ['recursion', 'graphs', 'dp', 'sql-joins', 'concurrency', 'big-o', 'system-design', 'behavioural'];
const STATUSES = ['not_started', 'in_progress', 'completed'] as const;

/** `count` edits of the year bench's shape: assessments, and a topic edit after every 10th. */
function writeEdits(replica: LearnerReplica, count: number, seed: number, idPrefix: string): void {
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  for (let i = 0; i < count; i++) {
    const questions = 5 + Math.floor(random() * 16);
    const correct = Math.floor(random() * (questions + 1));
    const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    if (i % 11 === 10) {
      replica.updateTopic(`topic_${Math.floor(random() * 200)}`, { status: pick(STATUSES), ...(random() < 0.3 ? { goal: `score ${60 + Math.floor(random() * 40)}+` } : {}), updatedAt: at });
      continue;
    }
    const weak = random() < 0.4 ? [pick(AREAS), pick(AREAS)] : undefined;
    replica.recordAssessment({
      assessmentId: `${idPrefix}${i.toString(36).padStart(6, '0')}`,
      topicId: `topic_${Math.floor(random() * 200)}`,
      kind: pick(['quiz', 'mock_interview', 'coding']),
      score: Math.round((correct / questions) * 100),
      durationSec: 60 + Math.floor(random() * 3600),
      questionsAttempted: questions,
      correctAnswers: correct,
      ...(weak ? { weakAreas: [...new Set(weak)] } : {}),
      completedAt: at,
    });
  }
}

/** A learner document: the state after `history` edits, and the updates of `session` edits after it. */
function learnerDocument(seed: number, history: number, session: number): { state: Uint8Array; updates: Uint8Array[] } {
  const replica = yjsEngine.create({ replicaId: 1 + (seed % 1000) });
  writeEdits(replica, history, seed, 'asm_');
  const state = replica.save();
  const updates: Uint8Array[] = [];
  const stop = replica.onUpdate((u) => updates.push(u));
  writeEdits(replica, session, seed + 1, 'ses_');
  stop();
  replica.destroy();
  return { state, updates };
}

async function withSqlite<T>(run: (store: Store, file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'prepmate-costs-'));
  const store = await createSqliteStore({ dir });
  try {
    return await run(store, join(dir, 'prepmate.sqlite'));
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- log-bytes

async function logBytes(): Promise<void> {
  const docs = 20;
  const perDoc = 500;
  const documents = Array.from({ length: docs }, (_, d) => learnerDocument(1_000 + d, 0, perDoc));
  await withSqlite(async (store, file) => {
    // One record first, so the tables' first pages are in the baseline.
    await store.documents.appendUpdates([{ docName: 'warm', update: documents[0]!.updates[0]!, author: 'warm', createdAt: new Date() }]);
    const before = sqliteBytes(file);
    let records = 0;
    let payload = 0;
    for (let d = 0; d < docs; d++) {
      const name = `learner_${d.toString().padStart(4, '0')}`;
      const updates = documents[d]!.updates;
      // Groups of 20: what one flush of a busy document writes.
      for (let i = 0; i < updates.length; i += 20) {
        const group = updates.slice(i, i + 20);
        await store.documents.appendUpdates(group.map((update) => ({ docName: name, update, author: name, createdAt: new Date() })));
        records += group.length;
        payload += group.reduce((n, u) => n + u.byteLength, 0);
      }
    }
    const bytes = sqliteBytes(file) - before;
    const sizes = documents.flatMap((d) => d.updates.map((u) => u.byteLength)).sort((a, b) => a - b);
    emit({
      row: 'log-bytes',
      store: 'sqlite',
      records,
      payload_bytes_per_update: Math.round(payload / records),
      payload_bytes_p50: sizes[Math.floor(sizes.length / 2)],
      payload_bytes_p99: sizes[Math.floor(sizes.length * 0.99)],
      stored_bytes_per_update: Math.round(bytes / records),
    });
  });
}

// ---------------------------------------------------------------- snapshot

async function snapshotCost(): Promise<void> {
  const documents = Array.from({ length: DOCS }, (_, d) => learnerDocument(5_000 + d, ASSESSMENTS, SESSION_EDITS));
  await withSqlite(async (store, file) => {
    for (let d = 0; d < DOCS; d++) {
      const name = `learner_${d.toString().padStart(4, '0')}`;
      await store.documents.compact(name, documents[d]!.state, []);
      await store.documents.appendUpdates(documents[d]!.updates.map((update) => ({ docName: name, update, author: name, createdAt: new Date() })));
    }
    const before = sqliteBytes(file);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const result = await runSnapshots({ store, logger: pino({ level: 'silent' }), config: { SYNC_BATCH_SIZE: DOCS }, instanceId: 'bench-costs' });
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    if (result.compacted !== DOCS || result.failed !== 0) throw new Error(`compaction: ${JSON.stringify(result)}`);
    let snapshotBytes = 0;
    for (let d = 0; d < DOCS; d++) {
      const loaded = await store.documents.loadDocument(`learner_${d.toString().padStart(4, '0')}`);
      if (loaded.updates.length !== 0) throw new Error('log left after compaction');
      snapshotBytes += loaded.snapshot?.state.byteLength ?? 0;
    }
    emit({
      row: 'snapshot',
      store: 'sqlite',
      documents: DOCS,
      assessments_per_document: Math.round(ASSESSMENTS * (10 / 11)),
      log_records_per_document: documents[0]!.updates.length,
      cpu_ms_per_document: round((cpu.user + cpu.system) / 1000 / DOCS, 2),
      wall_ms_per_document: round(ms / DOCS, 2),
      snapshot_bytes_per_document: Math.round(snapshotBytes / DOCS),
      snapshot_bytes_per_assessment: round(snapshotBytes / DOCS / ((ASSESSMENTS + SESSION_EDITS) * (10 / 11)), 1),
      store_bytes_change: sqliteBytes(file) - before,
    });
  });
}

const parts: Record<string, () => Promise<void>> = { 'ingest-cpu': ingestCpu, 'log-bytes': logBytes, snapshot: snapshotCost };
for (const part of PARTS) {
  const run = parts[part];
  if (!run) throw new Error(`BENCH_COSTS_PARTS: unknown part ${part} (known: ${Object.keys(parts).join(', ')})`);
  await run();
}
