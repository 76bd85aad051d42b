// Our sync server for the benchmark, from the compiled `dist/` (what `npm start` runs), as plain
// Node like the peers: no TypeScript loader in the measured process. Started through the shipped
// composition root (`startServer`: security, audit and jobs included), durable update log on
// SQLite in DATA_DIR. Prints `SYNC_PORT=<port>`.
import { loadConfig } from '../../dist/config.js';
import { startServer } from '../../dist/server.js';

const env = process.env;
const rate = Number(env.SYNC_RATE ?? 200);
const config = loadConfig({
  HOST: '127.0.0.1',
  PORT: env.PORT ?? '0',
  DATA_DIR: env.DATA_DIR ?? './data',
  JWT_SECRET: env.JWT_SECRET,
  // bench/auth.ts: identity-provider tokens beside HS256, as JWT_JWKS_URL configures them.
  ...(env.JWT_JWKS_URL ? { AUTH_MODE: 'jwt', JWT_JWKS_URL: env.JWT_JWKS_URL } : {}),
  // bench/instances.ts: several instances on one Redis and one SQLite file.
  ...(env.REDIS_URL ? { REDIS_URL: env.REDIS_URL } : {}),
  ...(env.REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: env.REDIS_CLUSTER_NODES } : {}),
  // bench/costs.ts: telemetry ingestion without the per-learner limit, in 500-event batches.
  ...(env.RATE_LIMIT_PER_MINUTE ? { RATE_LIMIT_PER_MINUTE: env.RATE_LIMIT_PER_MINUTE } : {}),
  ...(env.MAX_BATCH_ITEMS ? { MAX_BATCH_ITEMS: env.MAX_BATCH_ITEMS } : {}),
  UPDATE_FLUSH_MS: env.UPDATE_FLUSH_MS ?? '50',
  // Comparing with permessage-deflate off (0: never negotiated).
  ...(env.SYNC_DEFLATE_MIN_BYTES ? { SYNC_DEFLATE_MIN_BYTES: env.SYNC_DEFLATE_MIN_BYTES } : {}),
  RETRY_DELAY_MS: '100',
  LOG_LEVEL: 'silent',
});
const server = await startServer(config, {
  sync: {
    unloadGraceMs: 2000,
    // bench/run.ts: BENCH_TURN_INTERVAL_MS compares fan-out flush intervals (default: the server's).
    ...(env.SYNC_TURN_INTERVAL_MS ? { turnIntervalMs: Number(env.SYNC_TURN_INTERVAL_MS) } : {}),
    limits: { messagesPerSecond: rate, burst: Math.max(1000, rate) },
    ...(env.REDIS_KEY_PREFIX ? { redisKeyPrefix: env.REDIS_KEY_PREFIX } : {}),
  },
});
process.stdout.write(`SYNC_PORT=${server.port}\n`);
const shutdown = () => server.stop().then(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
