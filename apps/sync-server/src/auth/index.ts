import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { ClaimPolicy } from './claims.js';
import { createJwksVerifier } from './jwks.js';
import { createTokenService, type TokenService } from './tokens.js';

export { loadOrCreateDevSecret, type Principal, type TokenService } from './tokens.js';

/** The token rules of the configuration (issuer, audience, claim mapping, lifetime). */
export function claimPolicyOf(config: Config): ClaimPolicy {
  return {
    issuer: config.JWT_ISSUER ?? null,
    audiences: (config.JWT_AUDIENCE ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    userClaim: config.JWT_USER_CLAIM,
    roleClaim: config.JWT_ROLE_CLAIM,
    serviceRole: config.JWT_SERVICE_ROLE,
    maxLifetimeSeconds: config.JWT_MAX_LIFETIME_SECONDS,
  };
}

/**
 * The token service of a running server. HS256 uses JWT_SECRET, or in dev mode `devSecret`
 * (generated in DATA_DIR); in jwt mode without JWT_SECRET only the key set of JWT_JWKS_URL
 * verifies, and the server signs nothing.
 */
export function createConfiguredTokenService(config: Config, devSecret: string, logger: Logger): TokenService {
  const secret = config.JWT_SECRET ?? (config.AUTH_MODE === 'dev' ? devSecret : null);
  const jwks = config.JWT_JWKS_URL
    ? createJwksVerifier({
        url: new URL(config.JWT_JWKS_URL),
        cacheMaxAgeMs: config.JWT_JWKS_CACHE_SECONDS * 1000,
        cooldownMs: config.JWT_JWKS_COOLDOWN_SECONDS * 1000,
        onRefreshError: (error) =>
          logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'auth: refreshing JWT_JWKS_URL failed; the keys already fetched stay in use'),
      })
    : undefined;
  jwks?.refresh().then(
    () => logger.info('auth: fetched the key set of JWT_JWKS_URL'),
    (error: unknown) =>
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'auth: JWT_JWKS_URL could not be fetched at start; provider tokens are refused until it answers'),
  );
  return createTokenService(secret, { policy: claimPolicyOf(config), ...(jwks ? { jwks } : {}) });
}
