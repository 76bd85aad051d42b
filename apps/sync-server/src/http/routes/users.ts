import { Router } from 'express';
import { actingUser, guarded, type RestRouterDeps } from './telemetry.js';

/** `GET /users/me/export` and `DELETE /users/me`. */
export function createUsersRouter(deps: RestRouterDeps): Router {
  const router = Router();
  const guard = guarded(deps);

  router.get('/users/me/export', ...guard, async (req, res) => {
    const userId = actingUser(req, res);
    const data = await deps.service.exportUser(userId);
    res.setHeader('Cache-Control', 'private, no-store');
    res.setHeader('Content-Disposition', `attachment; filename="prepmate-export-${userId}.json"`);
    res.json({ success: true, data });
  });

  router.delete('/users/me', ...guard, async (req, res) => {
    const data = await deps.service.eraseUser(actingUser(req, res));
    res.json({ success: true, data });
  });

  return router;
}
