import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Router } from 'express';
import mongoose from 'mongoose';
import { describe } from 'vitest';
import { createTokenService, type TokenService } from '../../src/auth/tokens.js';
import { createMemoryCacheService, type CacheService } from '../../src/cache/index.js';
import { loadConfig, type Config } from '../../src/config.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { createApp } from '../../src/http/app.js';
import { createPlanRouter } from '../../src/http/routes/plan.js';
import { createPlanService, snapshotFromJson } from '../../src/plan/index.js';
import { createDevTokenRouter } from '../../src/http/routes/dev-token.js';
import { createHealthRouter } from '../../src/http/routes/health.js';
import { createMetricsRouter } from '../../src/http/routes/metrics.js';
import { createProgressRouter } from '../../src/http/routes/progress.js';
import { createTelemetryRouter } from '../../src/http/routes/telemetry.js';
import { createUsersRouter } from '../../src/http/routes/users.js';
import { createLogger } from '../../src/logger.js';
import { createMetricsRegistry } from '../../src/metrics.js';
import { createSqliteStore, type Store } from '../../src/storage/index.js';
import { createMongoStore } from '../../src/storage/mongo/index.js';
import { createMemoryLearnerDocuments, createTelemetryMetrics, createTelemetryService, type ItemValidator, type LearnerDocuments } from '../../src/telemetry/index.js';
import type { MemoryLearnerDocuments } from '../../src/telemetry/memory-documents.js';
import { describeWithService, mongoUriForTests, tempSqliteDir } from './stores.js';

/** A store and how to dispose of it (and its data). */
export interface OpenedStore {
  readonly store: Store;
  dispose(): Promise<void>;
}

export type StoreKind = 'sqlite' | 'mongodb';

export async function openStore(kind: StoreKind): Promise<OpenedStore> {
  if (kind === 'sqlite') {
    const tmp = await tempSqliteDir();
    const store = await createSqliteStore({ dir: tmp.dir });
    return {
      store,
      dispose: async () => {
        await store.close();
        await tmp.remove();
      },
    };
  }
  const uri = mongoUriForTests();
  if (uri === null) throw new Error('MONGODB_URI is not set');
  const store = await createMongoStore({ uri });
  return {
    store,
    dispose: async () => {
      await store.close();
      const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 2000 }).asPromise();
      try {
        await conn.dropDatabase();
      } finally {
        await conn.close();
      }
    },
  };
}

/**
 * Defines `define` once per store: SQLite always, MongoDB (FerretDB) when `MONGODB_URI` is set —
 * skipped with a message otherwise, and a failure with CI=true.
 */
export function describeEachStore(title: string, define: (kind: StoreKind) => void): void {
  describe(`${title} [sqlite]`, () => define('sqlite'));
  describeWithService(
    `${title} [mongodb]`,
    { env: 'MONGODB_URI', value: process.env['MONGODB_URI']?.trim() ? 'mongodb' : null, hint: 'Start FerretDB with `node scripts/test-services.mjs up` and export the printed MONGODB_URI.' },
    () => define('mongodb'),
  );
}

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Parsed JSON body (undefined when the body is not JSON); untyped so assertions can navigate it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
}

export interface RequestOptions {
  readonly token?: string | null;
  /** Serialised as JSON unless a string or Buffer is given. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Gzip the serialised body and send `Content-Encoding: gzip`. */
  readonly gzip?: boolean;
}

export interface ApiHarness {
  readonly baseUrl: string;
  readonly config: Config;
  readonly store: Store;
  readonly documents: LearnerDocuments;
  readonly tokens: TokenService;
  readonly cache: CacheService;
  /** The routers mounted under `/api`, in order (the OpenAPI test walks their routes). */
  readonly apiRouters: readonly Router[];
  token(userId: string, options?: { role?: 'learner' | 'service'; expiresInSeconds?: number }): Promise<string>;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface StartApiOptions {
  readonly store: Store;
  /** Environment overrides (strings, as in `.env`). */
  readonly env?: Record<string, string>;
  readonly documents?: LearnerDocuments;
  readonly cache?: CacheService;
  readonly now?: () => Date;
  readonly validator?: ItemValidator;
}

/**
 * The real Express app (`createApp`) with every `/api` router, on 127.0.0.1 port 0. The
 * health, metrics and dev-token routers are the lead's, mounted as `main.ts` would.
 */
export async function startApi(options: StartApiOptions): Promise<ApiHarness> {
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_SECRET: TEST_SECRET,
    AUTH_MODE: 'dev',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    DATA_DIR: '/nonexistent-data-dir',
    ...options.env,
  });
  const logger = createLogger(config.LOG_LEVEL);
  const tokens = createTokenService(TEST_SECRET);
  const registry = createMetricsRegistry(randomUUID());
  const documents = options.documents ?? createMemoryLearnerDocuments();
  const cache = options.cache ?? createMemoryCacheService();
  const service = createTelemetryService({
    store: options.store,
    documents,
    cache: cache.cache,
    config,
    logger,
    metrics: createTelemetryMetrics(registry),
    ...(options.now ? { now: options.now } : {}),
    ...(options.validator ? { validator: options.validator } : {}),
  });
  const restDeps = { tokens, service, limiter: cache.rateLimiter, config };
  const startedAt = Date.now();
  const apiRouters = [
    createHealthRouter({
      startedAt,
      pingDatabase: () => options.store.ping(),
      cacheState: () => cache.state(),
      schedulerState: () => 'running',
      syncState: () => ({ logBacklog: 0, storeHealthy: true, loadedDocuments: 0, connections: 0 }),
    }),
    createMetricsRouter(registry, tokens),
    ...(config.AUTH_MODE === 'dev' ? [createDevTokenRouter(tokens)] : []),
    createTelemetryRouter(restDeps),
    createProgressRouter(restDeps),
    createUsersRouter(restDeps),
    createPlanRouter({ ...restDeps, plans: createPlanService({ read: async (userId) => snapshotFromJson(await documents.read(userId)), store: options.store, documents, coach: null, logger }) }),
  ];
  const app = createApp({ config, logger, apiRouters });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    baseUrl,
    config,
    store: options.store,
    documents,
    tokens,
    cache,
    apiRouters,
    token: (userId, o = {}) => tokens.sign(userId, o),
    async request(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers['authorization'] = `Bearer ${o.token}`;
      let body: Buffer | string | undefined;
      if (o.body !== undefined) {
        body = typeof o.body === 'string' || Buffer.isBuffer(o.body) ? o.body : JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
        if (o.gzip) {
          body = gzipSync(body);
          headers['content-encoding'] = 'gzip';
        }
      }
      const res = await fetch(baseUrl + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cache.close();
    },
  };
}

/** A store whose every call fails with StoreUnavailableError while `failing` is set (an outage). */
export interface FaultyStore extends Store {
  failing: boolean;
  /** Calls that went through to the real store. */
  readonly calls: number;
  /** Fails every call after `n` more successful ones (an outage starting mid-request). */
  failAfter(n: number): void;
}

export function faultyStore(inner: Store): FaultyStore {
  let remaining = Number.POSITIVE_INFINITY;
  let calls = 0;
  const state = { failing: false };
  const gate = (): void => {
    if (remaining <= 0) state.failing = true;
    if (state.failing) throw new StoreUnavailableError('injected outage');
    remaining -= 1;
    calls += 1;
  };
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, prop, receiver) {
        const value = Reflect.get(obj, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          gate();
          return (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
        };
      },
    });
  // Every sub-store (whatever the port grows to) is wrapped; `ping` fails too, `close` never.
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(inner)) {
    wrapped[key] = value !== null && typeof value === 'object' ? wrap(value as object) : value;
  }
  const faulty = Object.assign(wrapped, {
    ping: async () => {
      if (state.failing) throw new StoreUnavailableError('injected outage');
      await inner.ping();
    },
    close: () => inner.close(),
    failAfter(n: number) {
      remaining = n;
    },
  }) as unknown as FaultyStore;
  Object.defineProperty(faulty, 'failing', {
    get: () => state.failing,
    set: (v: boolean) => {
      state.failing = v;
      if (!v) remaining = Number.POSITIVE_INFINITY;
    },
  });
  Object.defineProperty(faulty, 'calls', { get: () => calls });
  return faulty;
}

/** Seeded PRNG (mulberry32): tests that generate data print the seed and replay exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type MemoryDocs = MemoryLearnerDocuments;
