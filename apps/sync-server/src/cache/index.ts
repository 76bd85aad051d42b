import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createMemoryCacheService } from './memory.js';
import type { CacheService } from './ports.js';
import { createRedisCacheService } from './redis.js';

export type { Cache, CacheService, CacheState, RateDecision, RateLimiter } from './ports.js';
export { createMemoryCache, createMemoryCacheService, createMemoryRateLimiter } from './memory.js';
export { createRedisCacheService } from './redis.js';

/** In-process unless `REDIS_URL` is set. */
export function createCacheService(config: Pick<Config, 'REDIS_URL'>, logger: Logger): CacheService {
  return config.REDIS_URL ? createRedisCacheService({ url: config.REDIS_URL, logger }) : createMemoryCacheService();
}
