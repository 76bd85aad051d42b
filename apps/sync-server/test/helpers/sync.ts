/**
 * Test helpers of the sync suites: a real HTTP server on port 0 with `createSyncService` and the
 * real TokenService, real stores (SQLite always, MongoDB/FerretDB when `MONGODB_URI` is set),
 * stock y-websocket clients in Node, and a store wrapper that injects outages.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import type { TokenService } from '../../src/auth/tokens.js';
import { createMemoryCacheService } from '../../src/cache/index.js';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer, type SyncTuning } from '../../src/server.js';
import type { SyncConfig, SyncService } from '../../src/ws/sync-service.js';
import type { RedisTarget } from '../../src/redis/connection.js';
import { StoreUnavailableError } from '../../src/storage/errors.js';
import { createMongoStore, createSqliteStore } from '../../src/storage/index.js';
import type { DocumentStore, Store } from '../../src/storage/ports.js';
import { afterAll, beforeAll } from 'vitest';
import { mongoUriForTests, tempSqliteDir } from './stores.js';

export const TEST_SECRET = 'test-secret-of-at-least-thirty-two-characters';

export const testSyncConfig: SyncConfig = {
  UPDATE_FLUSH_MS: 20,
  MAX_RETRIES: 2,
  RETRY_DELAY_MS: 50,
  MAX_QUEUE_SIZE: 1000,
  SYNC_MAX_MESSAGE_BYTES: 64 * 1024,
  SYNC_DEFLATE_MIN_BYTES: 16 * 1024,
  SYNC_BATCH_SIZE: 100,
  SYNC_INTERVAL_MINUTES: 5,
};

export const silentLogger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** A store backend the suites run on, opened fresh (and reopenable on the same data). */
export interface StoreBackend {
  readonly name: 'sqlite' | 'mongodb';
  /** Opens a store on this backend's data (same data every call). */
  open(): Promise<Store>;
  /** Env for a child server process using the same data. */
  readonly env: Record<string, string>;
  remove(): Promise<void>;
}

export async function sqliteBackend(): Promise<StoreBackend> {
  const tmp = await tempSqliteDir();
  return { name: 'sqlite', open: () => createSqliteStore({ dir: tmp.dir }), env: { DATA_DIR: tmp.dir }, remove: tmp.remove };
}

export function mongoBackend(uri: string): StoreBackend {
  return { name: 'mongodb', open: () => createMongoStore({ uri }), env: { MONGODB_URI: uri }, remove: async () => undefined };
}

/** SQLite always; MongoDB too when `MONGODB_URI` is set (each call gets a fresh database). */
export function backendFactories(): Array<{ name: 'sqlite' | 'mongodb'; create(): Promise<StoreBackend> }> {
  const list: Array<{ name: 'sqlite' | 'mongodb'; create(): Promise<StoreBackend> }> = [{ name: 'sqlite', create: sqliteBackend }];
  if (mongoUriForTests() !== null) list.push({ name: 'mongodb', create: async () => mongoBackend(mongoUriForTests() as string) });
  else if (process.env['CI'] === 'true') throw new Error('MONGODB_URI is required with CI=true (node scripts/test-services.mjs up)');
  return list;
}

/**
 * Wraps a real store; while `failing` is true every document write (append, compact) and load
 * throws StoreUnavailableError, as an adapter does when its database is down.
 */
export function faultyStore(inner: Store): Store & { failing: boolean; appendCalls: number } {
  const state = { failing: false, appendCalls: 0 };
  const guard = (): void => {
    if (state.failing) throw new StoreUnavailableError('injected outage');
  };
  const documents: DocumentStore = {
    ...inner.documents,
    appendUpdates: async (records) => {
      state.appendCalls += 1;
      guard();
      return inner.documents.appendUpdates(records);
    },
    loadDocument: async (name) => (guard(), inner.documents.loadDocument(name)),
    compact: async (name, s, ids) => (guard(), inner.documents.compact(name, s, ids)),
    listDocumentsWithLog: (limit) => inner.documents.listDocumentsWithLog(limit),
    listUserDocuments: (userId) => inner.documents.listUserDocuments(userId),
    listUpdates: (name, limit) => inner.documents.listUpdates(name, limit),
    deleteDocument: (name) => inner.documents.deleteDocument(name),
  };
  // Every other part of the store is the real one (the port may grow; spread keeps up with it).
  const wrapper = { ...inner, documents };
  Object.defineProperties(wrapper, {
    failing: { get: () => state.failing, set: (value: boolean) => void (state.failing = value), enumerable: true },
    appendCalls: { get: () => state.appendCalls, enumerable: true },
  });
  return wrapper as Store & { failing: boolean; appendCalls: number };
}

export interface SyncTestServer {
  /** `ws://127.0.0.1:<port>/sync` (the y-websocket `serverUrl`). */
  readonly syncUrl: string;
  readonly port: number;
  readonly service: SyncService;
  readonly tokens: TokenService;
  readonly registry: Registry;
  /** The whole server (`startServer`), e.g. for its jobs. */
  readonly running: RunningServer;
  /** Stops the server (not the store: the caller owns it). */
  stop(): Promise<void>;
}

/**
 * The real server (`startServer`) on 127.0.0.1 over `store`, with the sync settings of
 * {@link testSyncConfig} and the jobs registered but not scheduled (tests run them explicitly).
 */
export async function startSyncServer(
  store: Store,
  overrides: { config?: Partial<SyncConfig>; redis?: { readonly target: RedisTarget; readonly keyPrefix?: string } | null; options?: SyncTuning; port?: number } = {},
): Promise<SyncTestServer> {
  const sync = { ...testSyncConfig, ...overrides.config };
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: String(overrides.port ?? 0),
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    DATA_DIR: '/nonexistent-data-dir',
  };
  for (const [key, value] of Object.entries(sync)) env[key] = String(value);
  const redis = overrides.redis?.target;
  if (redis?.kind === 'single') env['REDIS_URL'] = redis.url;
  if (redis?.kind === 'cluster') env['REDIS_CLUSTER_NODES'] = redis.nodes.join(',');
  const cache = createMemoryCacheService();
  const running = await startServer(loadConfig(env), {
    logger: silentLogger,
    store,
    cache,
    runJobs: false,
    sync: { unloadGraceMs: 50, ...overrides.options, ...(overrides.redis?.keyPrefix ? { redisKeyPrefix: overrides.redis.keyPrefix } : {}) },
  });
  return {
    syncUrl: `ws://127.0.0.1:${running.port}/sync`,
    port: running.port,
    service: running.sync,
    tokens: running.tokens,
    registry: running.registry,
    running,
    async stop() {
      await running.stop();
      await cache.close();
    },
  };
}

export interface TestClient {
  readonly doc: Y.Doc;
  readonly provider: WebsocketProvider;
  /** The client's map `m`, where the tests write. */
  readonly map: Y.Map<unknown>;
  whenSynced(timeoutMs?: number): Promise<void>;
  destroy(): void;
}

/** A stock y-websocket client in Node (ws polyfill, no BroadcastChannel). */
export function connectClient(syncUrl: string, docName: string, token: string, params: Record<string, string> = {}, doc: Y.Doc = new Y.Doc()): TestClient {
  const provider = new WebsocketProvider(syncUrl, docName, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: { token, ...params },
    maxBackoffTime: 200,
  });
  return {
    doc,
    provider,
    map: doc.getMap('m'),
    whenSynced: (timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (provider.synced) return resolve();
        const timer = setTimeout(() => reject(new Error(`${docName}: not synced within ${timeoutMs} ms`)), timeoutMs);
        provider.once('sync', (synced: boolean) => {
          if (synced) {
            clearTimeout(timer);
            resolve();
          }
        });
      }),
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}

/** Reads a document straight from the store (snapshot + log) into a fresh Y.Doc. */
export async function readStored(store: Store, docName: string): Promise<Y.Doc> {
  const loaded = await store.documents.loadDocument(docName);
  const doc = new Y.Doc();
  if (loaded.snapshot) Y.applyUpdate(doc, loaded.snapshot.state);
  for (const u of loaded.updates) Y.applyUpdate(doc, u.update);
  return doc;
}

/** Opens a raw WebSocket (no y-websocket) and resolves when open, or with the HTTP status it was refused with. */
export function rawSocket(url: string, options?: WebSocket.ClientOptions): Promise<{ ws: WebSocket } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (error) => reject(error));
  });
}

/** Polls until `check` is truthy or the deadline passes (no fixed sleeps). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * How long a child server may take to print its port. Each start costs ~3.5 s of CPU (tsx loads
 * the whole server from sources); on a 2-core machine running the whole suite it took 16–30 s.
 */
export const CHILD_START_TIMEOUT_MS = 90_000;
/** Timeout of a test that starts two child servers one after the other. */
export const CHILD_TEST_TIMEOUT_MS = 2 * CHILD_START_TIMEOUT_MS + 60_000;

export interface ChildServer {
  readonly port: number;
  readonly syncUrl: string;
  readonly pid: number;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `server-child.ts` in its own process and resolves once it listens. */
export async function spawnSyncServer(env: Record<string, string>): Promise<ChildServer> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@prepmate/source', '--import', 'tsx', 'test/helpers/server-child.ts'], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', JWT_SECRET: TEST_SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A child that never printed its port would otherwise outlive the test run.
      child.kill('SIGKILL');
      reject(new Error(`child server did not start within ${CHILD_START_TIMEOUT_MS} ms:\n${out}`));
    }, CHILD_START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /SYNC_PORT=(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then(() => reject(new Error(`child server exited:\n${out}`)));
  });
  return {
    port,
    syncUrl: `ws://127.0.0.1:${port}/sync`,
    pid: child.pid ?? 0,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export interface TcpProxy {
  readonly port: number;
  /** Refuses connections and cuts the open ones: the database looks down. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a database, so a test can take "the database" down and up without
 * stopping a service other suites share.
 */
export async function tcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const net = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number): Promise<void> => new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const cut = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    port,
    cut,
    restore: () => listen(port),
    close: cut,
  };
}

/** `uri` with its host:port replaced (e.g. to go through {@link tcpProxy}). */
export function withHost(uri: string, hostPort: string): string {
  return uri.replace(/^(mongodb:\/\/)([^/?]+)/, `$1${hostPort}`);
}

/** What {@link useSqliteSyncServer} gives a suite once its `beforeAll` has run. */
export interface SqliteSyncFixture {
  readonly store: Store;
  readonly server: SyncTestServer;
}

/**
 * One sync server on a fresh SQLite store for the whole suite: started in `beforeAll`, stopped
 * and its files removed in `afterAll`. Read the fields inside tests, not at definition time.
 */
export function useSqliteSyncServer(overrides: Parameters<typeof startSyncServer>[1] = {}): SqliteSyncFixture {
  let backend: StoreBackend | undefined;
  let store: Store | undefined;
  let server: SyncTestServer | undefined;
  beforeAll(async () => {
    backend = await sqliteBackend();
    store = await backend.open();
    server = await startSyncServer(store, overrides);
  });
  afterAll(async () => {
    await server?.stop();
    await store?.close();
    await backend?.remove();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useSqliteSyncServer: read the fixture inside a test');
    return value;
  };
  return {
    get store() {
      return started(store);
    },
    get server() {
      return started(server);
    },
  };
}
