/**
 * A sync server in its own process, for crash tests (kill -9) and benchmarks:
 *   node --conditions=@prepmate/source --import tsx test/helpers/server-child.ts
 * Env: DATA_DIR or MONGODB_URI, PORT (default 0), UPDATE_FLUSH_MS, REDIS_URL + REDIS_STREAM,
 * SYNC_RATE (messages/s per connection), UNLOAD_GRACE_MS, JWT_SECRET. Prints `SYNC_PORT=<port>` when
 * listening. Imports nothing from the test helpers (they load vitest, which needs its runner).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createTokenService } from '../../src/auth/tokens.js';
import { createSyncService } from '../../src/docs/sync-service.js';
import { createStore } from '../../src/storage/index.js';
import { pino } from 'pino';

const env = process.env;
const num = (name: string, fallback: number): number => (env[name] ? Number(env[name]) : fallback);

const store = await createStore({ DATA_DIR: env['DATA_DIR'] ?? './data', MONGODB_URI: env['MONGODB_URI'] });
const rate = num('SYNC_RATE', 200);
const sync = createSyncService({
  config: {
    UPDATE_FLUSH_MS: num('UPDATE_FLUSH_MS', 50),
    MAX_RETRIES: 3,
    RETRY_DELAY_MS: 100,
    MAX_QUEUE_SIZE: 1000,
    SYNC_MAX_MESSAGE_BYTES: num('SYNC_MAX_MESSAGE_BYTES', 12 * 1024 * 1024),
    SYNC_BATCH_SIZE: 100,
    SYNC_INTERVAL_MINUTES: 5,
  },
  logger: pino({ level: env['LOG_LEVEL'] ?? 'silent' }),
  store,
  tokens: createTokenService(env['JWT_SECRET'] ?? 'test-secret-of-at-least-thirty-two-characters'),
  registry: new Registry(),
  redis: env['REDIS_URL'] ? { url: env['REDIS_URL'], ...(env['REDIS_STREAM'] ? { streamKey: env['REDIS_STREAM'] } : {}) } : null,
  instanceId: randomUUID(),
  options: { unloadGraceMs: num('UNLOAD_GRACE_MS', 2000), limits: { messagesPerSecond: rate, burst: Math.max(1000, rate) } },
});
await sync.start();
const http = createServer((_req, res) => res.writeHead(404).end());
http.on('upgrade', sync.handleUpgrade);
http.listen(num('PORT', 0), '127.0.0.1', () => {
  process.stdout.write(`SYNC_PORT=${(http.address() as AddressInfo).port}\n`);
});
const shutdown = async (): Promise<void> => {
  http.close();
  await sync.stop();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
// Memory probes (benchmarks): with --expose-gc, SIGUSR2 collects garbage and prints memory usage.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  process.on('SIGUSR2', () => {
    gc();
    process.stdout.write(`MEMORY=${JSON.stringify({ ...process.memoryUsage(), status: sync.status() })}\n`);
  });
}
