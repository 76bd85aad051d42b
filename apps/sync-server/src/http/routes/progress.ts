import { Router } from 'express';
import { actingUser, guarded, type RestRouterDeps } from './telemetry.js';

/** `GET /progress`: the caller's learner document as JSON, topics with their mastery. */
export function createProgressRouter(deps: RestRouterDeps): Router {
  const router = Router();
  router.get('/progress', ...guarded(deps), async (req, res) => {
    const data = await deps.service.progress(actingUser(req, res));
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({ success: true, data });
  });
  return router;
}
