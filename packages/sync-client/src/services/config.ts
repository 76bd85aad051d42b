/**
 * The client configuration object of the integration guide (`TELEMETRY_CONFIG`) and how it
 * becomes the SDK's options. The names are the guide's, so that code written from it type-checks.
 */
import type { Platform, SyncClientOptions } from '../client.js';
import { createMemoryOutboxStorage } from '../outbox/memory-storage.js';
import type { TelemetryOptions } from '../outbox/telemetry.js';
import type { GetToken } from '../outbox/transport.js';

/** The guide's configuration; every time is in ms. */
export interface TelemetryConfig {
  /** Server origin: REST under `<apiBaseUrl>/api`, the document socket at `<apiBaseUrl>/sync` (ws/wss). */
  readonly apiBaseUrl: string;
  /** Period of the background flush (the SDK's `syncIntervalMs`). */
  readonly syncInterval: number;
  /** Flush when this many events are queued; at most this many per request. */
  readonly batchSize: number;
  /** `true`: the outbox (and the document) are kept in durable local storage; `false`: in memory only. */
  readonly enableOfflineMode: boolean;
  /**
   * Kept so that the guide's object type-checks. The SDK names its stores per learner
   * (`prepmate-outbox:<userId>`), so that two learners of one browser never share a queue and
   * every tab of one learner finds the same queue.
   */
  readonly storageKey: string;
  /**
   * Doublings of the retry delay after which it stops growing. The SDK never gives up on an
   * event because of a number of attempts: it retries until the event is 7 days old.
   */
  readonly maxRetries: number;
  /** Base of the retry backoff (full jitter: a failed send waits a random time up to `retryDelay · 2^attempt`). */
  readonly retryDelay: number;
}

/** The guide's values. `apiBaseUrl` is the guide's fallback; browsers usually pass their own (see {@link telemetryConfigFromEnv}). */
export const TELEMETRY_CONFIG: TelemetryConfig = Object.freeze({
  apiBaseUrl: 'http://localhost:5000',
  syncInterval: 5 * 60 * 1000,
  batchSize: 50,
  enableOfflineMode: true,
  storageKey: 'prepmate_telemetry',
  maxRetries: 3,
  retryDelay: 5000,
});

/**
 * `TELEMETRY_CONFIG` with `apiBaseUrl` from `VITE_API_URL` when set, else `fallbackApiUrl`.
 * The SDK does not read `import.meta.env` itself (it also runs in Node): a Vite app passes it,
 * e.g. `telemetryConfigFromEnv(import.meta.env, location.origin)`.
 */
export function telemetryConfigFromEnv(env: { readonly VITE_API_URL?: string | undefined }, fallbackApiUrl: string = TELEMETRY_CONFIG.apiBaseUrl): TelemetryConfig {
  const url = env.VITE_API_URL?.trim();
  return { ...TELEMETRY_CONFIG, apiBaseUrl: url ? url : fallbackApiUrl };
}

/** `http(s)://host[/prefix]` → `ws(s)://host[/prefix]/sync`. */
export function syncSocketUrl(apiBaseUrl: string): string {
  return `${apiBaseUrl.replace(/\/+$/, '').replace(/^http/i, 'ws')}/sync`;
}

/** What a service is made from, when it is not given an existing client. */
export interface ServiceOptions {
  /** The learner; 1–128 of `[A-Za-z0-9_-]`. */
  readonly userId: string;
  /** Returns a bearer token; `forceRefresh: true` after the server refused the current one. */
  readonly getToken: GetToken;
  /** Any subset of the guide's configuration; the rest from {@link TELEMETRY_CONFIG}. */
  readonly config?: Partial<TelemetryConfig>;
  /** The document socket; default derived from `apiBaseUrl` ({@link syncSocketUrl}). */
  readonly wsUrl?: string;
  /** Sync the learner document too. Default: `true` for `SyncService`, `false` for `TelemetryService`. */
  readonly documentSync?: boolean;
  /** The platform (browser by default; `nodePlatform()` from `@prepmate/sync-client/node` in Node). */
  readonly platform?: Platform;
  /** Further SDK options (fetch, batch signing, port overrides…); the guide's config wins where both set a value. */
  readonly clientOptions?: Partial<Omit<SyncClientOptions, 'apiBaseUrl' | 'userId' | 'getToken' | 'wsUrl' | 'documentSync'>>;
}

/** The SDK options of a service: the guide's names mapped onto the SDK's. */
export function toClientOptions(options: ServiceOptions, documentSyncDefault: boolean): SyncClientOptions {
  const config: TelemetryConfig = { ...TELEMETRY_CONFIG, ...options.config };
  const extra = options.clientOptions ?? {};
  const telemetry: NonNullable<SyncClientOptions['telemetry']> = {
    ...extra.telemetry,
    syncIntervalMs: config.syncInterval,
    batchSize: config.batchSize,
    backoff: { baseMs: config.retryDelay, maxMs: config.retryDelay * 2 ** config.maxRetries } satisfies TelemetryOptions['backoff'],
  };
  return {
    ...extra,
    apiBaseUrl: config.apiBaseUrl,
    wsUrl: options.wsUrl ?? syncSocketUrl(config.apiBaseUrl),
    userId: options.userId,
    getToken: options.getToken,
    documentSync: options.documentSync ?? documentSyncDefault,
    telemetry,
    ...(config.enableOfflineMode ? {} : { outboxStorage: createMemoryOutboxStorage(), docPersistence: null, rescue: null }),
  };
}
