import type { Logger } from '../logger.js';
import { createRedisClient, type RedisTarget } from '../redis/connection.js';
import type { Cache, CacheService, RateDecision, RateLimiter } from './ports.js';

export interface RedisCacheOptions {
  /** One Redis or a Redis Cluster: every key here is a single-key command, so either works. */
  readonly target: RedisTarget;
  readonly logger: Logger;
  /** Prefix of every key, so one Redis can serve several deployments. Default `prepmate:`. */
  readonly keyPrefix?: string;
  /** Milliseconds a command may take before it counts as failed. Default 500. */
  readonly commandTimeoutMs?: number;
}

/**
 * INCR and the first PEXPIRE in one atomic step: two instances counting the same learner at
 * once can never both see "first hit" and leave a counter without expiry.
 */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

/**
 * Redis-backed cache and limiter. While Redis is unreachable, reads miss, writes are dropped
 * and the limiter lets requests through (fail open): Redis is an optimisation here, and the
 * store stays the source of truth. `state()` reports the outage to the health route.
 */
export function createRedisCacheService(options: RedisCacheOptions): CacheService {
  const { logger } = options;
  const prefix = options.keyPrefix ?? 'prepmate:';
  const redis = createRedisClient(options.target, {
    // Commands fail at once while disconnected instead of queueing behind a dead socket:
    // a request must never wait for Redis to come back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: 2_000,
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  });
  let lastWarnAt = 0;
  const warn = (error: unknown, op: string): void => {
    // One line per 10 s: a Redis outage must not flood the log at request rate.
    const at = Date.now();
    if (at - lastWarnAt < 10_000) return;
    lastWarnAt = at;
    logger.warn({ err: error, op }, 'redis unavailable; cache bypassed, rate limit open');
  };
  redis.on('error', (error: unknown) => warn(error, 'connection'));

  const cache: Cache = {
    async get(key) {
      try {
        const json = await redis.get(prefix + key);
        return json === null ? undefined : (JSON.parse(json) as unknown);
      } catch (error) {
        warn(error, 'get');
        return undefined;
      }
    },
    async set(key, value, ttlSeconds) {
      if (ttlSeconds <= 0) return;
      try {
        await redis.set(prefix + key, JSON.stringify(value), 'EX', ttlSeconds);
      } catch (error) {
        warn(error, 'set');
      }
    },
    async delete(key) {
      try {
        await redis.del(prefix + key);
      } catch (error) {
        warn(error, 'delete');
      }
    },
  };

  const rateLimiter: RateLimiter = {
    async hit(key, limit, windowMs): Promise<RateDecision> {
      try {
        const reply = (await redis.eval(HIT_SCRIPT, 1, `${prefix}rl:${key}`, String(windowMs))) as [number, number];
        const [count, ttl] = reply;
        return {
          allowed: count <= limit,
          remaining: Math.max(0, limit - count),
          retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)),
        };
      } catch (error) {
        warn(error, 'rate-limit');
        return { allowed: true, remaining: limit, retryAfterSeconds: 1 };
      }
    },
  };

  return {
    kind: 'redis',
    cache,
    rateLimiter,
    async state() {
      if (redis.status !== 'ready') return 'disconnected';
      try {
        await redis.ping();
        return 'connected';
      } catch {
        return 'disconnected';
      }
    },
    async close() {
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
