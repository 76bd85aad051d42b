import { z } from 'zod';
import { KeyFormatError, parseEncryptedFields, parseFieldKeys, parseSigningKeys } from './security/keys.js';

/**
 * The whole runtime configuration, one schema (CONTRACT section 2). Every field documents
 * its default and unit; `.env.example` mirrors this file.
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

export const configSchema = z.object({
  /** TCP port of the HTTP + WebSocket server. Default 5000. */
  PORT: int(0, 65535, 'an integer port from 0 to 65535').default(5000),
  /** Interface to bind. Default 0.0.0.0 (all). */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** development | production | test. Default development. */
  NODE_ENV: z.enum(['development', 'production', 'test'], { message: 'accepts development, production or test' }).default('development'),
  /** Allowed CORS origin(s), comma separated; unset: same origin only (and any origin in dev mode). */
  CLIENT_URL: z.string().optional(),
  /** Directory of the embedded SQLite database and the generated dev secret. Default ./data. */
  DATA_DIR: z.string().min(1).default('./data'),
  /** MongoDB connection string; unset: embedded SQLite in DATA_DIR. */
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, { message: 'accepts a mongodb:// or mongodb+srv:// URI' })
    .optional(),
  /** Redis URL for many instances; unset: one instance with in-process cache and fan-out. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { message: 'accepts a redis:// or rediss:// URL' }).optional(),
  /** HS256 secret, at least 32 characters. Unset in dev mode: generated once and kept in DATA_DIR. */
  JWT_SECRET: z.string().min(32, { message: 'accepts a secret of at least 32 characters' }).optional(),
  /** dev: the dev-token endpoint exists; jwt: only tokens signed elsewhere. Default dev. */
  AUTH_MODE: z.enum(['dev', 'jwt'], { message: 'accepts dev or jwt' }).default('dev'),
  /** Run the scheduled jobs (snapshots, insights, retention). Default true. */
  ENABLE_SCHEDULED_SYNC: bool.default(true),
  /** Minutes between scheduled snapshot/queue runs, 1–1440. Default 5. */
  SYNC_INTERVAL_MINUTES: int(1, 1440, 'an integer number of minutes from 1 to 1440').default(5),
  /** Documents (or queue items) handled per scheduled run, 1–10000. Default 100. */
  SYNC_BATCH_SIZE: int(1, 10_000, 'an integer from 1 to 10000').default(100),
  /** Retries of a failed store write or queue item, 0–100. Default 3. */
  MAX_RETRIES: int(0, 100, 'an integer from 0 to 100').default(3),
  /** Base delay of the exponential retry backoff, milliseconds. Default 5000. */
  RETRY_DELAY_MS: int(1, 3_600_000, 'an integer number of milliseconds from 1 to 3600000').default(5000),
  /** Lifetime of cached status answers, seconds. Default 300. */
  CACHE_TTL_SECONDS: int(0, 86_400, 'an integer number of seconds from 0 to 86400').default(300),
  /** Upper bound of unflushed updates held in memory per instance before new ones are refused. Default 1000 (×100 updates). */
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
  /** pino level. Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'accepts fatal, error, warn, info, debug, trace or silent',
  }).default('info'),
});

export type Config = z.infer<typeof configSchema>;

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
      return `${name}=${JSON.stringify(cleaned[name] ?? '')}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const config = parsed.data;
  if (config.AUTH_MODE === 'jwt' && !config.JWT_SECRET) {
    throw new ConfigError('Invalid configuration:\n  JWT_SECRET: required when AUTH_MODE=jwt (a secret of at least 32 characters)');
  }
  checkSecurityConfig(config);
  return config;
}

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
