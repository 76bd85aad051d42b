import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
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

export interface RunningServer {
  /** `http://host:port` as reachable from this machine. */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly tokens: TokenService;
  /** Graceful stop: stop accepting, flush the update log, snapshot dirty documents, close the store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Directory of the built client served at `/`. */
  readonly clientDir?: string;
  /** Use this store instead of creating one from the config (tests wrap stores to inject faults). */
  readonly store?: Store;
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
  const store = options.store ?? (await createStore(config, logger));

  const apiRouters = [
    createHealthRouter({
      startedAt,
      pingDatabase: () => store.ping(),
      cacheState: async () => 'in-process',
      schedulerState: () => (config.ENABLE_SCHEDULED_SYNC ? 'running' : 'disabled'),
      syncState: () => ({ logBacklog: 0, storeHealthy: true, loadedDocuments: 0, connections: 0 }),
    }),
    createMetricsRouter(registry, tokens),
    ...(config.AUTH_MODE === 'dev' ? [createDevTokenRouter(tokens)] : []),
  ];
  const app = createApp({ config, logger, apiRouters, ...(options.clientDir ? { clientDir: options.clientDir } : {}) });
  const server: Server = createServer(app);

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
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.close();
    })();
    return stopping;
  };
  return { url, port, store, tokens, stop };
}
