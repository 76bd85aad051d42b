import type { RequestHandler } from 'express';

/** Receives one finished request (server.ts connects it to the metrics registry). */
export type RequestObserver = (method: string, route: string, status: number, seconds: number) => void;

/**
 * The route label is the matched route template (`/api/telemetry/batch`), never the raw path:
 * paths carry ids, and one series per id would exhaust Prometheus. Requests that matched no API
 * route count as `/api/*unmatched`; everything outside `/api` (the app's files) as `static`.
 */
export function routeLabel(originalUrl: string, routePath: unknown): string {
  const api = originalUrl === '/api' || originalUrl.startsWith('/api/') || originalUrl.startsWith('/api?');
  if (!api) return 'static';
  return typeof routePath === 'string' ? `/api${routePath}` : '/api/*unmatched';
}

/** Times every request from arrival to the last byte written. */
export function requestMetrics(observe: RequestObserver): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // `req.route` is the route that answered (it stays set after the router returns).
      const route = routeLabel(req.originalUrl, (req.route as { path?: unknown } | undefined)?.path);
      observe(req.method, route, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
