import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Router } from 'express';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createTokenService, loadOrCreateDevSecret, type TokenService } from './auth/tokens.js';
import { createApp } from './http/app.js';
import { createDevTokenRouter } from './http/routes/dev-token.js';
import { createHealthRouter } from './http/routes/health.js';
import { createMetricsRouter } from './http/routes/metrics.js';
import type { Logger } from './logger.js';
import { createMetricsRegistry } from './metrics.js';
import { createStore } from './storage/index.js';
import type { Store } from './storage/ports.js';
import { createCacheService, type CacheService } from './cache/index.js';
import { createSyncService, type SyncService } from './docs/sync-service.js';
import type { DocumentService } from './docs/document-service.js';
import { createProgressRouter } from './http/routes/progress.js';
import { createTelemetryRouter } from './http/routes/telemetry.js';
import { createUsersRouter } from './http/routes/users.js';
import { createPlanRouter } from './http/routes/plan.js';
import { createPlanWiring } from './plan/index.js';
import { createTelemetryMetrics, createTelemetryService, scheduleTelemetryJobs, type LearnerDocuments } from './telemetry/index.js';
import { createSecurityLayer, type SecurityLayer } from './security/index.js';

export interface RunningServer {
  /** `http://host:port` as reachable from this machine. */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly tokens: TokenService;
  readonly sync: SyncService;
  /** The routers mounted under `/api`, in order (the OpenAPI test compares them with docs/openapi.yaml). */
  readonly apiRouters: readonly Router[];
  /** Graceful stop: stop accepting, flush the update log, snapshot dirty documents, close the store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Directory of the built client served at `/`. */
  readonly clientDir?: string;
  /** Use this store instead of creating one from the config (tests wrap stores to inject faults). */
  readonly store?: Store;
  /** Use this cache and rate limiter instead of the one the config selects. */
  readonly cache?: CacheService;
  /** Injectable clock for the telemetry use-cases and jobs (tests). */
  readonly now?: () => Date;
  /** Tuning of the sync service that is not in the environment contract (tests, benchmarks). */
  readonly syncOptions?: Parameters<typeof createSyncService>[0]['options'];
  /** Write window of buffered audit entries (`document.update`, `event.ingest`), ms (tests shorten it). Default 1000. */
  readonly auditWindowMs?: number;
}

/** The REST side's view of the learner documents: the sync service's live documents. */
function learnerDocumentsOf(documents: DocumentService): LearnerDocuments {
  return {
    read: async (userId) => ({ userId, ...(await documents.readLearner(userId)) }),
    apply: (userId, author, fn) => documents.change(userId, author, fn),
    evict: (docName) => documents.erase(docName),
    // Also loaded `<userId>/<name>` documents whose updates are not in the store yet.
    evictAll: (userId) => documents.eraseUser(userId),
  };
}

/**
 * The composition root: config → store → services → HTTP + WebSocket entry points → jobs.
 * `main.ts` calls it with the process environment; tests call it with port 0.
 */
export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const instanceId = randomUUID();
  const startedAt = Date.now();
  const secret = config.JWT_SECRET ?? loadOrCreateDevSecret(config.DATA_DIR);
  const tokens = createTokenService(secret);
  const registry = createMetricsRegistry(instanceId);
  const baseStore = options.store ?? (await createStore(config, logger));
  // Issue 8 (encryption, audit, signed batches) wraps the store in decorators; every service
  // below sees only the wrapped store.
  let security: SecurityLayer;
  try {
    security = await createSecurityLayer({
      config,
      logger,
      store: baseStore,
      pseudonymSecret: secret,
      registry,
      instanceId,
      ...(options.now ? { now: options.now } : {}),
      ...(options.auditWindowMs !== undefined ? { documentAuditWindowMs: options.auditWindowMs } : {}),
    });
  } catch (error) {
    if (!options.store) await baseStore.close().catch(() => undefined);
    throw error;
  }
  const store = security.store;
  const cache = options.cache ?? createCacheService(config, logger);
  const now = options.now;

  const sync = createSyncService({
    config,
    logger,
    store,
    tokens,
    registry,
    redis: config.REDIS_URL ? { url: config.REDIS_URL } : null,
    instanceId,
    ...(options.syncOptions ? { options: options.syncOptions } : {}),
  });
  await sync.start();
  const documents = learnerDocumentsOf(sync.documents);
  const plans = createPlanWiring({ config, logger, store, documents, liveDocuments: sync.documents, limiter: cache.rateLimiter, ...(now ? { now } : {}) });
  const telemetry = plans.observe(createTelemetryService({
    store,
    documents,
    cache: cache.cache,
    config,
    logger,
    metrics: createTelemetryMetrics(registry),
    ...(now ? { now } : {}),
  }));
  const snapshots = config.ENABLE_SCHEDULED_SYNC ? sync.scheduleSnapshots() : null;
  const jobs = scheduleTelemetryJobs({ store, documents, cache: cache.cache, config, logger, instanceId, ...(now ? { now } : {}) });

  const restDeps = { tokens, service: telemetry, limiter: cache.rateLimiter, config };
  const apiRouters = [
    createHealthRouter({
      startedAt,
      pingDatabase: () => store.ping(),
      cacheState: () => cache.state(),
      schedulerState: () => jobs.state(),
      syncState: () => {
        const s = sync.status();
        return { logBacklog: s.logBacklog, storeHealthy: s.storeHealthy, loadedDocuments: s.loadedDocuments, connections: s.connections };
      },
    }),
    createMetricsRouter(registry, tokens),
    ...(config.AUTH_MODE === 'dev' ? [createDevTokenRouter(tokens)] : []),
    ...security.routersBefore(),
    createTelemetryRouter(restDeps),
    createProgressRouter(restDeps),
    createUsersRouter(restDeps),
    createPlanRouter({ ...restDeps, plans }),
    security.auditRouter(tokens),
  ];
  const app = createApp({ config, logger, apiRouters, ...(options.clientDir ? { clientDir: options.clientDir } : {}) });
  const server: Server = createServer(app);
  server.on('upgrade', (req, socket, head) => sync.handleUpgrade(req, socket, head));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
  const url = `http://${host}:${port}`;

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Stop accepting first, then drain: sockets close, the log is flushed, dirty documents
      // are snapshotted, and only then does the store close.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      jobs.stop();
      await plans.idle();
      await snapshots?.stop();
      await sync.stop();
      // After the update log's last flush, so its document.update audit entries are written.
      await security.stop();
      server.closeAllConnections();
      await closed;
      await cache.close();
      await store.close();
    })();
    return stopping;
  };
  return { url, port, store, tokens, sync, apiRouters, stop };
}
