/**
 * SDK benchmarks, one JSON line per measurement (`npm run bench -w packages/sync-client`).
 *
 * - capture: `captureEvent` latency (awaited one at a time, so each is its own storage
 *   transaction, the worst case) with 1 000 and 100 000 events already queued, per adapter.
 * - flush: events per second from a full outbox to the real server (SQLite in a temp dir).
 * - chromium: the same capture measurement in headless Chromium with real IndexedDB (when
 *   /usr/bin/chromium exists; `BENCH_CHROMIUM=0` skips it).
 *
 * Fixed seeds and fixed payloads; each measurement also checks its result (counts) and fails loudly.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { createSyncClientOn } from '../src/client.js';
import { createFileOutboxStorage } from '../src/node/file-storage.js';
import { createIndexedDbOutboxStorage } from '../src/outbox/indexeddb-storage.js';
import { createMemoryOutboxStorage } from '../src/outbox/memory-storage.js';
import type { OutboxStorage } from '../src/outbox/storage.js';
import { createTelemetry } from '../src/outbox/telemetry.js';
import { createManualConnectivity, noLifecycle } from '../src/ports.js';
import { makeItems } from '../test/outbox-storage.conformance.js';
import { startTestServer } from '../test/server-helper.js';
import { runChromiumBench } from './chromium.js';

const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 1000);
const emit = (o: Record<string, unknown>): void => console.log(JSON.stringify({ ...o, node: process.version, at: new Date().toISOString() }));

export function percentiles(xs: number[]): { p50: number; p99: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: round(at(0.5)), p99: round(at(0.99)), mean: round(s.reduce((a, b) => a + b, 0) / s.length) };
}

async function prefill(storage: OutboxStorage, n: number): Promise<void> {
  const limits = { maxItems: 1e9, maxBytes: 1e12 };
  // Recent timestamps so that nothing expires during the measurement.
  const items = makeItems(n, { start: Date.now() - n - 1000, size: 120 });
  for (let i = 0; i < items.length; i += 10_000) await storage.append(items.slice(i, i + 10_000), limits);
}

async function benchCapture(adapter: string, open: () => Promise<{ storage: OutboxStorage; cleanup: () => Promise<void> }>, queued: number): Promise<void> {
  const { storage, cleanup } = await open();
  await prefill(storage, queued);
  const telemetry = createTelemetry({
    storage,
    transport: { send: async () => ({ kind: 'retry', error: 'offline bench' }) },
    connectivity: createManualConnectivity(false),
    locks: null,
    channel: null,
    maxQueueSize: queued + SAMPLES + 100,
    maxQueueBytes: 1e12,
  });
  await telemetry.ready;
  // Warm-up (JIT, first transactions), not measured and not counted.
  for (let i = 0; i < 50; i++) await telemetry.captureEvent('warm_up', { i });
  const lat: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    await telemetry.captureEvent('question_answered', { questionId: `q${i}`, correct: i % 3 === 0, ms: 1234 });
    lat.push(performance.now() - t);
  }
  const count = (await storage.stats()).count;
  if (count !== queued + SAMPLES + 50) throw new Error(`capture bench: expected ${queued + SAMPLES + 50} queued, found ${count}`);
  emit({ bench: 'captureEvent', runtime: 'node', adapter, queued, samples: SAMPLES, unit: 'ms', ...percentiles(lat) });
  await telemetry.destroy();
  await cleanup();
}

async function benchFlush(events: number, batchSize: number, compress: boolean): Promise<void> {
  const server = await startTestServer();
  try {
    const userId = `bench-${batchSize}-${compress ? 'gz' : 'plain'}`;
    const connectivity = createManualConnectivity(false);
    const indexedDB = new IDBFactory();
    let wireBytes = 0;
    const countingFetch = (url: string, init: RequestInit): Promise<Response> => {
      const body = init.body;
      wireBytes += typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : 0;
      return fetch(url, init);
    };
    const client = createSyncClientOn(
      {
        connectivity,
        lifecycle: noLifecycle,
        locks: null,
        channel: null,
        WebSocket: null,
        outboxStorage: () => createIndexedDbOutboxStorage({ indexedDB }),
        docPersistence: null,
        crossTab: false,
      },
      { apiBaseUrl: server.url, wsUrl: server.wsUrl, userId, getToken: () => server.token(userId), documentSync: false, compressRequests: compress, fetch: countingFetch, telemetry: { batchSize, maxQueueSize: events + 10, syncIntervalMs: 3_600_000 } },
    );
    await client.ready;
    await Promise.all(Array.from({ length: events }, (_, i) => client.captureEvent('question_answered', { i, correct: i % 2 === 0 })));
    const t = performance.now();
    connectivity.setOnline(true);
    const result = await client.flush();
    const ms = performance.now() - t;
    const stored = await server.store.telemetry.countEvents(userId);
    if (stored !== events || client.status().queuedEvents !== 0) throw new Error(`flush bench: ${stored} stored, ${client.status().queuedEvents} left, ${JSON.stringify(result)}`);
    emit({ bench: 'flush', runtime: 'node', adapter: 'indexeddb(fake)', events, batchSize, gzip: compress, ms: Math.round(ms), eventsPerSecond: Math.round((events / ms) * 1000), requestBytes: wireBytes });
    await client.destroy();
  } finally {
    await server.close();
  }
}

const adapters: Record<string, () => Promise<{ storage: OutboxStorage; cleanup: () => Promise<void> }>> = {
  memory: async () => ({ storage: createMemoryOutboxStorage(), cleanup: async () => undefined }),
  'indexeddb(fake)': async () => ({ storage: await createIndexedDbOutboxStorage({ indexedDB: new IDBFactory() }), cleanup: async () => undefined }),
  'file(fsync)': async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-outbox-'));
    return { storage: await createFileOutboxStorage({ path: join(dir, 'o.jsonl'), fsync: 'always' }), cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
};

for (const queued of [1_000, 100_000]) {
  for (const [name, open] of Object.entries(adapters)) await benchCapture(name, open, queued);
}
for (const batchSize of [50, 200]) for (const compress of [false, true]) await benchFlush(10_000, batchSize, compress);
if (process.env['BENCH_CHROMIUM'] !== '0') {
  for (const line of await runChromiumBench(SAMPLES)) emit(line);
}
