/**
 * The real server (`startServer`) in its own process, for crash tests (kill -9) and benchmarks:
 *   node --conditions=@prepmate/source --import tsx test/helpers/server-child.ts
 * Env: the server's own variables (DATA_DIR or MONGODB_URI, PORT (default 0), UPDATE_FLUSH_MS,
 * REDIS_URL, JWT_SECRET, ...), plus REDIS_KEY_PREFIX, SYNC_RATE (messages/s per connection) and
 * UNLOAD_GRACE_MS. Prints `SYNC_PORT=<port>` when listening. Imports nothing from the test
 * helpers (they load vitest, which needs its runner).
 */
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';

const env = process.env;
const num = (name: string, fallback: number): number => (env[name] ? Number(env[name]) : fallback);
const rate = num('SYNC_RATE', 200);

const config = loadConfig({
  HOST: '127.0.0.1',
  PORT: '0',
  JWT_SECRET: 'test-secret-of-at-least-thirty-two-characters',
  LOG_LEVEL: 'silent',
  RETRY_DELAY_MS: '100',
  // The crash tests and benchmarks measure the sync path: no scheduled snapshots in between.
  ENABLE_SCHEDULED_SYNC: 'false',
  ...env,
});
const server = await startServer(config, {
  sync: {
    unloadGraceMs: num('UNLOAD_GRACE_MS', 2000),
    limits: { messagesPerSecond: rate, burst: Math.max(1000, rate) },
    ...(env['REDIS_KEY_PREFIX'] ? { redisKeyPrefix: env['REDIS_KEY_PREFIX'] } : {}),
  },
});
process.stdout.write(`SYNC_PORT=${server.port}\n`);
const shutdown = async (): Promise<void> => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
// Memory probes (benchmarks): with --expose-gc, SIGUSR2 collects garbage and prints memory usage.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  process.on('SIGUSR2', () => {
    gc();
    process.stdout.write(`MEMORY=${JSON.stringify({ ...process.memoryUsage(), status: server.sync.status() })}\n`);
  });
}
