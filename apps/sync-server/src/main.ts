import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { config as loadDotenv } from 'dotenv';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

/** Entry point of `npm start`: read `.env`, validate, start, stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.LOG_LEVEL);
  const here = dirname(fileURLToPath(import.meta.url));
  const clientDir = join(here, '..', '..', 'client', 'dist');
  let server;
  try {
    server = await startServer(config, { logger, clientDir });
  } catch (error) {
    // Start-up checks that need the store (e.g. stored ciphertext under an unknown key) are
    // configuration errors too: the same one-line message and exit code as a bad variable.
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  if (config.AUTH_MODE === 'dev') {
    // Loud on purpose: the one setting that turns a developer's server into an open one.
    logger.warn({ host: config.HOST }, 'AUTH_MODE=dev: anyone who reaches this server can mint a token for any learner');
    process.stderr.write(devModeWarning(config.HOST));
  }
  logger.info({ url: server.url, store: server.store.kind }, 'PrepMate Sync listening');
  process.stdout.write(`PrepMate Sync listening on ${server.url}\n`);

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(1);
    logger.info({ signal }, 'stopping');
    // docs/operations.md promises exit within 10 s; a stuck store must not hold the process.
    const deadline = setTimeout(() => {
      logger.error('graceful stop took longer than 9 s; exiting');
      process.exit(1);
    }, 9_000);
    deadline.unref();
    server.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

function devModeWarning(host: string): string {
  return [
    '',
    '  !!! AUTH_MODE=dev: ANYONE WHO CAN REACH THIS SERVER CAN MINT A TOKEN FOR ANY LEARNER !!!',
    `  POST /api/auth/dev-token is open (bound to ${host}). For a developer's own machine only.`,
    '  In production set AUTH_MODE=jwt with JWT_SECRET or JWT_JWKS_URL (NODE_ENV=production refuses dev).',
    '',
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`PrepMate Sync failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
