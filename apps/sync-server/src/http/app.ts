import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Config } from '../config.js';
import { ApiError } from '../errors.js';
import { keepRawBodyForSignature } from '../security/batch-signature.js';
import type { Logger } from '../logger.js';
import { apiMethodNotAllowed, apiNotFound, errorMiddleware } from './errors.js';
import { plainJsonBody } from './plain-json-body.js';
import { securityHeaders } from './security-headers.js';
import { requestMetrics, type RequestObserver } from './request-metrics.js';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  /** Routers mounted under `/api`, in order (each applies its own auth). */
  readonly apiRouters: readonly Router[];
  /** Directory of the built Vue client, served at `/` when it exists. */
  readonly clientDir?: string;
  /** Told the route template, status and duration of every request (API response time). */
  readonly observeRequest?: RequestObserver;
}

/** Gives each request an id, a child logger, and one log line when it ends. */
function requestLogging(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ requestId });
    res.locals['requestId'] = requestId;
    res.locals['log'] = log;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}

/**
 * Dev mode answers the developer's own pages (a Vite server on another port) without CLIENT_URL,
 * but never a page from elsewhere: any site a developer visits could otherwise mint tokens and
 * read learners' data from the server on their machine.
 */
function isLoopbackOrigin(origin: string): boolean {
  try {
    const { protocol, hostname } = new URL(origin);
    return (protocol === 'http:' || protocol === 'https:') && (hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]');
  } catch {
    return false;
  }
}

function cors(config: Config): RequestHandler {
  const allowed = new Set((config.CLIENT_URL ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin && (allowed.has(origin) || (allowed.size === 0 && config.AUTH_MODE === 'dev' && isLoopbackOrigin(origin)))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Content-Encoding, X-Batch-Signature, X-Batch-Timestamp, X-Client-Id, X-Request-Id');
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After, X-Request-Id');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

/** A body on a write must be JSON: anything else is 415 before it is read. */
const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody = req.headers['content-length'] !== '0' && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
  if ((req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') && hasBody && !req.is('application/json')) {
    next(new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Request bodies must be application/json'));
    return;
  }
  next();
};

/** The Express application: middleware, `/api` routers, the built client, errors. */
export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestLogging(logger));
  if (config.SECURITY_HEADERS) app.use(securityHeaders());
  if (deps.observeRequest) app.use(requestMetrics(deps.observeRequest));
  app.use(cors(config));

  const api = express.Router();
  api.use(requireJson);
  // body-parser inflates gzip itself and applies `limit` to the inflated size, which caps zip bombs.
  // `verify` keeps the inflated bytes of signed batches: the signature covers them, not the re-serialised JSON.
  const json = express.json({ limit: config.MAX_BODY_BYTES, inflate: true, strict: true, type: 'application/json', verify: keepRawBodyForSignature });
  // The telemetry batch route (the ingestion path, up to MAX_BATCH_ITEMS items a request) reads a
  // plain identity-encoded UTF-8 body itself, with express.json's outcomes; every other body,
  // and any batch body that is not plain (gzip, chunked, another charset), goes to express.json.
  api.use(plainJsonBody({ limit: config.MAX_BODY_BYTES, verify: keepRawBodyForSignature }, (req) => req.method === 'POST' && req.path === '/telemetry/batch', json));
  for (const router of deps.apiRouters) api.use(router);
  api.use(apiMethodNotAllowed(deps.apiRouters));
  api.use(apiNotFound);
  app.use('/api', api);

  if (deps.clientDir && existsSync(join(deps.clientDir, 'index.html'))) {
    const clientDir = deps.clientDir;
    app.use(express.static(clientDir, { index: 'index.html', maxAge: '1h', setHeaders: (res, path) => {
      // The service worker and the shell must be revalidated so a new deploy is picked up.
      if (path.endsWith('sw.js') || path.endsWith('index.html')) res.setHeader('Cache-Control', 'no-cache');
    } }));
    // Client-side routes fall back to the app shell.
    app.get(/^\/(?!api\/|sync\/).*/, (_req, res) => {
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(join(clientDir, 'index.html'));
    });
  }

  app.use(errorMiddleware(logger, Math.max(1, Math.ceil(config.RETRY_DELAY_MS / 1000))));
  return app;
}
