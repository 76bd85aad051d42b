import type { IncomingMessage } from 'node:http';
import type { Logger } from '../logger.js';

/** Called for every refused upgrade. */
export type RefusalLog = (req: IncomingMessage, status: number, code: string) => void;

export interface RefusalLogOptions {
  /** Lines per window; refusals beyond it are counted and reported in one line when the next window opens. Default 20. */
  readonly perWindow?: number;
  /** Default 60 000 ms. */
  readonly windowMs?: number;
  readonly now?: () => number;
}

/**
 * Logs refused WebSocket upgrades (bad token, someone else's document, bad name, shutdown) so an
 * operator sees probing — rate-limited, so a flood of refusals cannot flood the log, and
 * without the query string, which carries the token.
 */
export function createRefusalLog(logger: Logger, options: RefusalLogOptions = {}): RefusalLog {
  const perWindow = options.perWindow ?? 20;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  let windowStart = now();
  let logged = 0;
  let suppressed = 0;
  return (req, status, code) => {
    const t = now();
    if (t - windowStart >= windowMs) {
      if (suppressed > 0) logger.warn({ suppressed, windowMs }, 'sync: more upgrades were refused than logged');
      windowStart = t;
      logged = 0;
      suppressed = 0;
    }
    if (logged >= perWindow) {
      suppressed += 1;
      return;
    }
    logged += 1;
    const path = (req.url ?? '/').split('?')[0];
    logger.warn({ status, code, path, ip: req.socket.remoteAddress ?? null }, 'sync: upgrade refused');
  };
}
