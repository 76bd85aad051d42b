import { Router } from 'express';
import { z } from 'zod';
import { userIdSchema } from '@prepmate/crdt-model';
import type { TokenService } from '../../auth/tokens.js';
import { ApiError } from '../../errors.js';

const bodySchema = z.object({ userId: userIdSchema }).strict();

/**
 * `POST /auth/dev-token`: only mounted when AUTH_MODE=dev, so in jwt mode the route does not
 * exist and answers the generic 404.
 */
export function createDevTokenRouter(tokens: TokenService): Router {
  const router = Router();
  router.post('/auth/dev-token', async (req, res) => {
    const parsed = bodySchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      throw new ApiError(
        'VALIDATION_FAILED',
        'Body must be { "userId": "<1–128 characters of A-Z a-z 0-9 _ ->" }',
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    }
    res.json({ token: await tokens.sign(parsed.data.userId) });
  });
  return router;
}
