/**
 * The composition root: config → store → security decorators → services → jobs → HTTP and
 * WebSocket entry points. `main.ts`, every test helper and every benchmark start the server
 * through {@link startServer}; overrides replace a part for a test or a benchmark, never the
 * wiring itself.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import type { Registry } from 'prom-client';
import { runAuditRetention, AUDIT_RETENTION_LEASE_MS } from './audit/retention.js';
import { createConfiguredTokenService, loadOrCreateDevSecret, type TokenService } from './auth/index.js';
import { createCacheService, type CacheService } from './cache/index.js';
import type { Config } from './config.js';
import { asUserId, learnerDocName, type UserId } from './ids.js';
import type { DocumentService } from './docs/document-service.js';
import { createApp } from './http/app.js';
import { refusingErasedLearners } from './http/auth.js';
import { applyConnectionLimits, connectionsCheckingIntervalMs } from './http/connections.js';
import { createAuditRouter, createSecurityRoutersBefore } from './http/routes/audit.js';
import { createDevTokenRouter } from './http/routes/dev-token.js';
import { createHealthRouter } from './http/routes/health.js';
import { createMetricsRouter } from './http/routes/metrics.js';
import { createProgressRouter } from './http/routes/progress.js';
import { createTelemetryRouter } from './http/routes/telemetry.js';
import { createUsersRouter } from './http/routes/users.js';
import { createPlanRouter } from './http/routes/plan.js';
import { createScheduler, everyMinutes, everySeconds, type Scheduler } from './jobs/scheduler.js';
import { createLogger, type Logger } from './logger.js';
import { createMetricsRegistry, createOperationMetrics } from './metrics.js';
import { createPlanWiring, snapshotFromJson, snapshotOf, type LearnerSnapshot } from './plan/index.js';
import { createSecurityLayer, type SecurityLayer } from './security/index.js';
import { backupToRepository } from './backup/repository.js';
import { createStore, openMongoBackupRepository } from './storage/index.js';
import type { Store } from './storage/ports.js';
import { timedStore } from './storage/timed.js';
import {
  INSIGHTS_LEASE_MS,
  RETENTION_LEASE_MS,
  SYNC_QUEUE_LEASE_MS,
  createDocumentChangeInvalidator,
  createInlineValidator,
  createLearnerDataService,
  createTelemetryMetrics,
  createWorkerValidator,
  runInsightsJob,
  runRetentionJob,
  runSyncQueueJob,
  type ItemValidator,
  type LearnerDataService,
  type LearnerDocuments,
  type TelemetryJobDeps,
} from './telemetry/index.js';
import type { SyncLimits } from './ws/endpoint.js';
import { createSyncService, type SyncService } from './ws/sync-service.js';
import { redisTargetOf } from './redis/connection.js';

/** Sync tuning that is not in the environment (tests, benchmarks). */
export interface SyncTuning {
  /** Idle time before a document without peers is unloaded, ms. Default 2 000. */
  readonly unloadGraceMs?: number;
  readonly limits?: Partial<SyncLimits>;
  /** Budget of the sync service's stop, ms. Default 5 000. */
  readonly stopTimeoutMs?: number;
  /** Least time between two fan-out flushes while edits stream in, ms (sync-service.ts: DEFAULT_TURN_INTERVAL_MS). */
  readonly turnIntervalMs?: number;
  /** Prefix of the fan-out's Redis keys (tests and benchmarks isolate deployments sharing one Redis). */
  readonly redisKeyPrefix?: string;
}

/** Parts a test or a benchmark replaces; everything else is what `npm start` runs. */
export interface ServerOverrides {
  /** Default: pino at `LOG_LEVEL`. */
  readonly logger?: Logger;
  /** Directory of the built client served at `/`. */
  readonly clientDir?: string;
  /**
   * This store instead of the one the config selects (tests wrap stores to inject faults). The
   * caller owns it: {@link RunningServer.stop} does not close it.
   */
  readonly store?: Store;
  /** This cache and rate limiter instead of the one the config selects. */
  readonly cache?: CacheService;
  /** Injectable clock for the telemetry use cases, the audit and the jobs. */
  readonly now?: () => Date;
  readonly sync?: SyncTuning;
  /** Write window of buffered audit entries (`document.update`, `event.ingest`), ms (tests shorten it). Default 1000. */
  readonly auditWindowMs?: number;
  /** The REST side's learner documents instead of the sync service's (API tests observe merges in a fake). */
  readonly learnerDocuments?: LearnerDocuments;
  /** This item validator instead of the one `VALIDATION_THREADS` selects (tests pass a failing worker). The caller closes it. */
  readonly validator?: ItemValidator;
  /** False: jobs are registered and reported but run only through `jobs.runNow` (tests). Default true. */
  readonly runJobs?: boolean;
}

export interface RunningServer {
  /** `http://host:port` as reachable from this machine. */
  readonly url: string;
  readonly port: number;
  readonly config: Config;
  /** The store every service uses (with the security decorators). */
  readonly store: Store;
  readonly tokens: TokenService;
  readonly cache: CacheService;
  readonly registry: Registry;
  readonly sync: SyncService;
  /** What the REST routes serve: telemetry, progress, export and erasure. */
  readonly learnerData: LearnerDataService;
  /** The REST side's view of the learner documents. */
  readonly learnerDocuments: LearnerDocuments;
  /** Every scheduled job (also reported by `GET /api/health`). */
  readonly jobs: Scheduler;
  /** The routers mounted under `/api`, in order (the OpenAPI test compares them with docs/openapi.yaml). */
  readonly apiRouters: readonly Router[];
  /** Graceful stop: stop accepting, stop the jobs, flush the update log, snapshot dirty documents, close what was opened here. */
  stop(): Promise<void>;
}

/** The REST side's view of the learner documents: the sync service's live documents. */
function learnerDocumentsOf(documents: DocumentService): LearnerDocuments {
  return {
    read: async (userId) => ({ userId, ...(await documents.readLearner(userId)) }),
    apply: (userId, author, fn) => documents.change(learnerDocName(userId), author, fn),
    wouldExceed: (userId, bytes) => documents.wouldExceed(learnerDocName(userId), bytes),
    eraseAll: (userId) => documents.eraseUser(userId),
  };
}

/**
 * How the plan reads a learner: the live document in place (no JSON of a year's facts), or, when a
 * test replaces the learner documents, through that replacement.
 */
function planReader(sync: SyncService, overrides: ServerOverrides): (userId: UserId) => Promise<LearnerSnapshot> {
  const replaced = overrides.learnerDocuments;
  if (replaced) return async (userId) => snapshotFromJson(await replaced.read(userId));
  return (userId) => sync.documents.read(learnerDocName(userId), snapshotOf);
}

/** Registers every job of the server; `ENABLE_SCHEDULED_SYNC=false` leaves only the sync-queue retries scheduled. */
function registerJobs(
  jobs: Scheduler,
  config: Config,
  sync: SyncService,
  telemetry: TelemetryJobDeps,
  audit: () => Promise<unknown>,
  backup: (() => Promise<void>) | null,
): void {
  const scheduled = config.ENABLE_SCHEDULED_SYNC;
  jobs.register({
    name: 'snapshots',
    timing: { everyMs: config.SYNC_INTERVAL_MINUTES * 60_000 },
    // Each document is compacted under its own lease; instances share the work of one run.
    leaseMs: null,
    enabled: scheduled,
    run: async () => void (await sync.runSnapshots()),
  });
  jobs.register({
    name: 'sync-queue',
    timing: { cron: everySeconds(config.RETRY_DELAY_MS / 1000) },
    leaseMs: SYNC_QUEUE_LEASE_MS,
    // Always: acknowledged progress and assessment items depend on it after a failed merge.
    enabled: true,
    run: () => runSyncQueueJob(telemetry),
  });
  jobs.register({
    name: 'insights',
    timing: { cron: everyMinutes(config.SYNC_INTERVAL_MINUTES) },
    leaseMs: INSIGHTS_LEASE_MS,
    enabled: scheduled,
    run: () => runInsightsJob(telemetry),
  });
  jobs.register({ name: 'retention', timing: { cron: '30 3 * * *' }, leaseMs: RETENTION_LEASE_MS, enabled: scheduled, run: () => runRetentionJob(telemetry) });
  // After the telemetry retention at 03:30.
  jobs.register({ name: 'audit-retention', timing: { cron: '45 3 * * *' }, leaseMs: AUDIT_RETENTION_LEASE_MS, enabled: scheduled, run: async () => void (await audit()) });
  if (backup) jobs.register({ name: 'backup', timing: { cron: BACKUP_CRON }, leaseMs: BACKUP_LEASE_MS, enabled: scheduled, run: backup });
}

/** The daily backup into MONGODB_BACKUP_URI: 02:15, before the retention jobs delete anything. */
const BACKUP_CRON = '15 2 * * *';
/** Longer than a backup of a large store takes; another instance takes over after a crash. */
const BACKUP_LEASE_MS = 2 * 60 * 60 * 1000;

/**
 * One backup run: the backup database is opened for the run and closed after it, so the server
 * starts and serves while it is down (the job's error shows in /api/health). It reads the
 * adapter's records as stored (ciphertext stays ciphertext).
 */
function backupJob(uri: string, store: Store, logger: Logger, now: (() => Date) | undefined): () => Promise<void> {
  return async () => {
    const repo = await openMongoBackupRepository(uri);
    try {
      const result = await backupToRepository(store, repo, now ? { now } : {});
      logger.info({ job: 'backup', id: result.id, counts: result.counts, removed: result.removed.length }, 'backup written to MONGODB_BACKUP_URI');
    } finally {
      await repo.close();
    }
  };
}

/**
 * Starts the whole server on `config.PORT` (0: any free port). Rejects with `ConfigError` when a
 * start-up check that needs the store fails (stored ciphertext under an unknown key).
 */
export async function startServer(config: Config, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL);
  const instanceId = randomUUID();
  const startedAt = Date.now();
  const now = overrides.now;
  const secret = config.JWT_SECRET ?? loadOrCreateDevSecret(config.DATA_DIR);
  const tokens = createConfiguredTokenService(config, secret, logger);
  const registry = createMetricsRegistry(instanceId);
  const operations = createOperationMetrics(registry);
  const baseStore = overrides.store ?? (await createStore(config, logger));
  const closeOwnStore = async (): Promise<void> => {
    if (!overrides.store) await baseStore.close();
  };
  // Encryption, audit and signed batches wrap the store; every service below sees only the wrapped store.
  let security: SecurityLayer;
  try {
    security = await createSecurityLayer({
      config,
      logger,
      // Timed directly on the adapter: database latency, not encryption or audit.
      store: timedStore(baseStore, operations.storeOperation),
      pseudonymSecret: secret,
      registry,
      ...(now ? { now } : {}),
      ...(overrides.auditWindowMs !== undefined ? { auditWindowMs: overrides.auditWindowMs } : {}),
    });
  } catch (error) {
    await closeOwnStore().catch(() => undefined);
    throw error;
  }
  const store = security.store;
  const cache = overrides.cache ?? createCacheService(config, logger);
  const tuning = overrides.sync ?? {};
  // The learner document `<userId>` is what GET /progress shows; `<userId>/<name>` documents are not in it.
  const progressChanged = createDocumentChangeInvalidator(cache.cache);

  const redisTarget = redisTargetOf(config);
  const sync = createSyncService({
    config,
    logger,
    store,
    tokens,
    issuedBeforeErasure: (userId, issuedAt) => security.erasures.issuedBeforeErasure(userId, issuedAt),
    registry,
    redis: redisTarget ? { target: redisTarget, ...(tuning.redisKeyPrefix ? { keyPrefix: tuning.redisKeyPrefix } : {}) } : null,
    instanceId,
    onDocumentChanged: (docName) => {
      if (!docName.includes('/')) progressChanged(asUserId(docName));
    },
    options: {
      ...(tuning.unloadGraceMs !== undefined ? { unloadGraceMs: tuning.unloadGraceMs } : {}),
      ...(tuning.limits ? { limits: tuning.limits } : {}),
      ...(tuning.stopTimeoutMs !== undefined ? { stopTimeoutMs: tuning.stopTimeoutMs } : {}),
      ...(tuning.turnIntervalMs !== undefined ? { turnIntervalMs: tuning.turnIntervalMs } : {}),
    },
  });
  await sync.start();
  const learnerDocuments = overrides.learnerDocuments ?? learnerDocumentsOf(sync.documents);
  const validator =
    overrides.validator ?? (config.VALIDATION_THREADS > 0 ? createWorkerValidator({ logger, threads: config.VALIDATION_THREADS }) : createInlineValidator());
  const telemetryMetrics = createTelemetryMetrics(registry);
  const plans = createPlanWiring({ config, logger, store, documents: learnerDocuments, read: planReader(sync, overrides), limiter: cache.rateLimiter, ...(now ? { now } : {}) });
  const learnerData = plans.observe(createLearnerDataService({
    store,
    documents: learnerDocuments,
    cache: cache.cache,
    config,
    logger,
    metrics: telemetryMetrics,
    validator,
    ...(now ? { now } : {}),
  }));

  const jobs = createScheduler({ leases: store.leases, instanceId, logger, observeRun: operations.jobRun });
  registerJobs(jobs, config, sync, { store, documents: learnerDocuments, cache: cache.cache, config, logger, metrics: telemetryMetrics, ...(now ? { now } : {}) }, () =>
    runAuditRetention({ store, days: config.AUDIT_RETENTION_DAYS, logger, ...(now ? { now } : {}) }),
    config.MONGODB_BACKUP_URI ? backupJob(config.MONGODB_BACKUP_URI, baseStore, logger, now) : null,
  );
  if (overrides.runJobs !== false) jobs.start();

  // REST refuses a learner token issued before that learner's erasure (410).
  const restTokens = refusingErasedLearners(tokens, (userId, issuedAt) => security.erasures.issuedBeforeErasure(userId, issuedAt));
  const restDeps = { tokens: restTokens, service: learnerData, limiter: cache.rateLimiter, config };
  const apiRouters = [
    createHealthRouter({
      startedAt,
      pingDatabase: () => store.ping(),
      cacheState: () => cache.state(),
      schedulerState: () => {
        const state = jobs.state();
        // Only the sync-queue retries run without ENABLE_SCHEDULED_SYNC: report the schedule as disabled.
        return state === 'running' && !config.ENABLE_SCHEDULED_SYNC ? 'disabled' : state;
      },
      jobs: () => jobs.jobs(),
      syncState: () => {
        const s = sync.status();
        return { logBacklog: s.logBacklog, storeHealthy: s.storeHealthy, loadedDocuments: s.loadedDocuments, connections: s.connections };
      },
    }),
    createMetricsRouter(registry, tokens),
    ...(config.AUTH_MODE === 'dev' ? [createDevTokenRouter(tokens)] : []),
    ...createSecurityRoutersBefore(security, {
      tokens,
      logger,
      now: now ?? (() => new Date()),
      retryAfterSeconds: Math.max(1, Math.ceil(config.RETRY_DELAY_MS / 1000)),
    }),
    createTelemetryRouter(restDeps, (learnerOf) => security.verifyBatchSignature(learnerOf)),
    createProgressRouter(restDeps),
    createUsersRouter(restDeps),
    createPlanRouter({ ...restDeps, plans }),
    createAuditRouter({ tokens, audit: security.audit, documents: security.documents }),
  ];
  const app = createApp({ config, logger, apiRouters, observeRequest: operations.httpRequest, ...(overrides.clientDir ? { clientDir: overrides.clientDir } : {}) });
  const server: Server = createServer({ connectionsCheckingInterval: connectionsCheckingIntervalMs(config) }, app);
  applyConnectionLimits(server, config);
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
      // Stop accepting first, then drain: jobs stop, sockets close, the log is flushed, dirty
      // documents are snapshotted, and only then does the store close.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await jobs.stop();
      await plans.idle();
      await sync.stop();
      // After the update log's last flush, so its document.update audit entries are written.
      await security.stop();
      server.closeAllConnections();
      await closed;
      if (!overrides.validator) await validator.close();
      if (!overrides.cache) await cache.close();
      await closeOwnStore();
    })();
    return stopping;
  };
  return { url, port, config, store, tokens, cache, registry, sync, learnerData, learnerDocuments, jobs, apiRouters, stop };
}
