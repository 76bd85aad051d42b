import { z } from 'zod';
import { KeyFormatError, parseEncryptedFields, parseFieldKeys, parseSigningKeys } from './key-formats.js';

/**
 * The whole runtime configuration, one schema. Every field documents its default and unit;
 * `.env.example` and the README's configuration table mirror this file.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'accepts true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number, what: string) =>
  z.coerce
    .number({ message: `accepts ${what}` })
    .int({ message: `accepts ${what}` })
    .min(min, { message: `accepts ${what}` })
    .max(max, { message: `accepts ${what}` });

/** A claim name (anything printable but a space) or a dotted path of them. */
const CLAIM = /^[^\s]{1,200}$/;

function isJwksUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

export const configSchema = z.object({
  /** TCP port of the HTTP + WebSocket server. Default 5000. */
  PORT: int(0, 65535, 'an integer port from 0 to 65535').default(5000),
  /**
   * Interface to bind. Default: 127.0.0.1 in AUTH_MODE=dev (dev tokens are for the developer's
   * own machine), 0.0.0.0 (all) in AUTH_MODE=jwt.
   */
  HOST: z.string().min(1).optional(),
  /** development | production | test. Default development. */
  NODE_ENV: z.enum(['development', 'production', 'test'], { message: 'accepts development, production or test' }).default('development'),
  /**
   * Allowed CORS origin(s) of an app served from another origin than this server, comma
   * separated (`http(s)://host[:port]`, a trailing `/` is dropped); unset: same origin only (and
   * loopback origins in dev mode). Browsers send the bare origin, so anything else could never match.
   */
  CLIENT_URL: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return undefined;
      const origins: string[] = [];
      for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
        let url: URL | null = null;
        try {
          url = new URL(entry);
        } catch {
          url = null;
        }
        if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash || url.username) {
          ctx.addIssue({ code: 'custom', message: `accepts comma-separated origins like https://app.example.com (scheme, host, optional port; no path), got ${JSON.stringify(entry)}` });
          return z.NEVER;
        }
        origins.push(url.origin);
      }
      return origins.join(',');
    }),
  /** Directory of the embedded SQLite database and the generated dev secret. Default ./data. */
  DATA_DIR: z.string().min(1).default('./data'),
  /** MongoDB connection string; unset: embedded SQLite in DATA_DIR. */
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, { message: 'accepts a mongodb:// or mongodb+srv:// URI' })
    .optional(),
  /**
   * A second MongoDB (its own database) that receives a full copy of the store: daily at 02:15
   * (the `backup` job) and on demand (`npm run backup -- --mongo`). Unset: no backup job. Must not
   * name the database of MONGODB_URI.
   */
  MONGODB_BACKUP_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, { message: 'accepts a mongodb:// or mongodb+srv:// URI of the backup database' })
    .optional(),
  /** Redis URL for many instances; unset: one instance with in-process cache and fan-out. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { message: 'accepts a redis:// or rediss:// URL' }).optional(),
  /**
   * Seed nodes of a Redis Cluster, comma separated `redis://` or `rediss://` URLs without a
   * database path (the client discovers the other nodes from any one). User, password and TLS
   * come from the first URL and hold for every node. Instead of REDIS_URL, never with it.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .superRefine((value, ctx) => {
      const entries = value.split(',').map((e) => e.trim());
      const schemes = new Set<string>();
      for (const entry of entries) {
        let url: URL | null;
        try {
          url = new URL(entry);
        } catch {
          url = null;
        }
        if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) {
          ctx.addIssue({ code: 'custom', message: `accepts comma-separated redis:// or rediss:// URLs of cluster nodes (host and port, no database path), got ${JSON.stringify(redactUrl(entry))}` });
          return;
        }
        schemes.add(url.protocol);
      }
      if (schemes.size > 1) ctx.addIssue({ code: 'custom', message: 'accepts URLs of one scheme: every node is redis:// or every node is rediss://' });
    })
    .optional(),
  /** HS256 secret, at least 32 characters. Unset in dev mode: generated once and kept in DATA_DIR. */
  JWT_SECRET: z.string().min(32, { message: 'accepts a secret of at least 32 characters' }).optional(),
  /** dev: the dev-token endpoint exists; jwt: only tokens signed elsewhere. Default dev. */
  AUTH_MODE: z.enum(['dev', 'jwt'], { message: 'accepts dev or jwt' }).default('dev'),
  /**
   * JSON Web Key Set of an identity provider (https://, or http:// on a loopback host): tokens
   * signed with RS*, PS*, ES* or EdDSA are verified against it. Unset: HS256 with JWT_SECRET only.
   */
  JWT_JWKS_URL: z
    .string()
    .refine(isJwksUrl, { message: 'accepts an https:// URL (http:// only for localhost, 127.0.0.1 or ::1) without credentials' })
    .optional(),
  /** Seconds a fetched key set is trusted before it is refreshed in the background. Default 600. */
  JWT_JWKS_CACHE_SECONDS: int(1, 86_400, 'an integer number of seconds from 1 to 86400').default(600),
  /** Least seconds between two fetches caused by an unknown `kid`. Default 30. */
  JWT_JWKS_COOLDOWN_SECONDS: int(0, 3600, 'an integer number of seconds from 0 to 3600').default(30),
  /** Required `iss` of every token. Unset: not checked. */
  JWT_ISSUER: z.string().optional(),
  /** Accepted `aud` value(s), comma separated: a token must name one of them. Unset: not checked. */
  JWT_AUDIENCE: z.string().optional(),
  /** Claim holding the learner id (1–128 of [A-Za-z0-9_-]); a dotted path reaches nested claims. Default sub. */
  JWT_USER_CLAIM: z.string().regex(CLAIM, { message: 'accepts a claim name or dotted path, e.g. sub or app_metadata.learner_id' }).default('sub'),
  /** Claim holding the role (a string or an array of strings); a dotted path reaches nested claims. Default role. */
  JWT_ROLE_CLAIM: z.string().regex(CLAIM, { message: 'accepts a claim name or dotted path, e.g. role or realm_access.roles' }).default('role'),
  /** Value of JWT_ROLE_CLAIM that makes a token a service token (may act for any learner). Default service. */
  JWT_SERVICE_ROLE: z.string().min(1).default('service'),
  /** Longest accepted token lifetime (exp − iat, and exp − now), seconds. Tokens without exp are refused. Default 604800 (7 days). */
  JWT_MAX_LIFETIME_SECONDS: int(60, 31_536_000, 'an integer number of seconds from 60 to 31536000').default(604_800),
  /**
   * How a REST progress patch (`progress` batch item) meets a newer value already in the learner
   * document: `last-write-wins` (default) keeps the document's value when the patch's `updatedAt`
   * is older; `client-priority` applies the patch anyway (the client that sent it is trusted as the
   * newest). Synced state always merges as a CRDT; assessments are always first-write-wins.
   */
  CONFLICT_RESOLUTION_STRATEGY: z
    .enum(['last-write-wins', 'client-priority'], {
      message: 'accepts last-write-wins or client-priority (how a REST progress patch older than the document is decided; the synced document always merges as a CRDT)',
    })
    .default('last-write-wins'),
  /** Run the scheduled jobs (snapshots, insights, retention, backup); the sync-queue retries run either way. Default true. */
  ENABLE_SCHEDULED_SYNC: bool.default(true),
  /** Minutes between scheduled snapshot/queue runs, 1–1440. Default 5. */
  SYNC_INTERVAL_MINUTES: int(1, 1440, 'an integer number of minutes from 1 to 1440').default(5),
  /** Documents (or queue items) handled per scheduled run, 1–10000. Default 100. */
  SYNC_BATCH_SIZE: int(1, 10_000, 'an integer from 1 to 10000').default(100),
  /** Retries of a failed store write or queue item, 0–100. Default 3. */
  MAX_RETRIES: int(0, 100, 'an integer from 0 to 100').default(3),
  /** Base delay of the exponential retry backoff, milliseconds. Default 5000. */
  RETRY_DELAY_MS: int(1, 3_600_000, 'an integer number of milliseconds from 1 to 3600000').default(5000),
  /** Lifetime of cached reads (sync status, `GET /api/progress`), seconds; 0 turns the caches off. Default 300. */
  CACHE_TTL_SECONDS: int(0, 86_400, 'an integer number of seconds from 0 to 86400').default(300),
  /** Bound of unflushed updates held in memory per instance, in units of {@link UPDATES_PER_QUEUE_UNIT} updates (the default 1000 is 100 000 updates); above it new documents and server-side changes are refused. Default 1000. */
  MAX_QUEUE_SIZE: int(1, 10_000_000, 'an integer from 1 to 10000000').default(1000),
  /** Group-commit window of the update log, milliseconds. Default 50. */
  UPDATE_FLUSH_MS: int(1, 10_000, 'an integer number of milliseconds from 1 to 10000').default(50),
  /** Largest accepted REST request body (after gzip inflation), bytes. Default 1 MiB. */
  MAX_BODY_BYTES: int(1024, 256 * 1024 * 1024, 'an integer number of bytes from 1024 to 268435456').default(1024 * 1024),
  /**
   * Largest accepted WebSocket message, bytes. Default and maximum 12 MiB. Larger than REST's
   * limit on purpose: a learner back from a long offline stretch sends everything the server
   * lacks as ONE sync message, and a limit below it would refuse that message on every reconnect
   * (the edits would never arrive). Capped at 12 MiB because each message becomes one update-log
   * record, which must fit a 16 MB MongoDB document.
   */
  SYNC_MAX_MESSAGE_BYTES: int(1024, 12 * 1024 * 1024, 'an integer number of bytes from 1024 to 12582912').default(12 * 1024 * 1024),
  /** Sustained sync messages per second per socket; above it the socket is paused (TCP backpressure), nothing is dropped. Default 200. */
  SYNC_MESSAGES_PER_SECOND: int(1, 1_000_000, 'an integer from 1 to 1000000').default(200),
  /** Sync messages a socket may send at once before SYNC_MESSAGES_PER_SECOND applies. Default 1000. */
  SYNC_BURST: int(1, 1_000_000, 'an integer from 1 to 1000000').default(1000),
  /**
   * Bytes the server may hold queued for one socket that does not read, 1 MiB–1 GiB. Above it the
   * socket is closed with 4503 (SLOW_READER). Default 32 MiB: room for the full state of a heavy
   * learner's document (about 4 MB after a year) several times over.
   */
  SYNC_MAX_BUFFERED_BYTES: int(1024 * 1024, 1024 * 1024 * 1024, 'an integer number of bytes from 1048576 to 1073741824').default(32 * 1024 * 1024),
  /** Largest awareness message, bytes; larger closes the socket with 4413 (AWARENESS_TOO_BIG). Default 64 KiB. */
  SYNC_MAX_AWARENESS_BYTES: int(256, 12 * 1024 * 1024, 'an integer number of bytes from 256 to 12582912').default(64 * 1024),
  /** Awareness states (client ids) one socket may introduce; more closes with 4413. Default 16. */
  SYNC_MAX_AWARENESS_STATES: int(1, 100_000, 'an integer from 1 to 100000').default(16),
  /**
   * Stored size one document may reach (snapshot plus update log, as the server counts it),
   * 64 KiB–1 GiB; an update that would pass it closes the socket with 4430 (DOCUMENT_TOO_LARGE) and
   * is not applied. Default 24 MiB: a heavy learner's document is 4.3 MB after one year and 8.5 MB
   * after two (the year benchmark), so this is five to six years of heavy use, and it stays below
   * SYNC_MAX_BUFFERED_BYTES so the full state always fits a socket's send queue.
   */
  SYNC_MAX_DOCUMENT_BYTES: int(64 * 1024, 1024 * 1024 * 1024, 'an integer number of bytes from 65536 to 1073741824').default(24 * 1024 * 1024),
  /** Documents `<userId>/<name>` one learner may have (the learner document `<userId>` is not counted); a new one beyond it closes with 4431. Default 100. */
  SYNC_MAX_DOCUMENTS_PER_LEARNER: int(1, 1_000_000, 'an integer from 1 to 1000000').default(100),
  /** WebSocket connections one learner may hold open on one instance (service tokens are not counted); more closes with 4432. Default 32. */
  SYNC_MAX_SOCKETS_PER_LEARNER: int(1, 1_000_000, 'an integer from 1 to 1000000').default(32),
  /**
   * Sustained update bytes per second one learner may write over all its sockets on one instance
   * (token bucket); a frame that finds the budget spent closes with 4429 (WRITE_RATE_EXCEEDED) and is
   * not applied. Default 64 KiB/s: a heavy learner's year adds about 4.3 MB, a fraction of a byte
   * per second on average, and one edit is a few hundred bytes.
   */
  SYNC_WRITE_BYTES_PER_SECOND: int(1024, 1024 * 1024 * 1024, 'an integer number of bytes from 1024 to 1073741824').default(64 * 1024),
  /**
   * Update bytes a learner may write at once before SYNC_WRITE_BYTES_PER_SECOND applies. A frame is
   * accepted while any budget is left, so one message up to SYNC_MAX_MESSAGE_BYTES always fits.
   * Default 16 MiB: a device back from a long offline stretch sends its whole difference at once.
   */
  SYNC_WRITE_BURST_BYTES: int(1024, 1024 * 1024 * 1024, 'an integer number of bytes from 1024 to 1073741824').default(16 * 1024 * 1024),
  /**
   * Sync messages at least this large are compressed (permessage-deflate) for clients that offer
   * it (browsers and Node's \`ws\`, so stock y-websocket clients). Default 16 KiB: a new device's
   * first sync of a year's document (~4 MB) crosses the wire at about a seventh (0.62 MB), while edits, which
   * are a few hundred bytes and are encoded once for every recipient, stay uncompressed and are
   * not compressed once per recipient. 0 turns compression off (not negotiated).
   */
  SYNC_DEFLATE_MIN_BYTES: int(0, 12 * 1024 * 1024, 'an integer number of bytes from 0 to 12582912').default(16 * 1024),
  /**
   * Worker threads that validate telemetry batch items, 0–64; 0 validates on the main thread.
   * Default 0. Workers pay off when several large batches arrive at once: validation then
   * overlaps with the store writes instead of holding the event loop (`npm run bench`).
   */
  VALIDATION_THREADS: int(0, 64, 'an integer from 0 to 64').default(0),
  /** Largest number of items in one telemetry batch, 1–10000. Default 500. */
  MAX_BATCH_ITEMS: int(1, 10_000, 'an integer from 1 to 10000').default(500),
  /** Requests per learner per minute on the REST API; 0 disables. Default 600. */
  RATE_LIMIT_PER_MINUTE: int(0, 1_000_000, 'an integer from 0 to 1000000').default(600),
  /** Age after which telemetry events are deleted, days; 0 keeps them forever. Default 365. */
  RETENTION_DAYS: int(0, 36_500, 'an integer number of days from 0 to 36500').default(365),
  /** Dotted `eventData` paths encrypted at rest, comma separated (e.g. `answers.text`). Unset: none. Needs FIELD_ENCRYPTION_KEY. */
  ENCRYPTED_FIELDS: z.string().optional(),
  /** AES-256-GCM keys `keyId:base64-of-32-bytes[,oldKeyId:base64,...]`: the first encrypts, all decrypt. Unset: no field encryption. */
  FIELD_ENCRYPTION_KEY: z.string().optional(),
  /** Age after which audit entries are deleted, days; 0 keeps them forever. Default 365. */
  AUDIT_RETENTION_DAYS: int(0, 36_500, 'an integer number of days from 0 to 36500').default(365),
  /** HMAC secrets of telemetry clients, `clientId:secret,...` (secrets ≥ 16 characters). Unset: no client signs. */
  BATCH_SIGNING_KEYS: z.string().optional(),
  /** Every telemetry batch must be signed by a client of BATCH_SIGNING_KEYS. Default false. */
  BATCH_SIGNING_REQUIRED: bool.default(false),
  /**
   * Base URL of an OpenAI-compatible chat-completions API (llama.cpp, vLLM, Ollama, a hosted
   * service), e.g. `http://127.0.0.1:8080/v1`. Set: the server asks it for a short coaching note
   * on each learner's practice plan. Unset (and no GEMINI_API_KEY): no AI coaching.
   */
  MODEL_API_BASE_URL: z.url({ protocol: /^https?$/, message: 'accepts an http:// or https:// URL' }).optional(),
  /** Bearer key of MODEL_API_BASE_URL, if it needs one. Unset: none. */
  MODEL_API_KEY: z.string().optional(),
  /** Gemini API key: without MODEL_API_BASE_URL, selects Gemini's OpenAI-compatible endpoint. Unset: none. */
  GEMINI_API_KEY: z.string().optional(),
  /** Model asked for coaching notes. Default gemini-2.5-flash with GEMINI_API_KEY, else `default`. */
  MODEL_NAME: z.string().min(1).max(200).optional(),
  /** Longest wait for a coaching note, milliseconds. Default 8000. */
  MODEL_TIMEOUT_MS: int(100, 120_000, 'an integer number of milliseconds from 100 to 120000').default(8000),
  /** Coaching notes asked per learner per hour (a new plan is needed for each anyway), 0–100. Default 4. */
  MODEL_NOTES_PER_HOUR: int(0, 100, 'an integer from 0 to 100').default(4),
  /** A connection must complete its request headers within this time, ms; a silent connection is closed after it too. Default 10000. */
  HTTP_HEADERS_TIMEOUT_MS: int(100, 600_000, 'an integer number of milliseconds from 100 to 600000').default(10_000),
  /** A whole request (headers and body) must arrive within this time, ms; at least HTTP_HEADERS_TIMEOUT_MS. Default 60000. */
  HTTP_REQUEST_TIMEOUT_MS: int(100, 3_600_000, 'an integer number of milliseconds from 100 to 3600000').default(60_000),
  /** Idle time of a kept-alive HTTP connection between requests, ms (above your load balancer's idle timeout). Default 65000. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(100, 600_000, 'an integer number of milliseconds from 100 to 600000').default(65_000),
  /** Open TCP connections per instance (HTTP and WebSocket); beyond it new connections are dropped. Default 10000. */
  HTTP_MAX_CONNECTIONS: int(1, 1_000_000, 'an integer from 1 to 1000000').default(10_000),
  /** Content-Security-Policy and the other security headers (helmet) on every answer. Default true. */
  SECURITY_HEADERS: bool.default(true),
  /** pino level. Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'accepts fatal, error, warn, info, debug, trace or silent',
  }).default('info'),
});

/** The parsed configuration; HOST is resolved from AUTH_MODE when unset. */
export type Config = Omit<z.infer<typeof configSchema>, 'HOST'> & { readonly HOST: string };

/**
 * Variables whose values are never printed, and variables that are URLs whose credentials are
 * never printed: a configuration error ends up in terminals, CI logs and log shippers.
 */
const SECRET = /SECRET|KEY|TOKEN|PASSWORD/;
const URL_VARIABLES = new Set(['MONGODB_URI', 'MONGODB_BACKUP_URI', 'REDIS_URL', 'JWT_JWKS_URL', 'CLIENT_URL']);
/** Variables holding comma-separated URLs: each one is redacted on its own. */
const URL_LIST_VARIABLES = new Set(['REDIS_CLUSTER_NODES']);

/** How a value may appear in an error message: secrets hidden, URL credentials and query removed. */
export function printableValue(name: string, value: string): string {
  if (SECRET.test(name)) return `<hidden, ${value.length} characters>`;
  if (URL_VARIABLES.has(name)) return JSON.stringify(redactUrl(value));
  if (URL_LIST_VARIABLES.has(name)) return JSON.stringify(value.split(',').map((entry) => redactUrl(entry.trim())).join(','));
  return JSON.stringify(value);
}

/**
 * `scheme://user:pass@host/db?authSource=x` → `scheme://***@host/db?***`: everything up to the
 * last `@` (a password may hold `/` or `@` unescaped) and the query (it may hold credentials).
 */
export function redactUrl(value: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(value)?.[0] ?? '';
  const at = value.lastIndexOf('@');
  const hidden = at >= 0 ? `${scheme}***${value.slice(at)}` : value;
  const query = hidden.indexOf('?');
  return query >= 0 && query < hidden.length - 1 ? `${hidden.slice(0, query)}?***` : hidden;
}

/**
 * `MAX_QUEUE_SIZE` counts units of this many updates (the variable keeps its name for existing
 * deployments); the update log's bound in records is `MAX_QUEUE_SIZE × UPDATES_PER_QUEUE_UNIT`.
 */
export const UPDATES_PER_QUEUE_UNIT = 100;

/** The update log's in-memory bound, in updates. */
export const maxPendingUpdates = (config: Pick<Config, 'MAX_QUEUE_SIZE'>): number => config.MAX_QUEUE_SIZE * UPDATES_PER_QUEUE_UNIT;

/** Thrown at start when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses the environment. Empty strings count as unset so that `.env` lines like `REDIS_URL=`
 * keep the default.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') cleaned[key] = value.trim();
  }
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.');
      return `${name}=${printableValue(name, cleaned[name] ?? '')}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const { HOST, ...rest } = parsed.data;
  const config: Config = { ...rest, HOST: HOST ?? (rest.AUTH_MODE === 'dev' ? '127.0.0.1' : '0.0.0.0') };
  if (config.AUTH_MODE === 'jwt' && !config.JWT_SECRET && !config.JWT_JWKS_URL) {
    throw new ConfigError(
      'Invalid configuration:\n  JWT_SECRET: required when AUTH_MODE=jwt without JWT_JWKS_URL (a secret of at least 32 characters, or set JWT_JWKS_URL to your identity provider\'s key set)',
    );
  }
  if (config.AUTH_MODE === 'dev' && config.NODE_ENV === 'production') {
    throw new ConfigError(
      'Invalid configuration:\n  AUTH_MODE: dev (the default) lets anyone mint a token for any learner and is refused when NODE_ENV=production; set AUTH_MODE=jwt with JWT_SECRET or JWT_JWKS_URL',
    );
  }
  if (config.REDIS_URL !== undefined && config.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  REDIS_CLUSTER_NODES: set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
    );
  }
  if (config.HTTP_REQUEST_TIMEOUT_MS < config.HTTP_HEADERS_TIMEOUT_MS) {
    throw new ConfigError('Invalid configuration:\n  HTTP_REQUEST_TIMEOUT_MS: accepts a number of milliseconds at least HTTP_HEADERS_TIMEOUT_MS (a request includes its headers)');
  }
  if (config.MONGODB_BACKUP_URI !== undefined && config.MONGODB_URI !== undefined && sameDatabase(config.MONGODB_URI, config.MONGODB_BACKUP_URI)) {
    throw new ConfigError(
      'Invalid configuration:\n  MONGODB_BACKUP_URI: names the same database as MONGODB_URI; a backup must live in another database (ideally on another server)',
    );
  }
  checkSecurityConfig(config);
  return config;
}

/** Host list and database name of a MongoDB URI (credentials and options ignored). */
function databaseOf(uri: string): string {
  const rest = uri.replace(/^mongodb(\+srv)?:\/\//, '');
  const at = rest.lastIndexOf('@');
  const withoutCredentials = at >= 0 ? rest.slice(at + 1) : rest;
  const [hosts = '', path = ''] = withoutCredentials.split('?')[0]!.split('/');
  return `${hosts.toLowerCase()}/${path || 'test'}`;
}

const sameDatabase = (a: string, b: string): boolean => databaseOf(a) === databaseOf(b);

/**
 * The security variables are parsed here only to refuse a bad value at start; messages name
 * the variable and the rule, never the secret.
 */
function checkSecurityConfig(config: Config): void {
  const problems: string[] = [];
  const check = (name: string, fn: () => unknown): void => {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof KeyFormatError)) throw error;
      problems.push(`${name}: ${error.message}`);
    }
  };
  if (config.ENCRYPTED_FIELDS !== undefined) check('ENCRYPTED_FIELDS', () => parseEncryptedFields(config.ENCRYPTED_FIELDS ?? ''));
  if (config.FIELD_ENCRYPTION_KEY !== undefined) check('FIELD_ENCRYPTION_KEY', () => parseFieldKeys(config.FIELD_ENCRYPTION_KEY ?? ''));
  else if (config.ENCRYPTED_FIELDS !== undefined) problems.push('FIELD_ENCRYPTION_KEY: required when ENCRYPTED_FIELDS is set (keyId:base64-of-32-bytes, e.g. k1:$(openssl rand -base64 32))');
  if (config.BATCH_SIGNING_KEYS !== undefined) check('BATCH_SIGNING_KEYS', () => parseSigningKeys(config.BATCH_SIGNING_KEYS ?? ''));
  else if (config.BATCH_SIGNING_REQUIRED) problems.push('BATCH_SIGNING_KEYS: required when BATCH_SIGNING_REQUIRED=true (clientId:secret,...)');
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}
