import type { ErrorRequestHandler, RequestHandler, Router } from 'express';
import { ApiError } from '../errors.js';
import { StoreUnavailableError } from '../storage/errors.js';
import type { Logger } from '../logger.js';
import { InvalidCursorError } from '../storage/errors.js';

/** The API's error body (docs/api.md). */
export function errorBody(error: ApiError): { success: false; error: { code: string; message: string; details: readonly unknown[] } } {
  return { success: false, error: { code: error.code, message: error.message, details: error.details } };
}

interface RouteLayer {
  readonly route?: { readonly path: unknown; readonly methods: Record<string, boolean | undefined> };
  readonly handle?: { readonly stack?: readonly RouteLayer[] };
}

/** Path → methods of every route of the routers (nested routers included). */
export function routeMethods(routers: readonly Router[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const walk = (stack: readonly RouteLayer[]): void => {
    for (const layer of stack) {
      if (layer.route && typeof layer.route.path === 'string') {
        const methods = out.get(layer.route.path) ?? new Set<string>();
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') methods.add(method.toUpperCase());
        out.set(layer.route.path, methods);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  for (const router of routers) walk((router as unknown as { stack: readonly RouteLayer[] }).stack);
  return out;
}

/**
 * A known `/api` path called with a method it does not have answers 405 with `Allow`, so a
 * client can tell a wrong method from a wrong path. Runs after every router, so only misses
 * reach it. `HEAD` comes with `GET` (Express answers it); `OPTIONS` is answered for every path.
 */
export function apiMethodNotAllowed(routers: readonly Router[]): RequestHandler {
  const routes = routeMethods(routers);
  return (req, res, next) => {
    // Express routes match with or without one trailing slash, case-insensitively.
    const path = req.path.length > 1 ? req.path.replace(/\/$/, '') : req.path;
    const methods = routes.get(path) ?? [...routes].find(([p]) => p.toLowerCase() === path.toLowerCase())?.[1];
    if (!methods) {
      next();
      return;
    }
    const allow = [...methods];
    if (methods.has('GET')) allow.push('HEAD');
    allow.push('OPTIONS');
    res.setHeader('Allow', allow.join(', '));
    next(new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.baseUrl}${path}; allowed: ${allow.join(', ')}`));
  };
}

/** Unknown `/api` routes answer 404 in the API's error shape, never Express's HTML. */
export const apiNotFound: RequestHandler = (req, _res, next) => {
  next(new ApiError('NOT_FOUND', `No route ${req.method} ${req.baseUrl}${req.path}`));
};

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

/** Maps every error to one status and body; the only place that does. */
export function errorMiddleware(logger: Logger, storeRetryAfterSeconds: number): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let apiError: ApiError;
    if (err instanceof ApiError) {
      apiError = err;
    } else if (err instanceof StoreUnavailableError) {
      apiError = new ApiError('STORE_UNAVAILABLE', 'The store is unavailable; retry later', [], storeRetryAfterSeconds);
    } else if (err instanceof InvalidCursorError) {
      apiError = new ApiError('VALIDATION_FAILED', err.message, [{ path: err.field, message: 'invalid cursor' }]);
    } else if (typeof err === 'object' && err !== null && ('type' in err || 'status' in err)) {
      // body-parser errors: most carry a `type`; a corrupt gzip stream only a 400 `status`.
      const parserError = err as BodyParserError;
      switch (parserError.type) {
        case 'entity.too.large':
          apiError = new ApiError('PAYLOAD_TOO_LARGE', 'The request body is larger than MAX_BODY_BYTES (after decompression)');
          break;
        case 'entity.parse.failed':
          apiError = new ApiError('VALIDATION_FAILED', 'The request body is not valid JSON');
          break;
        case 'encoding.unsupported':
          apiError = new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Only identity and gzip Content-Encoding are accepted');
          break;
        case 'charset.unsupported':
          apiError = new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Only UTF-8 JSON is accepted');
          break;
        default:
          apiError =
            parserError.status && parserError.status >= 400 && parserError.status < 500
              ? new ApiError('VALIDATION_FAILED', 'The request body could not be read')
              : new ApiError('INTERNAL', 'Internal error');
      }
    } else {
      apiError = new ApiError('INTERNAL', 'Internal error');
    }
    if (apiError.status >= 500) {
      (res.locals['log'] as Logger | undefined ?? logger).error({ err, path: req.path }, 'request failed');
    }
    if (apiError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(apiError.retryAfterSeconds));
    if (res.headersSent) return;
    res.status(apiError.status).json(errorBody(apiError));
  };
}
