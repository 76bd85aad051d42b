/**
 * Verification of identity-provider tokens against a remote JSON Web Key Set: jose fetches,
 * caches and selects the key; the signature is checked inline (jws.ts, no thread-pool trip).
 *
 * Caching: jose's remote set fetches once, then only when a token names a `kid` it does not hold
 * (rotation), at most once per cooldown. jose would also refetch on every verification once the
 * set is older than its `cacheMaxAge` and fail them all while the provider is down; instead the
 * set here never expires inside jose, and this module refreshes it in the background every
 * `cacheMaxAgeMs`. A failed refresh keeps the keys already held: learners with tokens signed by
 * a known key keep working through a provider outage, tokens naming a new `kid` are refused until
 * the provider answers again. A key the provider withdraws stops verifying at the next
 * successful refresh.
 */
import { createRemoteJWKSet, errors, type CryptoKey, type FlattenedJWSInput, type JWSHeaderParameters } from 'jose';
import { ASYMMETRIC_ALGORITHMS, JwsError, jwsPayload, parseJws, verifyJwsSignature, type ParsedJws } from './jws.js';

/** Asymmetric algorithms only: an HS256 token "signed" with a public key is never accepted here. */
export const JWKS_ALGORITHMS = ASYMMETRIC_ALGORITHMS;

export type JwksFailure = 'unknown-key' | 'unavailable' | 'invalid';

export class JwksError extends Error {
  constructor(readonly reason: JwksFailure) {
    super(`JWT ${reason}`);
    this.name = 'JwksError';
  }
}

export interface JwksVerifierOptions {
  readonly url: URL;
  /** Age after which the key set is refreshed in the background, ms. */
  readonly cacheMaxAgeMs: number;
  /** Least time between two fetches caused by an unknown `kid`, ms. */
  readonly cooldownMs: number;
  /** Timeout of one fetch of the key set, ms. Default 5000. */
  readonly timeoutMs?: number;
  /** A background refresh failed (the keys already held stay in use). */
  readonly onRefreshError?: (error: unknown) => void;
  readonly now?: () => number;
}

export interface JwksVerifier {
  /** The verified payload; throws {@link JwksError}. Time claims are checked by the caller. */
  verify(token: string): Promise<Record<string, unknown>>;
  /** Fetches the key set now (at start: a wrong URL shows in the log, not only as 401s). */
  refresh(): Promise<void>;
}

export function createJwksVerifier(options: JwksVerifierOptions): JwksVerifier {
  const now = options.now ?? Date.now;
  const keys = createRemoteJWKSet(options.url, {
    cacheMaxAge: Number.POSITIVE_INFINITY,
    cooldownDuration: options.cooldownMs,
    timeoutDuration: options.timeoutMs ?? 5000,
  });
  let refreshedAt = now();

  function refreshWhenStale(): void {
    if (now() - refreshedAt < options.cacheMaxAgeMs || keys.reloading) return;
    refreshedAt = now();
    keys.reload().catch((error: unknown) => options.onRefreshError?.(error));
  }

  return {
    async refresh() {
      refreshedAt = now();
      await keys.reload();
    },
    async verify(token) {
      let jws: ParsedJws;
      try {
        jws = parseJws(token);
      } catch {
        throw new JwksError('invalid');
      }
      refreshWhenStale();
      const header = jws.header as JWSHeaderParameters;
      const input: FlattenedJWSInput = { payload: jws.payloadSegment, signature: jws.signatureSegment };
      try {
        verifyJwsSignature(jws, await keys(header, input));
      } catch (error) {
        if (error instanceof errors.JWKSMultipleMatchingKeys) {
          // Several keys fit (no `kid`, or a reused one): any of them may have signed it.
          if (!(await anyKeyVerifies(jws, error))) throw new JwksError('invalid');
        } else {
          throw jwksFailure(error);
        }
      }
      // The time claims are checked by the caller, with the same rules as HS256 tokens.
      return jwsPayload(jws);
    },
  };
}

async function anyKeyVerifies(jws: ParsedJws, candidates: AsyncIterable<CryptoKey>): Promise<boolean> {
  for await (const key of candidates) {
    try {
      verifyJwsSignature(jws, key);
      return true;
    } catch {
      // Try the next one.
    }
  }
  return false;
}

function jwksFailure(error: unknown): JwksError {
  if (error instanceof JwsError) return new JwksError('invalid');
  if (error instanceof errors.JWKSNoMatchingKey) return new JwksError('unknown-key');
  // The key set could not be fetched or read (network, timeout, not 200, not a key set).
  return new JwksError(error instanceof errors.JOSEError && !(error instanceof errors.JWKSTimeout) ? 'invalid' : 'unavailable');
}
