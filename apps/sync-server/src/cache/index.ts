import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { redisTargetOf } from '../redis/connection.js';
import { createMemoryCacheService } from './memory.js';
import type { CacheService } from './ports.js';
import { createRedisCacheService } from './redis.js';

export type { Cache, CacheService, CacheState, RateDecision, RateLimiter } from './ports.js';
export { createMemoryCache, createMemoryCacheService, createMemoryRateLimiter } from './memory.js';
export { createRedisCacheService } from './redis.js';

/** In-process unless `REDIS_URL` or `REDIS_CLUSTER_NODES` is set. */
export function createCacheService(config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>, logger: Logger): CacheService {
  const target = redisTargetOf(config);
  return target ? createRedisCacheService({ target, logger }) : createMemoryCacheService();
}
