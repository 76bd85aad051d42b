import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { userIdSchema } from '@prepmate/crdt-model';
import { ApiError } from '../errors.js';
import { asUserId, type UserId } from '../ids.js';
import { JwtError, verifyHs256 } from './hs256.js';

/** Who is calling: a learner acts for itself; a service may act for any learner. */
export interface Principal {
  readonly userId: UserId;
  readonly role: 'learner' | 'service';
  /**
   * When the token stops being valid (`exp`), ms since epoch; null for a token without `exp`.
   * REST checks the token per request; a WebSocket outlives its upgrade, so the sync endpoint
   * keeps this and closes the socket when it passes.
   */
  readonly expiresAt: number | null;
}

export interface TokenService {
  sign(userId: string, options?: { role?: 'learner' | 'service'; expiresInSeconds?: number }): Promise<string>;
  /** Throws `ApiError('UNAUTHORIZED')` for a missing, malformed, forged, expired or `alg: none` token. */
  verify(token: string | undefined | null): Promise<Principal>;
}

/** HS256 only: pinning the algorithm refuses `alg: none` and key-confusion tokens. */
export function createTokenService(secret: string): TokenService {
  const key = new TextEncoder().encode(secret);
  return {
    async sign(userId, options = {}) {
      const jwt = new SignJWT(options.role === 'service' ? { role: 'service' } : {})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuedAt();
      jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 7 * 24 * 3600));
      return jwt.sign(key);
    },
    async verify(token) {
      if (!token) throw new ApiError('UNAUTHORIZED', 'A bearer token is required');
      let payload: Record<string, unknown>;
      try {
        // Inline HMAC, not a thread-pool round trip: see hs256.ts.
        payload = verifyHs256(token, key, Math.floor(Date.now() / 1000));
      } catch (error) {
        const reason = error instanceof JwtError && error.reason === 'expired' ? 'The token has expired' : 'The token is invalid';
        throw new ApiError('UNAUTHORIZED', reason);
      }
      const sub = userIdSchema.safeParse(payload['sub']);
      if (!sub.success) throw new ApiError('UNAUTHORIZED', 'The token subject is not a valid userId');
      const exp = payload['exp'];
      return {
        userId: asUserId(sub.data),
        role: payload['role'] === 'service' ? 'service' : 'learner',
        expiresAt: typeof exp === 'number' ? exp * 1000 : null,
      };
    },
  };
}

/**
 * The dev-mode secret: generated once and kept in DATA_DIR so that tokens survive restarts
 * without any configuration. Never used when JWT_SECRET is set.
 */
export function loadOrCreateDevSecret(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
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

/** The learner whose data a request addresses: self, or any learner for a service. */
export function actingUserId(principal: Principal, requested: unknown): UserId {
  if (requested === undefined || requested === null || requested === '') return principal.userId;
  const parsed = userIdSchema.safeParse(requested);
  if (!parsed.success) throw new ApiError('VALIDATION_FAILED', 'userId is not valid', [{ path: 'userId', message: 'expected 1–128 characters of [A-Za-z0-9_-]' }]);
  if (parsed.data !== principal.userId && principal.role !== 'service') {
    throw new ApiError('FORBIDDEN', 'Only a service token may act for another learner');
  }
  return asUserId(parsed.data);
}
