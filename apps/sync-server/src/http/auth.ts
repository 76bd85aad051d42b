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
