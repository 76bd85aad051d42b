import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * One pino logger per server instance (no global logger), JSON lines on stdout — or on
 * `destination` (tests read what an operator's log file would hold).
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'prepmate-sync', ...base }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
