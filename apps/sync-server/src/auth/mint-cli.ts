import { parseArgs } from 'node:util';
import { config as loadDotenv } from 'dotenv';
import { userIdSchema } from '@prepmate/crdt-model';
import { ConfigError, loadConfig } from '../config.js';
import { claimPolicyOf } from './index.js';
import { createTokenService, loadOrCreateDevSecret } from './tokens.js';

const usage = `Usage:
  npm run mint-token -- --user ID [--service] [--ttl SECONDS]
Prints an HS256 token signed with JWT_SECRET (dev mode: DATA_DIR/jwt-secret), with the issuer,
audience and claim names of the configuration (.env is read). --ttl defaults to the shortest of
1 day and JWT_MAX_LIFETIME_SECONDS; every token has an exp, so mint service tokens (metrics
scrapers, back-office jobs) on a schedule shorter than their lifetime.`;

/**
 * `npm run mint-token`: tokens for tools, since every token now needs an `exp` and a scraper's
 * token can no longer be minted once and kept forever.
 */
function main(argv: readonly string[]): Promise<number> | number {
  const { values } = parseArgs({
    args: [...argv],
    options: { user: { type: 'string' }, service: { type: 'boolean', default: false }, ttl: { type: 'string' }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help || values.user === undefined) {
    process.stdout.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  const user = userIdSchema.safeParse(values.user);
  if (!user.success) {
    process.stderr.write('--user: accepts 1–128 characters of A-Z a-z 0-9 _ -\n');
    return 2;
  }
  loadDotenv({ quiet: true });
  const config = loadConfig(process.env);
  const policy = claimPolicyOf(config);
  const ttl = values.ttl === undefined ? Math.min(86_400, policy.maxLifetimeSeconds) : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > policy.maxLifetimeSeconds) {
    process.stderr.write(`--ttl: accepts an integer number of seconds from 1 to ${policy.maxLifetimeSeconds} (JWT_MAX_LIFETIME_SECONDS)\n`);
    return 2;
  }
  const secret = config.JWT_SECRET ?? (config.AUTH_MODE === 'dev' ? loadOrCreateDevSecret(config.DATA_DIR) : null);
  if (secret === null) {
    process.stderr.write('JWT_SECRET: required to mint tokens (with only JWT_JWKS_URL, your identity provider issues them)\n');
    return 1;
  }
  return createTokenService(secret, { policy })
    .sign(user.data, { role: values.service ? 'service' : 'learner', expiresInSeconds: ttl })
    .then((token) => {
      process.stdout.write(`${token}\n`);
      return 0;
    });
}

Promise.resolve()
  .then(() => main(process.argv.slice(2)))
  .then(
    (code) => process.exit(code),
    (error: unknown) => {
      // A bad variable (ConfigError, secrets already hidden) or a bad option (parseArgs).
      const badOption = error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS');
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${badOption ? `${usage}\n` : ''}`);
      process.exit(error instanceof ConfigError ? 1 : 2);
    },
  );
