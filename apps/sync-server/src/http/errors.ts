import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ApiError } from '../errors.js';
import { StoreUnavailableError } from '../storage/errors.js';
import type { Logger } from '../logger.js';
import { InvalidCursorError } from '../storage/errors.js';

/** The API's error body (docs/api.md). */
export function errorBody(error: ApiError): { success: false; error: { code: string; message: string; details: readonly unknown[] } } {
  return { success: false, error: { code: error.code, message: error.message, details: error.details } };
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
