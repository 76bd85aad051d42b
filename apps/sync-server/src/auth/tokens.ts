import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { ApiError } from '../errors.js';
import { defaultClaimPolicy, principalFromClaims, type ClaimPolicy, type Principal } from './claims.js';
import { JwtError, verifyHs256 } from './hs256.js';
import { JwksError, type JwksVerifier } from './jwks.js';

export type { Principal } from './claims.js';
export { actingUserId, requestedUserId } from './acting.js';

export interface TokenService {
  /**
   * A token of this server's own (HS256), for the dev-token route, tests and tools. Its lifetime
   * is `expiresInSeconds` (default 7 days), never more than the policy's maximum.
   */
  sign(userId: string, options?: { role?: 'learner' | 'service'; expiresInSeconds?: number }): Promise<string>;
  /**
   * Throws `ApiError('UNAUTHORIZED')` for a missing, malformed, forged, expired, unbounded (no
   * `exp`, too long) or `alg: none` token, a wrong issuer or audience, or a key nobody knows.
   */
  verify(token: string | undefined | null): Promise<Principal>;
}

export interface TokenServiceOptions {
  readonly policy?: ClaimPolicy;
  /** Verifies tokens signed by an identity provider (any algorithm but HS256). */
  readonly jwks?: JwksVerifier;
  /** HS256 tokens remembered once verified (see {@link createTokenService}). Default {@link DEFAULT_VERIFIED_TOKENS}; 0: none. */
  readonly verifiedTokens?: number;
}

const DEFAULT_LIFETIME_SECONDS = 7 * 24 * 3600;

/**
 * HS256 tokens remembered after their first verification. One client opens several sockets with
 * one token (a document per socket) and calls the REST API with it, and all of them come back at
 * once after a reconnect: each was a full verification (two base64url decodes and JSON parses, an
 * HMAC, the claim checks). Bounded: at most this many tokens (the oldest is forgotten first), a
 * few hundred bytes each.
 */
export const DEFAULT_VERIFIED_TOKENS = 1024;

/** The `alg` of a compact JWS, or null when the header is not readable. */
function algorithmOf(token: string): string | null {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    const alg = typeof header === 'object' && header !== null ? (header as Record<string, unknown>)['alg'] : undefined;
    return typeof alg === 'string' ? alg : null;
  } catch {
    return null;
  }
}

const JWKS_MESSAGES: Record<JwksError['reason'], string> = {
  'unknown-key': 'The token is signed by an unknown key',
  unavailable: 'The token cannot be verified right now: the identity provider\'s keys are unreachable',
  invalid: 'The token is invalid',
};

/**
 * HS256 tokens are verified with `secret` (inline, see hs256.ts); any other algorithm only
 * through `options.jwks`. Pinning each algorithm to its key source refuses `alg: none` and key
 * confusion (an HS256 token whose "secret" is a provider's public key). A null `secret` accepts
 * no HS256 token and signs none.
 */
export function createTokenService(secret: string | null, options: TokenServiceOptions = {}): TokenService {
  const key = secret === null ? null : new TextEncoder().encode(secret);
  const policy = options.policy ?? defaultClaimPolicy;
  const jwks = options.jwks ?? null;
  const maxVerified = options.verifiedTokens ?? DEFAULT_VERIFIED_TOKENS;
  /**
   * HS256 tokens this service verified, by their exact text, with what they proved. Only the
   * expiry is checked again on a hit: a principal valid once stays valid until `exp` (the other
   * time rules, `nbf` and the longest lifetime, only get easier as time passes), and the key
   * cannot change while the process runs. Erasure is not a token property: callers check it per
   * request and per socket, as before. Provider tokens (JWKS) are verified every time: their key
   * set can change.
   */
  const verified = new Map<string, Principal>();

  function remember(token: string, principal: Principal): void {
    if (maxVerified <= 0) return;
    if (verified.size >= maxVerified) verified.delete(verified.keys().next().value as string);
    verified.set(token, principal);
  }

  return {
    async sign(userId, signOptions = {}) {
      if (key === null) throw new Error('this server has no JWT_SECRET to sign tokens with');
      const claims: Record<string, unknown> = {};
      // By exact name, dotted or not: claimAt reads exact names first.
      if (policy.userClaim !== 'sub') claims[policy.userClaim] = userId;
      if (signOptions.role === 'service') {
        claims[policy.roleClaim] = policy.serviceRole;
      }
      const lifetime = Math.min(signOptions.expiresInSeconds ?? DEFAULT_LIFETIME_SECONDS, policy.maxLifetimeSeconds);
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(userId).setIssuedAt();
      if (policy.issuer !== null) jwt.setIssuer(policy.issuer);
      if (policy.audiences.length > 0) jwt.setAudience(policy.audiences[0] as string);
      jwt.setExpirationTime(Math.floor(Date.now() / 1000) + lifetime);
      return jwt.sign(key);
    },
    async verify(token) {
      if (!token) throw new ApiError('UNAUTHORIZED', 'A bearer token is required');
      const known = verified.get(token);
      if (known) {
        // The same boundary as verifyHs256: expired from `exp` (whole seconds) on.
        if (Math.floor(Date.now() / 1000) * 1000 < known.expiresAt) return known;
        verified.delete(token);
        throw new ApiError('UNAUTHORIZED', 'The token has expired');
      }
      let payload: Record<string, unknown>;
      if (algorithmOf(token) === 'HS256' || jwks === null) {
        if (key === null) throw new ApiError('UNAUTHORIZED', 'The token is invalid');
        try {
          // Inline HMAC, not a thread-pool round trip: see hs256.ts.
          payload = verifyHs256(token, key, Math.floor(Date.now() / 1000));
        } catch (error) {
          const reason = error instanceof JwtError && error.reason === 'expired' ? 'The token has expired' : 'The token is invalid';
          throw new ApiError('UNAUTHORIZED', reason);
        }
        const principal = principalFromClaims(payload, policy, Math.floor(Date.now() / 1000));
        remember(token, principal);
        return principal;
      } else {
        try {
          payload = await jwks.verify(token);
        } catch (error) {
          throw new ApiError('UNAUTHORIZED', error instanceof JwksError ? JWKS_MESSAGES[error.reason] : 'The token is invalid');
        }
      }
      return principalFromClaims(payload, policy, Math.floor(Date.now() / 1000));
    },
  };
}

/**
 * The dev-mode secret: generated once and kept in DATA_DIR so that tokens survive restarts
 * without any configuration. Never used when JWT_SECRET is set.
 */
export function loadOrCreateDevSecret(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'jwt-secret');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch {
    // First start: fall through and create it.
  }
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
