import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { TokenService } from '../../auth/tokens.js';
import { ApiError } from '../../errors.js';
import { principalOf, requireAuth } from '../auth.js';

/**
 * `GET /metrics` in Prometheus text format. It needs a service token (Prometheus sends it with
 * `authorization.credentials`): counts of connections and documents are not a learner's business.
 */
export function createMetricsRouter(registry: Registry, tokens: TokenService): Router {
  const router = Router();
  router.get('/metrics', requireAuth(tokens), async (_req, res) => {
    if (principalOf(res).role !== 'service') throw new ApiError('FORBIDDEN', 'Metrics need a service token');
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });
  return router;
}
