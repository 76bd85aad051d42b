import { Router } from 'express';
import type { PlanService } from '../../plan/index.js';
import { actingUser, guarded, type RestRouterDeps } from './telemetry.js';

/** `GET /plan`: the learner's practice plan, as every device computes it (see docs/crdt-model.md). */
export function createPlanRouter(deps: RestRouterDeps & { readonly plans: PlanService }): Router {
  const router = Router();
  router.get('/plan', ...guarded(deps), async (req, res) => {
    const data = await deps.plans.plan(actingUser(req, res));
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({ success: true, data });
  });
  return router;
}
