import type { RequestHandler } from 'express';
import type { RateLimiter } from '../cache/ports.js';
import { ApiError } from '../errors.js';
import { principalOf } from './auth.js';

export interface RateLimitOptions {
  readonly limiter: RateLimiter;
  /** Requests per caller per minute; 0 disables (RATE_LIMIT_PER_MINUTE). */
  readonly perMinute: number;
}

const WINDOW_MS = 60_000;

/**
 * Per-caller limit, applied after `requireAuth`. The key is the token's subject and role, so
 * each learner has its own counter and one learner's flood is answered 429 without touching
 * anyone else's budget; a service token has one budget of its own.
 */
export function rateLimit(options: RateLimitOptions): RequestHandler {
  const { limiter, perMinute } = options;
  return async (_req, res, next) => {
    if (perMinute <= 0) {
      next();
      return;
    }
    const principal = principalOf(res);
    const decision = await limiter.hit(`${principal.role}:${principal.userId}`, perMinute, WINDOW_MS);
    res.setHeader('RateLimit-Limit', String(perMinute));
    res.setHeader('RateLimit-Remaining', String(decision.remaining));
    if (!decision.allowed) {
      throw new ApiError('RATE_LIMITED', `More than ${perMinute} requests per minute; retry later`, [], decision.retryAfterSeconds);
    }
    next();
  };
}
