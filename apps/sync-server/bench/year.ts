/**
 * A heavy learner's year on a new device: 20 000 assessments over 200 topics (plus one topic edit
 * per 10 assessments, the crdt-model bench's workload shape, made on one device), stored as a snapshot of the first
 * 90 % plus the log of the last 10 % (one record per edit), as the server holds a document
 * between two compactions. Per store (SQLite; FerretDB when MONGODB_URI is set) and round:
 *
 * - `load`: the server-side load, `loadDocument` + applying snapshot and log into a Y.Doc.
 * - `first-sync`: a stock y-websocket provider (Node `ws`, which offers permessage-deflate like
 *   browsers do) on an empty Y.Doc syncs it from the shipped server (`startServer`, security and
 *   audit included, cold: the document is not loaded yet); bytes counted on the client's TCP
 *   socket (both directions, handshake included), with `SYNC_DEFLATE_MIN_BYTES` at its default
 *   and at 0 (compression off) in the same round. Target: ≤ 1 MB on the wire.
 * - `size-after-two-years`: the encoded document after one more year of the same workload.
 *
 *   node --conditions=@prepmate/source --import tsx apps/sync-server/bench/year.ts
 *
 * BENCH_YEAR_ASSESSMENTS (20000), BENCH_YEAR_ROUNDS (3), BENCH_STORES (`sqlite,mongodb`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { yjsEngine } from '@prepmate/crdt-model';
import { createTokenService } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { createMongoStore, createSqliteStore, type Store } from '../src/storage/index.js';
import { writeHeavyYear } from '@prepmate/crdt-model/testing';

const ASSESSMENTS = Number(process.env['BENCH_YEAR_ASSESSMENTS'] ?? 20_000);
const ROUNDS = Math.max(1, Number(process.env['BENCH_YEAR_ROUNDS'] ?? 3) || 1);
const STORES = (process.env['BENCH_STORES'] ?? 'sqlite,mongodb').split(',').map((s) => s.trim());
const TOPICS = 200;
const SECRET = 'bench-secret-that-is-long-enough-0123456789';
const USER = 'learner_year';

const emit = (line: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ bench: 'year', ...line }) + '\n');
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;


interface YearDocument {
  readonly snapshot: Uint8Array;
  readonly log: readonly Uint8Array[];
  readonly fullBytes: number;
  readonly afterTwoYearsBytes: number;
}

function buildYear(): YearDocument {
  const replica = yjsEngine.create({ replicaId: 1 });
  const log: Uint8Array[] = [];
  let snapshot: Uint8Array | null = null;
  let edits = 0;
  const total = ASSESSMENTS + Math.floor(ASSESSMENTS / 10);
  const stop = replica.onUpdate((update) => {
    edits += 1;
    if (snapshot !== null) log.push(update);
    else if (edits >= Math.floor(total * 0.9)) snapshot = replica.save();
  });
  writeHeavyYear(replica, { assessments: ASSESSMENTS, topics: TOPICS, year: 2025, seed: 0x5eed });
  stop();
  const full = replica.save();
  writeHeavyYear(replica, { assessments: ASSESSMENTS, topics: TOPICS, year: 2026, seed: 0x5eed + 1, idPrefix: 'asm2_' });
  const afterTwoYearsBytes = replica.save().byteLength;
  replica.destroy();
  return { snapshot: snapshot ?? full, log, fullBytes: full.byteLength, afterTwoYearsBytes };
}

interface OpenStore {
  readonly store: Store;
  readonly dataDir: string;
  dispose(): Promise<void>;
}

async function openStore(kind: string): Promise<OpenStore> {
  const dir = await mkdtemp(join(tmpdir(), 'prepmate-year-'));
  if (kind === 'sqlite') {
    const store = await createSqliteStore({ dir });
    return { store, dataDir: dir, dispose: async () => { await store.close(); await rm(dir, { recursive: true, force: true }); } };
  }
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/[^?]*)?(\?.*)?$/.exec(process.env['MONGODB_URI']!.trim());
  if (!match) throw new Error('MONGODB_URI is not a mongodb:// URI');
  const uri = `${match[1]}/bench_year_${randomBytes(4).toString('hex')}${match[2] ?? ''}`;
  const store = await createMongoStore({ uri });
  return {
    store,
    dataDir: dir,
    dispose: async () => {
      await store.close();
      const conn = await mongoose.createConnection(uri).asPromise();
      await conn.dropDatabase();
      await conn.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function seed(store: Store, year: YearDocument): Promise<void> {
  await store.documents.compact(USER, year.snapshot, []);
  const createdAt = new Date();
  for (let i = 0; i < year.log.length; i += 500) {
    await store.documents.appendUpdates(year.log.slice(i, i + 500).map((update) => ({ docName: USER, update, author: USER, createdAt })));
  }
}

/** What the server does to load the document: read snapshot + log, apply them to a Y.Doc. */
async function timeLoad(store: Store): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const loaded = await store.documents.loadDocument(USER);
  const doc = new Y.Doc();
  if (loaded.snapshot) Y.applyUpdate(doc, loaded.snapshot.state);
  for (const u of loaded.updates) Y.applyUpdate(doc, u.update);
  const ms = performance.now() - started;
  const bytes = Y.encodeStateAsUpdate(doc).byteLength;
  doc.destroy();
  return { ms, bytes };
}

/** `ws` with the TCP socket's byte counters readable after the sync. */
function countingWebSocket(sockets: WebSocket[]): typeof WebSocket {
  return class extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  } as typeof WebSocket;
}

async function firstSync(store: Store, dataDir: string, deflateMinBytes: number, token: string): Promise<{ ms: number; wireBytes: number; docBytes: number; deflate: boolean }> {
  const config = loadConfig({
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_SECRET: SECRET,
    AUTH_MODE: 'jwt',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    SYNC_DEFLATE_MIN_BYTES: String(deflateMinBytes),
    ENABLE_SCHEDULED_SYNC: 'false',
  });
  const server = await startServer(config, { store });
  const sockets: WebSocket[] = [];
  const doc = new Y.Doc();
  try {
    const started = performance.now();
    const provider = new WebsocketProvider(`${server.url.replace(/^http/, 'ws')}/sync`, USER, doc, {
      WebSocketPolyfill: countingWebSocket(sockets) as unknown as typeof globalThis.WebSocket,
      disableBc: true,
      params: { token },
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('first sync did not finish within 60 s')), 60_000);
      provider.on('sync', (synced: boolean) => {
        if (synced) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const ms = performance.now() - started;
    const ws = sockets[0]!;
    const tcp = (ws as unknown as { _socket: { bytesRead: number; bytesWritten: number } })._socket;
    const wireBytes = tcp.bytesRead + tcp.bytesWritten;
    const deflate = ws.extensions.includes('permessage-deflate');
    provider.destroy();
    return { ms, wireBytes, docBytes: Y.encodeStateAsUpdate(doc).byteLength, deflate };
  } finally {
    doc.destroy();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const built = performance.now();
  const year = buildYear();
  emit({ metric: 'document', assessments: ASSESSMENTS, topics: TOPICS, bytes: year.fullBytes, snapshotBytes: year.snapshot.byteLength, logRecords: year.log.length, buildMs: Math.round(performance.now() - built) });
  emit({ metric: 'size-after-two-years', bytes: year.afterTwoYearsBytes, ratioToOneYear: round(year.afterTwoYearsBytes / year.fullBytes, 2) });
  const token = await createTokenService(SECRET).sign(USER);
  for (const kind of STORES) {
    if (kind === 'mongodb' && !process.env['MONGODB_URI']) {
      emit({ metric: 'load', store: 'mongodb', skipped: 'MONGODB_URI is not set' });
      continue;
    }
    const opened = await openStore(kind);
    try {
      await seed(opened.store, year);
      const loads: number[] = [];
      const syncs = new Map<number, { ms: number[]; bytes: number[] }>();
      for (let r = 0; r < ROUNDS; r++) {
        const load = await timeLoad(opened.store);
        if (Math.abs(load.bytes - year.fullBytes) > year.fullBytes * 0.01) throw new Error(`${kind}: loaded ${load.bytes} bytes, expected about ${year.fullBytes}`);
        loads.push(load.ms);
        emit({ metric: 'load', store: kind, round: r + 1, ms: round(load.ms) });
        // Alternate the order so that neither setting always runs first in a round.
        for (const min of r % 2 === 0 ? [16 * 1024, 0] : [0, 16 * 1024]) {
          const s = await firstSync(opened.store, opened.dataDir, min, token);
          if (Math.abs(s.docBytes - year.fullBytes) > year.fullBytes * 0.01) throw new Error(`${kind}: the client got ${s.docBytes} bytes, expected about ${year.fullBytes}`);
          if (s.deflate !== min > 0) throw new Error(`${kind}: permessage-deflate ${s.deflate ? 'negotiated' : 'not negotiated'} with SYNC_DEFLATE_MIN_BYTES=${min}`);
          const entry = syncs.get(min) ?? { ms: [], bytes: [] };
          entry.ms.push(s.ms);
          entry.bytes.push(s.wireBytes);
          syncs.set(min, entry);
          emit({ metric: 'first-sync', store: kind, round: r + 1, deflateMinBytes: min, deflate: s.deflate, ms: round(s.ms), wireBytes: s.wireBytes });
        }
      }
      emit({ metric: 'load', store: kind, stat: 'median', rounds: ROUNDS, ms: round(median(loads)), min: round(Math.min(...loads)), max: round(Math.max(...loads)) });
      for (const [min, s] of syncs) {
        emit({
          metric: 'first-sync',
          store: kind,
          stat: 'median',
          rounds: ROUNDS,
          deflateMinBytes: min,
          ms: round(median(s.ms)),
          msMin: round(Math.min(...s.ms)),
          msMax: round(Math.max(...s.ms)),
          wireBytes: median(s.bytes),
          ...(min > 0 ? { targetWireBytes: 1_000_000 } : {}),
        });
      }
    } finally {
      await opened.dispose();
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`year bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
