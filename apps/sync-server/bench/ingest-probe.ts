import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryCacheService } from '../src/cache/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createSqliteStore, type Store } from '../src/storage/index.js';
import { createMemoryLearnerDocuments, createTelemetryService } from '../src/telemetry/index.js';

const timers: Record<string, number> = {};
function timed<T extends object>(name: string, target: T): T {
  return new Proxy(target, { get(o, p, r) { const v = Reflect.get(o, p, r); if (typeof v !== 'function') return v; return async (...a: unknown[]) => { const s = performance.now(); try { return await (v as (...x: unknown[]) => Promise<unknown>).apply(o, a); } finally { timers[`${name}.${String(p)}`] = (timers[`${name}.${String(p)}`] ?? 0) + performance.now() - s; } }; } });
}
const dir = await mkdtemp(join(tmpdir(), 'probe-'));
const inner = await createSqliteStore({ dir });
const store: Store = { ...inner, telemetry: timed('telemetry', inner.telemetry), batchLogs: timed('batchLogs', inner.batchLogs), syncQueue: inner.syncQueue, documents: inner.documents, leases: inner.leases, kind: inner.kind, ping: inner.ping, close: inner.close };
const config = loadConfig({ JWT_SECRET: 'x'.repeat(40) });
const svc = createTelemetryService({ store, documents: createMemoryLearnerDocuments(), cache: createMemoryCacheService().cache, config, logger: createLogger('silent') });
const bodies = Array.from({ length: 80 }, (_, b) => JSON.stringify({ batchId: `b${b}`, items: Array.from({ length: 500 }, (_, i) => ({ itemType: 'event', itemData: { eventId: `e${b}_${i}`, eventType: 'question_answered', eventData: { questionId: 'q1', score: 50, durationMs: 1000, correct: true }, metadata: { clientTimestamp: new Date().toISOString(), userAgent: 'bench' } } })) }));
const ctx = { userId: 'u1', actFor: (r: unknown) => String(r), ip: '127.0.0.1', userAgent: 'x' };
let parse = 0; const s = performance.now();
for (const b of bodies) { const ps = performance.now(); const body = JSON.parse(b); parse += performance.now() - ps; await svc.ingestBatch(ctx, body); }
const total = performance.now() - s;
console.log({ total, parse, ...timers, rest: total - parse - Object.values(timers).reduce((a, b) => a + b, 0) });
