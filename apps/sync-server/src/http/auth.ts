import type { Request, RequestHandler, Response } from 'express';
import type { Principal, TokenService } from '../auth/tokens.js';
import { ApiError } from '../errors.js';

/** Verifies `Authorization: Bearer <jwt>` and keeps the principal in `res.locals.principal`. */
export function requireAuth(tokens: TokenService): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (header && !match) throw new ApiError('UNAUTHORIZED', 'Authorization must be "Bearer <token>"');
    res.locals['principal'] = await tokens.verify(match?.[1]);
    next();
  };
}

/** The principal set by `requireAuth`; throws if a route forgot to require it. */
export function principalOf(res: Response): Principal {
  const principal = res.locals['principal'] as Principal | undefined;
  if (!principal) throw new ApiError('UNAUTHORIZED', 'A bearer token is required');
  return principal;
}

/** Client address as seen by this server (honours `trust proxy` when configured). */
export function clientIp(req: Request): string | null {
  return req.ip ?? req.socket.remoteAddress ?? null;
}

/**
 * The REST side's token service: a learner token issued before that learner was erased is
 * refused with 410 (`GONE`), so a device that was offline during the erasure learns of it at
 * its next request and clears its local copy. Service tokens act for others and are not affected.
 */
export function refusingErasedLearners(tokens: TokenService, issuedBeforeErasure: (userId: string, issuedAt: number) => Promise<boolean>): TokenService {
  return {
    sign: (userId, options) => tokens.sign(userId, options),
    async verify(token) {
      const principal = await tokens.verify(token);
      if (principal.role === 'learner' && (await issuedBeforeErasure(principal.userId, principal.issuedAt))) {
        throw new ApiError('GONE', 'This learner was erased after the token was issued; clear local data and sign in again');
      }
      return principal;
    },
  };
}
