/**
 * `npm run bench` (fourth part): what the progress read cache saves on `GET /api/progress` for a
 * heavy learner (BENCH_TOPICS topics, BENCH_ASSESSMENTS assessments, merged through the REST batch
 * endpoint into the real learner document). The shipped server (`startServer`, in this process)
 * on one SQLite store, three ways, interleaved for BENCH_CACHE_ROUNDS rounds:
 *
 * - `off-loaded`: CACHE_TTL_SECONDS=0, the document stays loaded (requests back to back);
 * - `off-cold`: CACHE_TTL_SECONDS=0, the document unloaded before each request (snapshot + log read);
 * - `memory`: CACHE_TTL_SECONDS=300, in-process cache; `redis` too when REDIS_URL is set.
 *
 * One JSON line per way and round (latency p50/p99 and mean over BENCH_CACHE_REQUESTS sequential
 * requests, client clock), then a `median` line per way and a `ratio` line of each cached way to
 * `off-loaded` and `off-cold`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createMemoryCacheService, createRedisCacheService, type CacheService } from '../src/cache/index.js';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createSqliteStore, type Store } from '../src/storage/index.js';
import { percentile } from './proc.js';

const intEnv = (name: string, fallback: number): number => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} accepts a positive integer`);
  return n;
};
const TOPICS = intEnv('BENCH_TOPICS', 300);
const ASSESSMENTS = intEnv('BENCH_ASSESSMENTS', 3000);
const REQUESTS = intEnv('BENCH_CACHE_REQUESTS', 200);
const ROUNDS = intEnv('BENCH_CACHE_ROUNDS', 3);
const SECRET = 'bench-secret-of-at-least-thirty-two-characters';
const USER = 'heavy-learner';
const logger = pino({ level: 'silent' });

type Way = 'off-loaded' | 'off-cold' | 'memory' | 'redis';
type Line = Record<string, number | string>;
const print = (line: Line): void => void process.stdout.write(JSON.stringify(line) + '\n');

async function start(store: Store, cache: CacheService, ttl: number): Promise<RunningServer> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', JWT_SECRET: SECRET, LOG_LEVEL: 'silent', DATA_DIR: '/nonexistent', CACHE_TTL_SECONDS: String(ttl), RATE_LIMIT_PER_MINUTE: '0' });
  return startServer(config, { logger, store, cache, runJobs: false, sync: { unloadGraceMs: 1 } });
}

async function seed(server: RunningServer): Promise<void> {
  const token = await server.tokens.sign(USER);
  const items: unknown[] = [];
  const at = Date.now() - ASSESSMENTS * 60_000;
  for (let t = 0; t < TOPICS; t++) items.push({ itemType: 'progress', itemData: { topicId: `topic-${t}`, status: 'in_progress', goal: `goal ${t}`, notes: 'x'.repeat(200) } });
  for (let a = 0; a < ASSESSMENTS; a++) {
    items.push({
      itemType: 'assessment',
      itemData: { assessmentId: `a-${a}`, topicId: `topic-${a % TOPICS}`, kind: 'quiz', score: (a * 37) % 101, questionsAttempted: 10, correctAnswers: (a * 3) % 11, weakAreas: [`area-${a % 17}`], completedAt: new Date(at + a * 60_000).toISOString() },
    });
  }
  for (let i = 0; i < items.length; i += 500) {
    const res = await fetch(`${server.url}/api/telemetry/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ batchId: `seed-${i}`, items: items.slice(i, i + 500) }),
    });
    if (res.status !== 200) throw new Error(`seed batch answered ${res.status}: ${await res.text()}`);
  }
}

async function unloaded(server: RunningServer): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (server.sync.status().loadedDocuments > 0) {
    if (Date.now() > deadline) throw new Error('the document did not unload');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function measure(store: Store, way: Way, round: number): Promise<Line> {
  const cache = way === 'redis' ? createRedisCacheService({ target: { kind: 'single', url: process.env['REDIS_URL'] ?? '' }, logger, keyPrefix: `bench-${process.pid}-${round}:` }) : createMemoryCacheService();
  const server = await start(store, cache, way === 'memory' || way === 'redis' ? 300 : 0);
  try {
    const token = await server.tokens.sign(USER);
    const get = async (): Promise<number> => {
      const res = await fetch(`${server.url}/api/progress`, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`GET /api/progress answered ${res.status}`);
      return body.length;
    };
    const bytes = await get(); // warm-up: fills the cache or loads the document
    const ms: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      if (way === 'off-cold') await unloaded(server);
      const t0 = process.hrtime.bigint();
      await get();
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ms.sort((a, b) => a - b);
    const mean = ms.reduce((s, v) => s + v, 0) / ms.length;
    return { bench: 'progress-cache', way, round, topics: TOPICS, assessments: ASSESSMENTS, responseBytes: bytes, requests: REQUESTS, p50Ms: round3(percentile(ms, 50)), p99Ms: round3(percentile(ms, 99)), meanMs: round3(mean) };
  } finally {
    await server.stop();
    await cache.close();
  }
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'prepmate-bench-cache-'));
  const store = await createSqliteStore({ dir });
  try {
    const seeder = await start(store, createMemoryCacheService(), 0);
    await seed(seeder);
    await seeder.stop();
    const ways: Way[] = ['off-loaded', 'off-cold', 'memory', ...(process.env['REDIS_URL'] ? (['redis'] as const) : [])];
    const lines = new Map<Way, Line[]>();
    for (let round = 0; round < ROUNDS; round++) {
      // Rotated each round, so no way always runs first (or last) on a shared machine.
      const order = ways.map((_, i) => ways[(i + round) % ways.length]!);
      for (const way of order) {
        const line = await measure(store, way, round);
        print(line);
        lines.set(way, [...(lines.get(way) ?? []), line]);
      }
    }
    const median = (way: Way, key: string): number => {
      const values = (lines.get(way) ?? []).map((l) => Number(l[key])).sort((a, b) => a - b);
      return values[Math.floor(values.length / 2)] ?? NaN;
    };
    for (const way of ways) print({ bench: 'progress-cache', kind: 'median', way, rounds: ROUNDS, p50Ms: median(way, 'p50Ms'), p99Ms: median(way, 'p99Ms'), meanMs: median(way, 'meanMs') });
    for (const way of ways.filter((w) => w === 'memory' || w === 'redis')) {
      for (const base of ['off-loaded', 'off-cold'] as const) {
        print({ bench: 'progress-cache', kind: 'ratio', way, versus: base, p50Speedup: round3(median(base, 'p50Ms') / median(way, 'p50Ms')), meanSpeedup: round3(median(base, 'meanMs') / median(way, 'meanMs')) });
      }
    }
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
