/**
 * The sync service: owns the update log, the loaded documents, the WebSocket endpoint and the
 * fan-out, and offers the REST side a document service. `startServer` (server.ts) wires it.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { TokenService } from '../auth/tokens.js';
import { maxPendingUpdates, type Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/ports.js';
import { createLocalFanout, type Fanout } from '../fanout/ports.js';
import { createRedisFanout } from '../fanout/redis-streams.js';
import type { RedisTarget } from '../redis/connection.js';
import { CloseCode } from '../protocol/close-codes.js';
import { createSyncEndpoint, syncLimitsFromConfig, type SyncLimits } from './endpoint.js';
import { createDocumentService, type DocumentService } from '../docs/document-service.js';
import { createDocumentManager } from '../docs/manager.js';
import { createSyncMetrics } from '../docs/metrics.js';
import { runSnapshots, type SnapshotJobDeps, type SnapshotRunResult } from '../docs/snapshots.js';
import { createUpdateLog } from '../docs/update-log.js';

/**
 * Fan-out flushes at most this often while edits stream in (ms): at 50 recipients, one socket
 * write per recipient per flush is most of the server's CPU, so updates that arrive within this
 * window after a flush go out together. Edits at typing speed (tens of ms apart) never wait.
 */
export const DEFAULT_TURN_INTERVAL_MS = 2;

export type SyncConfig = Pick<
  Config,
  'UPDATE_FLUSH_MS' | 'MAX_RETRIES' | 'RETRY_DELAY_MS' | 'MAX_QUEUE_SIZE' | 'SYNC_MAX_MESSAGE_BYTES' | 'SYNC_DEFLATE_MIN_BYTES' | 'SYNC_BATCH_SIZE' | 'SYNC_INTERVAL_MINUTES'
> &
  Partial<Pick<Config, 'SYNC_MESSAGES_PER_SECOND' | 'SYNC_BURST' | 'SYNC_MAX_BUFFERED_BYTES' | 'SYNC_MAX_AWARENESS_BYTES' | 'SYNC_MAX_AWARENESS_STATES' | 'SYNC_MAX_DOCUMENT_BYTES' | 'SYNC_MAX_DOCUMENTS_PER_LEARNER' | 'SYNC_MAX_SOCKETS_PER_LEARNER' | 'SYNC_WRITE_BYTES_PER_SECOND' | 'SYNC_WRITE_BURST_BYTES'>>;

export interface SyncServiceDeps {
  readonly config: SyncConfig;
  readonly logger: Logger;
  readonly store: Store;
  readonly tokens: TokenService;
  /** True when a learner's token predates that learner's erasure: the socket is accepted and closed with 4410. */
  readonly issuedBeforeErasure?: (userId: string, issuedAt: number) => Promise<boolean>;
  /** Metrics are registered here (the app's registry, never prom-client's global one). */
  readonly registry: Registry;
  /** Set: instances share updates and awareness through Redis Streams (one per document). Null: one instance. */
  readonly redis?: { readonly target: RedisTarget; readonly keyPrefix?: string } | null;
  /** Unique per process (fan-out self-filtering, snapshot lease owner). */
  readonly instanceId: string;
  /** Told every change of a loaded document (read caches drop their entry). */
  readonly onDocumentChanged?: (docName: string) => void;
  /** Tuning that is not in the environment (tests, benchmarks). */
  readonly options?: {
    /** Idle time before a document without peers is unloaded, ms. Default 2 000. */
    readonly unloadGraceMs?: number;
    readonly limits?: Partial<SyncLimits>;
    /** Budget of {@link SyncService.stop}, ms. Default 5 000. */
    readonly stopTimeoutMs?: number;
    /** Least time between two fan-out flushes while edits stream in, ms. Default {@link DEFAULT_TURN_INTERVAL_MS}. */
    readonly turnIntervalMs?: number;
  };
}

export interface SyncServiceStatus {
  readonly loadedDocuments: number;
  readonly connections: number;
  /** Bytes queued for sockets (slow readers), bounded by `SYNC_MAX_BUFFERED_BYTES` per socket. */
  readonly sendQueueBytes: number;
  /** Update-log records not yet durable. */
  readonly logBacklog: number;
  /** False while log writes fail (health: degraded). */
  readonly storeHealthy: boolean;
  readonly lastStoreError: string | null;
}

export interface SyncService {
  readonly documents: DocumentService;
  /** `server.on('upgrade', sync.handleUpgrade)`: `/sync/<docName>`, everything else 404. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  status(): SyncServiceStatus;
  /** One compaction run (the `snapshots` job of the scheduler). */
  runSnapshots(): Promise<SnapshotRunResult>;
  start(): Promise<void>;
  /** Closes sockets (1001), drains the log, snapshots dirty documents, within `stopTimeoutMs`. */
  stop(): Promise<void>;
}

export function createSyncService(deps: SyncServiceDeps): SyncService {
  const { config, logger: parentLogger, store, tokens, registry, instanceId } = deps;
  const logger = parentLogger.child({ component: 'sync' });
  const metrics = createSyncMetrics(registry);
  const log = createUpdateLog({
    store: store.documents,
    logger,
    flushMs: config.UPDATE_FLUSH_MS,
    maxRetries: config.MAX_RETRIES,
    retryDelayMs: config.RETRY_DELAY_MS,
    maxPendingRecords: maxPendingUpdates(config),
    metrics: metrics.log,
  });
  const fanout: Fanout = deps.redis
    ? createRedisFanout({ target: deps.redis.target, instanceId, logger, ...(deps.redis.keyPrefix ? { keyPrefix: deps.redis.keyPrefix } : {}) })
    : createLocalFanout();
  const limits: SyncLimits = { ...syncLimitsFromConfig(config), ...deps.options?.limits };
  const manager = createDocumentManager({
    store: store.documents,
    log,
    fanout,
    logger,
    metrics,
    unloadGraceMs: deps.options?.unloadGraceMs ?? 2_000,
    turnIntervalMs: deps.options?.turnIntervalMs ?? DEFAULT_TURN_INTERVAL_MS,
    maxDocumentBytes: limits.maxDocumentBytes,
    ...(deps.onDocumentChanged ? { onChanged: deps.onDocumentChanged } : {}),
  });
  const endpoint = createSyncEndpoint({
    tokens,
    documents: manager,
    logger,
    metrics,
    limits,
    wouldExceedDocuments: async (userId, docName) => {
      // Documents that exist (stored, or loaded here) are always allowed; only a new one counts.
      if (manager.get(docName)) return false;
      const names = new Set(await store.documents.listUserDocuments(userId));
      if (names.has(docName)) return false;
      for (const name of manager.loadedNames()) if (name.startsWith(`${userId}/`)) names.add(name);
      let count = 0;
      for (const name of names) if (name.startsWith(`${userId}/`)) count += 1;
      return count >= limits.maxDocumentsPerLearner;
    },
    ...(deps.issuedBeforeErasure ? { issuedBeforeErasure: deps.issuedBeforeErasure } : {}),
  });
  const documents = createDocumentService({ manager, log, store: store.documents });
  const jobDeps: SnapshotJobDeps = {
    store,
    logger,
    config,
    instanceId,
    metrics,
    loadedDocument: (name) => manager.get(name)?.doc,
    compacted: (name, bytes) => manager.get(name)?.compactedTo(bytes),
  };
  let stopping: Promise<void> | null = null;

  return {
    documents,
    handleUpgrade: (req, socket, head) => endpoint.handleUpgrade(req, socket, head),
    status() {
      const s = log.status();
      return {
        loadedDocuments: manager.loadedCount,
        connections: endpoint.connections,
        sendQueueBytes: endpoint.queuedBytes(),
        logBacklog: s.backlog,
        storeHealthy: s.healthy,
        lastStoreError: s.lastError,
      };
    },
    runSnapshots: () => runSnapshots(jobDeps),
    async start() {
      await fanout.start({
        onMessage: (message) => manager.onRemote(message),
        onGap: () => void manager.resyncFromStore(),
      });
    },
    stop() {
      stopping ??= (async () => {
        const deadline = Date.now() + (deps.options?.stopTimeoutMs ?? 5_000);
        const left = (): number => Math.max(0, deadline - Date.now());
        // Closing the sockets starts every document's unload grace; a slow drain would outlast it.
        manager.keepLoaded();
        await endpoint.close(CloseCode.GOING_AWAY, 'server shutting down', Math.min(1_000, left()));
        const drained = await log.drain(Math.min(left(), Math.max(500, left() - 1_000)));
        if (!drained) logger.error({ backlog: log.status().backlog }, 'sync: stopping with updates not in the store; clients still hold them and re-sync on reconnect');
        else await manager.snapshotDirty(deadline);
        await fanout.stop().catch((error: unknown) => logger.warn({ err: error }, 'sync: stopping the fan-out failed'));
        manager.stop();
        log.close();
      })();
      return stopping;
    },
  };
}
