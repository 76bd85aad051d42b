import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCache, createMemoryRateLimiter, createRedisCacheService, type CacheService } from '../../src/cache/index.js';
import { openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { describeWithService, eventually } from '../helpers/stores.js';
import { eventItem, uid } from './fixtures.js';
import { documentChangeThenRead, restWriteThenRead, startRealServer } from './read-cache-cases.js';
import { createMemoryLearnerDocuments } from '../helpers/memory-documents.js';

/** Two cache services on one Redis deployment share entries and counters, and counters expire there. */
async function expectSharedCacheAndLimiter(one: CacheService, two: CacheService): Promise<void> {
  await eventually(async () => (await one.state()) === 'connected' && (await two.state()) === 'connected');
  await one.cache.set('status:x', { n: 1 }, 60);
  expect(await two.cache.get('status:x')).toEqual({ n: 1 });
  await two.cache.delete('status:x');
  expect(await one.cache.get('status:x')).toBeUndefined();

  const decisions = [];
  for (let i = 0; i < 3; i++) decisions.push(await (i % 2 === 0 ? one : two).rateLimiter.hit('learner:a', 2, 60_000));
  expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
  expect(decisions[2]!.retryAfterSeconds).toBeGreaterThanOrEqual(59);
  expect((await two.rateLimiter.hit('learner:b', 2, 60_000)).allowed).toBe(true);
  // A short window expires in Redis itself (long enough that a stalled machine still sees the refusal).
  await one.rateLimiter.hit('learner:c', 1, 1_500);
  expect((await one.rateLimiter.hit('learner:c', 1, 1_500)).allowed).toBe(false);
  await eventually(async () => (await one.rateLimiter.hit('learner:c', 1, 1_500)).allowed, { timeoutMs: 10_000, intervalMs: 100 });
}

describe('in-process cache and rate limiter', () => {
  it('when an entry outlives its TTL, then it is gone; values are copies', async () => {
    let t = 1_000_000;
    const cache = createMemoryCache({ now: () => t });
    const value = { a: [1, 2] };
    await cache.set('k', value, 10);
    value.a.push(3);
    expect(await cache.get('k')).toEqual({ a: [1, 2] });
    t += 9_999;
    expect(await cache.get('k')).toBeDefined();
    t += 1;
    expect(await cache.get('k')).toBeUndefined();
    await cache.set('zero', 1, 0);
    expect(await cache.get('zero')).toBeUndefined();
  });

  it('when more keys than maxEntries are written, then the oldest are dropped', async () => {
    const cache = createMemoryCache({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd']) await cache.set(k, k, 60);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.get('d')).toBe('d');
  });

  it('when a key exceeds its limit, then it is refused until the window ends, and other keys are unaffected', async () => {
    let t = 0;
    const limiter = createMemoryRateLimiter({ now: () => t });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.hit('a', 3, 60_000));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[3]!.retryAfterSeconds).toBe(60);
    expect((await limiter.hit('b', 3, 60_000)).allowed).toBe(true);
    t += 45_500;
    expect((await limiter.hit('a', 3, 60_000)).retryAfterSeconds).toBe(15);
    t += 14_500;
    expect(await limiter.hit('a', 3, 60_000)).toMatchObject({ allowed: true, remaining: 2 });
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A private redis-server for this suite (its own port, no persistence), when the binary exists. */
const redisBinary = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0 ? 'redis-server' : null;

describeWithService(
  'Redis cache and rate limiter',
  { env: 'redis-server', value: redisBinary, hint: 'Install Redis (apt-get install redis-server) so the suite can start its own.' },
  (binary) => {
    let redis: ChildProcess | null = null;
    let url = '';
    const logger = pino({ level: 'silent' });

    const startRedis = async (port: number): Promise<void> => {
      redis = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const probe = createRedisCacheService({ target: { kind: 'single', url: `redis://127.0.0.1:${port}` }, logger });
      try {
        await eventually(async () => (await probe.state()) === 'connected', { timeoutMs: 10_000, intervalMs: 50 });
      } finally {
        await probe.close();
      }
    };
    const stopRedis = async (): Promise<void> => {
      const child = redis;
      redis = null;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };

    let port = 0;
    beforeAll(async () => {
      port = await freePort();
      url = `redis://127.0.0.1:${port}`;
      await startRedis(port);
    });
    afterAll(async () => {
      await stopRedis();
    });

    it('when two instances share Redis, then cache entries and rate counters are shared and expire', async () => {
      const prefix = `${uid('p')}:`;
      const one = createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: prefix });
      const two = createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: prefix });
      try {
        await expectSharedCacheAndLimiter(one, two);
      } finally {
        for (const s of [one, two]) await s.close();
      }
    });

    it('when the API runs on two instances with REDIS_URL, then a learner flooding one instance is limited on the other; other learners are not', async () => {
      const opened: OpenedStore = await openStore('sqlite');
      const prefix = `${uid('p')}:`;
      const caches: CacheService[] = [createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: prefix }), createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: prefix })];
      const apis: ApiHarness[] = [];
      try {
        for (const cache of caches) apis.push(await startApi({ store: opened.store, cache, env: { RATE_LIMIT_PER_MINUTE: '4', REDIS_URL: url } }));
        const [first, second] = apis as [ApiHarness, ApiHarness];
        await eventually(async () => (await first.request('GET', '/api/health')).json.services.cache === 'connected');
        const flooder = await first.token(uid('u'));
        const calm = await first.token(uid('u'));
        for (let i = 0; i < 4; i++) expect((await (i % 2 ? first : second).request('GET', '/api/telemetry/status', { token: flooder })).status).toBe(200);
        const limited = await second.request('GET', '/api/telemetry/status', { token: flooder });
        expect(limited.status).toBe(429);
        expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
        expect((await first.request('GET', '/api/telemetry/status', { token: calm })).status).toBe(200);

        // The status cache is shared: ingestion on one instance invalidates it for the other.
        const user = uid('u');
        const token = await first.token(user);
        expect((await second.request('GET', '/api/telemetry/status', { token })).json.syncStatus.totalItems).toBe(0);
        await first.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e'))] } });
        expect((await second.request('GET', '/api/telemetry/status', { token })).json.syncStatus.totalItems).toBe(1);
      } finally {
        for (const a of apis) await a.close();
        await opened.dispose();
      }
    });

    it('when two API instances share Redis, then a progress write on one is read at once on the other (whose entry was primed)', async () => {
      const opened: OpenedStore = await openStore('sqlite');
      const prefix = `${uid('p')}:`;
      // Both instances see one set of learner documents, as instances sharing a store and the fan-out do.
      const documents = createMemoryLearnerDocuments(opened.store.documents);
      const caches = [createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: prefix }), createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: prefix })];
      const apis: ApiHarness[] = [];
      try {
        for (const cache of caches) apis.push(await startApi({ store: opened.store, cache, documents, env: { REDIS_URL: url } }));
        const [first, second] = apis as [ApiHarness, ApiHarness];
        await eventually(async () => (await caches[0]!.state()) === 'connected' && (await caches[1]!.state()) === 'connected');
        await restWriteThenRead(first, first);
        await restWriteThenRead(first, second);
      } finally {
        for (const a of apis) await a.close();
        await opened.dispose();
      }
    });

    it('when real servers share Redis (cache and fan-out), then a document change is read at once on its instance and soon on the other', async () => {
      const opened: OpenedStore = await openStore('sqlite');
      const prefix = `${uid('p')}:`;
      const caches = [createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: prefix }), createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: prefix })];
      const servers = [];
      try {
        for (const cache of caches) servers.push(await startRealServer(opened.store, cache, { REDIS_URL: url }));
        const [a, b] = servers as [(typeof servers)[number], (typeof servers)[number]];
        await eventually(async () => (await caches[0]!.state()) === 'connected' && (await caches[1]!.state()) === 'connected');
        await documentChangeThenRead(a);
        await documentChangeThenRead(a, b);
      } finally {
        for (const s of servers) await s.stop();
        for (const c of caches) await c.close();
        await opened.dispose();
      }
    });

    it('when Redis goes down, then requests still succeed (cache bypassed, limiter open) and health reports the cache degraded', async () => {
      const opened: OpenedStore = await openStore('sqlite');
      const cache = createRedisCacheService({ target: { kind: 'single', url }, logger, keyPrefix: `${uid('p')}:`, commandTimeoutMs: 200 });
      const api = await startApi({ store: opened.store, cache, env: { RATE_LIMIT_PER_MINUTE: '100', REDIS_URL: url } });
      try {
        const token = await api.token(uid('u'));
        await eventually(async () => (await cache.state()) === 'connected');
        await stopRedis();
        await eventually(async () => (await cache.state()) === 'disconnected');
        const status = await api.request('GET', '/api/telemetry/status', { token });
        expect(status.status).toBe(200);
        const batch = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e'))] } });
        expect(batch.status).toBe(200);
        const health = await api.request('GET', '/api/health');
        expect(health.json).toMatchObject({ status: 'degraded', services: { cache: 'disconnected', database: 'connected' } });
        await startRedis(port);
        await eventually(async () => (await api.request('GET', '/api/health')).json.status === 'healthy', { timeoutMs: 10_000, intervalMs: 100 });
      } finally {
        await api.close();
        await opened.dispose();
      }
    });
  },
);

const clusterNodes = process.env['REDIS_CLUSTER_NODES'] ?? null;
describeWithService(
  'Redis cache and rate limiter on a Redis Cluster',
  { env: 'REDIS_CLUSTER_NODES', value: clusterNodes, hint: 'Start a local cluster with `node scripts/test-services.mjs cluster-up` and load .tmp/test-services.env.' },
  (nodes) => {
    const logger = pino({ level: 'silent' });
    it('when two instances share a Redis Cluster, then cache entries and rate counters are shared and expire', async () => {
      const target = { kind: 'cluster', nodes: nodes.split(',') } as const;
      const prefix = `${uid('p')}:`;
      const one = createRedisCacheService({ target, logger, keyPrefix: prefix });
      const two = createRedisCacheService({ target, logger, keyPrefix: prefix });
      try {
        await expectSharedCacheAndLimiter(one, two);
      } finally {
        for (const s of [one, two]) await s.close();
      }
    });
  },
);
