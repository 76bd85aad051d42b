// Our sync server for the benchmark, from the compiled `dist/` (what `npm start` runs), as plain
// Node like the peers: no TypeScript loader in the measured process. The same wiring as
// test/helpers/server-child.ts: the sync service alone, durable update log on SQLite in DATA_DIR.
// Prints `SYNC_PORT=<port>`.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createJwksVerifier } from '../../dist/auth/jwks.js';
import { createTokenService } from '../../dist/auth/tokens.js';
import { createSyncService } from '../../dist/docs/sync-service.js';
import { createStore } from '../../dist/storage/index.js';

const env = process.env;
const store = await createStore({ DATA_DIR: env.DATA_DIR ?? './data', MONGODB_URI: undefined });
const rate = Number(env.SYNC_RATE ?? 200);
const sync = createSyncService({
  config: {
    UPDATE_FLUSH_MS: Number(env.UPDATE_FLUSH_MS ?? 50),
    MAX_RETRIES: 3,
    RETRY_DELAY_MS: 100,
    MAX_QUEUE_SIZE: 1000,
    SYNC_MAX_MESSAGE_BYTES: 12 * 1024 * 1024,
    SYNC_BATCH_SIZE: 100,
    SYNC_INTERVAL_MINUTES: 5,
  },
  logger: pino({ level: 'silent' }),
  store,
  // JWT_JWKS_URL (bench/auth.ts): identity-provider tokens beside HS256, as JWT_JWKS_URL configures it.
  tokens: createTokenService(
    env.JWT_SECRET,
    env.JWT_JWKS_URL ? { jwks: createJwksVerifier({ url: new URL(env.JWT_JWKS_URL), cacheMaxAgeMs: 600_000, cooldownMs: 30_000 }) } : {},
  ),
  registry: new Registry(),
  redis: null,
  instanceId: randomUUID(),
  options: { unloadGraceMs: 2000, limits: { messagesPerSecond: rate, burst: Math.max(1000, rate) } },
});
await sync.start();
const http = createServer((_req, res) => res.writeHead(404).end());
http.on('upgrade', sync.handleUpgrade);
http.listen(Number(env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`SYNC_PORT=${http.address().port}\n`));
