import { pino, type Logger } from 'pino';

export type { Logger };

/** One pino logger per server instance (no global logger), JSON lines on stdout. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'prepmate-sync', ...base }, timestamp: pino.stdTimeFunctions.isoTime });
}
