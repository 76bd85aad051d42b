import { Router, type Request, type RequestHandler, type Response } from 'express';
import { actingUserId, requestedUserId, type TokenService } from '../../auth/tokens.js';
import type { RateLimiter } from '../../cache/ports.js';
import type { Config } from '../../config.js';
import type { UserId } from '../../ids.js';
import type { RequestContext, LearnerDataService } from '../../telemetry/index.js';
import { clientIp, principalOf, requireAuth } from '../auth.js';
import { rateLimit } from '../rate-limit.js';

/** What the telemetry, progress and users routers need. */
export interface RestRouterDeps {
  readonly tokens: TokenService;
  readonly service: LearnerDataService;
  /** Per-caller limiter (`createCacheService(...).rateLimiter`). */
  readonly limiter: RateLimiter;
  readonly config: Pick<Config, 'RATE_LIMIT_PER_MINUTE'>;
}

/**
 * Auth then rate limit, per route: a `router.use()` would also run for every other router
 * mounted after this one under `/api` (e.g. the unauthenticated health route).
 */
export function guarded(deps: RestRouterDeps): RequestHandler[] {
  return [requireAuth(deps.tokens), rateLimit({ limiter: deps.limiter, perMinute: deps.config.RATE_LIMIT_PER_MINUTE })];
}

function bodyField(body: unknown, field: string): unknown {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[field] : undefined;
}

/**
 * The learner a request acts for: `?userId=` and/or the body's `userId` (service tokens; both
 * must agree), else the caller.
 */
export function actingUser(req: Request, res: Response): UserId {
  return actingUserId(principalOf(res), requestedUserId(req.query['userId'], bodyField(req.body, 'userId')));
}

function contextOf(req: Request, res: Response): RequestContext {
  const principal = principalOf(res);
  const userId = actingUser(req, res);
  const ua = req.headers['user-agent'];
  return {
    userId,
    actFor: (requested) => actingUserId(principal, requested),
    ip: clientIp(req),
    userAgent: typeof ua === 'string' ? ua : null,
  };
}

/**
 * `POST /telemetry/track`, `POST /telemetry/batch`, `GET /telemetry/status`, `GET /telemetry/events`.
 * `signature` makes the batch-signature check for a given "acting for" rule; both ingestion
 * routes run it after auth, so no route takes events around it.
 */
export function createTelemetryRouter(deps: RestRouterDeps, signature?: (learnerOf: (req: Request, res: Response) => string) => RequestHandler): Router {
  const router = Router();
  const guard = guarded(deps);
  const ingest = signature ? [...guard, signature(actingUser)] : guard;
  const { service } = deps;

  router.post('/telemetry/track', ...ingest, async (req, res) => {
    const data = await service.track(contextOf(req, res), req.body);
    res.json({ success: true, data });
  });

  router.post('/telemetry/batch', ...ingest, async (req, res) => {
    const data = await service.ingestBatch(contextOf(req, res), req.body);
    res.json({ success: true, data });
  });

  router.get('/telemetry/status', ...guard, async (req, res) => {
    const syncStatus = await service.status(actingUser(req, res));
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({ success: true, syncStatus });
  });

  router.get('/telemetry/events', ...guard, async (req, res) => {
    const data = await service.listEvents(actingUser(req, res), req.query as Record<string, unknown>);
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({ success: true, data });
  });

  return router;
}
