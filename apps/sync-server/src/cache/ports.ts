/**
 * The cache port: short-lived shared state of the REST API (status answers, rate-limit
 * counters). In-process by default; shared through Redis when `REDIS_URL` is set, so that
 * every instance behind a load balancer counts and caches the same way.
 *
 * Both adapters degrade instead of failing: the cache is an optimisation and the limiter a
 * protection, neither may turn a healthy store into a failed request.
 */

/** A JSON value cache with per-entry expiry. */
export interface Cache {
  /** The cached JSON value, or `undefined` when absent, expired or unreadable. */
  get(key: string): Promise<unknown>;
  /** Stores `value` (JSON-serialisable) for `ttlSeconds`; 0 stores nothing. */
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface RateDecision {
  readonly allowed: boolean;
  /** Requests left in the current window (0 when refused). */
  readonly remaining: number;
  /** Whole seconds until the window resets (≥ 1), for `Retry-After`. */
  readonly retryAfterSeconds: number;
}

/** Fixed-window counter per key: independent keys never affect each other. */
export interface RateLimiter {
  /** Counts one request for `key` and says whether it is within `limit` per `windowMs`. */
  hit(key: string, limit: number, windowMs: number): Promise<RateDecision>;
}

/** `in-process` without Redis; with Redis whether it answers right now. */
export type CacheState = 'in-process' | 'connected' | 'disconnected';

export interface CacheService {
  readonly kind: 'memory' | 'redis';
  readonly cache: Cache;
  readonly rateLimiter: RateLimiter;
  /** For the health route. */
  state(): Promise<CacheState>;
  close(): Promise<void>;
}
