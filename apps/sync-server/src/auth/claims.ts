/**
 * From a verified token's claims to a {@link Principal}: the checks every token passes whoever
 * signed it (our HS256 secret or an identity provider's key set), and the mapping of the
 * provider's claims to a learner id and a role.
 */
import { userIdSchema } from '@prepmate/crdt-model';
import { asUserId, type UserId } from '../ids.js';
import { ApiError } from '../errors.js';

/** Who is calling: a learner acts for itself; a service may act for any learner. */
export interface Principal {
  readonly userId: UserId;
  readonly role: 'learner' | 'service';
  /**
   * When the token stops being valid (`exp`), ms since epoch. REST checks the token per request;
   * a WebSocket outlives its upgrade, so the sync endpoint keeps this and closes the socket when
   * it passes.
   */
  readonly expiresAt: number;
  /**
   * When the token was issued (`iat`), ms since epoch; without `iat`, the earliest time it can
   * have been issued (`exp` − the maximum lifetime). A token issued before the learner was
   * erased is refused (410 on REST, 4410 on a socket).
   */
  readonly issuedAt: number;
}

export interface ClaimPolicy {
  /** Required `iss`; null: not checked. */
  readonly issuer: string | null;
  /** Accepted `aud` values (a token must name one); empty: not checked. */
  readonly audiences: readonly string[];
  /** Claim (or dotted path) holding the learner id. */
  readonly userClaim: string;
  /** Claim (or dotted path) holding the role: a string or an array of strings. */
  readonly roleClaim: string;
  /** The role value that makes a service token. */
  readonly serviceRole: string;
  /** Longest accepted lifetime, seconds: tokens without `exp` are refused. */
  readonly maxLifetimeSeconds: number;
}

export const defaultClaimPolicy: ClaimPolicy = {
  issuer: null,
  audiences: [],
  userClaim: 'sub',
  roleClaim: 'role',
  serviceRole: 'service',
  maxLifetimeSeconds: 7 * 24 * 3600,
};

/**
 * An issuer's clock may run ahead of ours: a token minted "now" with the longest lifetime may
 * look this much longer than the maximum here.
 */
const CLOCK_SKEW_SECONDS = 60;

/**
 * A claim by exact name first (providers namespace custom claims with URLs full of dots, e.g.
 * `https://prepmate.example/role`), else by dotted path (`realm_access.roles`).
 */
export function claimAt(payload: Record<string, unknown>, name: string): unknown {
  if (name in payload) return payload[name];
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function unauthorized(message: string): ApiError {
  return new ApiError('UNAUTHORIZED', message);
}

/** Throws `ApiError('UNAUTHORIZED')` naming the first rule the claims break. */
export function principalFromClaims(payload: Record<string, unknown>, policy: ClaimPolicy, nowSeconds: number): Principal {
  const exp = payload['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw unauthorized('The token has no expiry (exp)');
  if (exp <= nowSeconds) throw unauthorized('The token has expired');
  const iat = payload['iat'];
  const nbf = payload['nbf'];
  if ((iat !== undefined && typeof iat !== 'number') || (nbf !== undefined && typeof nbf !== 'number')) throw unauthorized('The token is invalid');
  if (typeof nbf === 'number' && nbf > nowSeconds) throw unauthorized('The token is not valid yet (nbf)');
  const tooLong =
    exp - nowSeconds > policy.maxLifetimeSeconds + CLOCK_SKEW_SECONDS ||
    (typeof iat === 'number' && exp - iat > policy.maxLifetimeSeconds);
  if (tooLong) throw unauthorized(`The token lives longer than ${policy.maxLifetimeSeconds} s (JWT_MAX_LIFETIME_SECONDS)`);
  if (policy.issuer !== null && payload['iss'] !== policy.issuer) throw unauthorized('The token issuer (iss) is not accepted');
  if (policy.audiences.length > 0) {
    const aud = payload['aud'];
    const named = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!named.some((a) => typeof a === 'string' && policy.audiences.includes(a))) throw unauthorized('The token audience (aud) is not accepted');
  }
  const user = userIdSchema.safeParse(claimAt(payload, policy.userClaim));
  if (!user.success) throw unauthorized(`The token's ${policy.userClaim} claim is not a valid userId (1–128 of A-Z a-z 0-9 _ -)`);
  const role = claimAt(payload, policy.roleClaim);
  const roles = typeof role === 'string' ? [role] : Array.isArray(role) ? role : [];
  return {
    userId: asUserId(user.data),
    role: roles.includes(policy.serviceRole) ? 'service' : 'learner',
    expiresAt: exp * 1000,
    issuedAt: (typeof iat === 'number' ? iat : exp - policy.maxLifetimeSeconds) * 1000,
  };
}
