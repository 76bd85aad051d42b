import type { Cache, CacheService, RateDecision, RateLimiter } from './ports.js';

export interface MemoryCacheOptions {
  /** Milliseconds since the epoch; injectable so tests control expiry without sleeping. */
  readonly now?: () => number;
  /** Entries kept before the oldest are dropped, so a flood of learners cannot exhaust memory. Default 50 000. */
  readonly maxEntries?: number;
}

interface Entry {
  readonly json: string;
  readonly expiresAt: number;
}

/**
 * Values are stored serialised: a caller that mutates what it got back cannot change the
 * cache, and the behaviour matches the Redis adapter exactly.
 */
export function createMemoryCache(options: MemoryCacheOptions = {}): Cache {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 50_000;
  const entries = new Map<string, Entry>();
  return {
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return undefined;
      }
      return JSON.parse(entry.json) as unknown;
    },
    async set(key, value, ttlSeconds) {
      if (ttlSeconds <= 0) return;
      entries.delete(key);
      if (entries.size >= maxEntries) {
        // Map iteration is insertion order: the first key is the oldest write.
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(key, { json: JSON.stringify(value), expiresAt: now() + ttlSeconds * 1000 });
    },
    async delete(key) {
      entries.delete(key);
    },
  };
}

interface Window {
  readonly start: number;
  count: number;
}

export function createMemoryRateLimiter(options: MemoryCacheOptions = {}): RateLimiter {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 50_000;
  const windows = new Map<string, Window>();

  const prune = (at: number, windowMs: number): void => {
    for (const [key, w] of windows) if (w.start + windowMs <= at) windows.delete(key);
  };

  return {
    async hit(key, limit, windowMs): Promise<RateDecision> {
      const at = now();
      let w = windows.get(key);
      if (!w || w.start + windowMs <= at) {
        if (windows.size >= maxEntries) prune(at, windowMs);
        w = { start: at, count: 0 };
        windows.set(key, w);
      }
      w.count += 1;
      const retryAfterSeconds = Math.max(1, Math.ceil((w.start + windowMs - at) / 1000));
      return { allowed: w.count <= limit, remaining: Math.max(0, limit - w.count), retryAfterSeconds };
    },
  };
}

/** The single-instance default: nothing to connect to, nothing to close. */
export function createMemoryCacheService(options: MemoryCacheOptions = {}): CacheService {
  return {
    kind: 'memory',
    cache: createMemoryCache(options),
    rateLimiter: createMemoryRateLimiter(options),
    state: async () => 'in-process',
    close: async () => {},
  };
}
