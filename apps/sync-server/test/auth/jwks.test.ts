import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwksVerifier } from '../../src/auth/jwks.js';
import { createTokenService } from '../../src/auth/tokens.js';
import { defaultClaimPolicy } from '../../src/auth/claims.js';
import { until } from '../helpers/sync.js';
import { AUDIENCE, ISSUER, providerKey, providerToken, startJwksServer, type JwksServer, type ProviderKey } from './jwks-server.js';
import { startRealServer, type RealServer } from './real-server.js';

const SECRET = 'jwks-suite-hs256-secret-of-32-characters-at-least';
const LEARNER_CLAIM = 'https://prepmate.example/learner';

describe('identity-provider tokens (JWT_JWKS_URL) on REST and the WebSocket upgrade', () => {
  let rsa: ProviderKey;
  let ec: ProviderKey;
  let jwks: JwksServer;
  let real: RealServer;

  beforeAll(async () => {
    [rsa, ec] = await Promise.all([providerKey('rsa-1', 'RS256'), providerKey('ec-1', 'ES256')]);
    jwks = await startJwksServer([rsa, ec]);
    real = await startRealServer({
      AUTH_MODE: 'jwt',
      // HS256 stays available beside the provider: tools mint service tokens with it.
      JWT_SECRET: SECRET,
      JWT_JWKS_URL: jwks.url,
      JWT_JWKS_COOLDOWN_SECONDS: '0',
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: `other-api,${AUDIENCE}`,
      JWT_USER_CLAIM: LEARNER_CLAIM,
      JWT_ROLE_CLAIM: 'realm_access.roles',
      JWT_SERVICE_ROLE: 'prepmate-service',
    });
  });
  afterAll(async () => {
    await real?.close();
    // Already stopped by the outage test unless it failed first; stopping twice is harmless.
    await jwks?.stop();
  });

  it('when RS256 and ES256 tokens of the provider arrive, then REST answers 200 and the upgrade opens, for the mapped learner only', async () => {
    for (const key of [rsa, ec]) {
      const token = await providerToken(key, { sub: 'auth0|abc', [LEARNER_CLAIM]: `ada_${key.alg}` });
      expect(await real.rest(token), key.alg).toBe(200);
      expect(await real.upgrade(token, `ada_${key.alg}`), key.alg).toBe(101);
      expect(await real.upgrade(token, 'grace'), `${key.alg} for another learner`).toBe(403);
      expect(await real.rest(token, '/api/progress?userId=grace'), `${key.alg} acting for another learner`).toBe(403);
    }
  });

  it('when the role claim (a nested array) holds the service role, then the token may act for any learner', async () => {
    const service = await providerToken(ec, { [LEARNER_CLAIM]: 'reports', realm_access: { roles: ['offline_access', 'prepmate-service'] } });
    const learner = await providerToken(ec, { [LEARNER_CLAIM]: 'reports2', realm_access: { roles: ['offline_access'] } });
    expect(await real.rest(service, '/api/progress?userId=grace')).toBe(200);
    expect(await real.upgrade(service, 'grace')).toBe(101);
    expect(await real.rest(learner, '/api/progress?userId=grace')).toBe(403);
  });

  it('when the provider rotates to a new key, then tokens of the new kid verify (one fetch), and an unknown kid is refused', async () => {
    const rotated = await providerKey('rsa-2', 'RS256');
    jwks.keys = [rotated, ec];
    const before = jwks.fetches;
    const token = await providerToken(rotated, { [LEARNER_CLAIM]: 'rotated' });
    expect(await real.rest(token)).toBe(200);
    expect(await real.upgrade(token, 'rotated')).toBe(101);
    expect(jwks.fetches).toBe(before + 1);

    const stranger = await providerKey('nobody-knows', 'RS256');
    const unknown = await providerToken(stranger, { [LEARNER_CLAIM]: 'rotated' });
    expect(await real.rest(unknown)).toBe(401);
    expect(await real.upgrade(unknown, 'rotated')).toBe(401);
    // A known kid with a signature of another key is a forgery, not a rotation.
    const forged = await providerToken(stranger, { [LEARNER_CLAIM]: 'rotated' }, { kid: rotated.kid });
    expect(await real.rest(forged)).toBe(401);
    expect(await real.upgrade(forged, 'rotated')).toBe(401);
  });

  it('when issuer, audience, expiry or lifetime are wrong, then REST and the upgrade answer 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Record<string, unknown>][] = [
      ['wrong issuer', { iss: 'https://evil.example/' }],
      ['no issuer', { iss: undefined }],
      ['wrong audience', { aud: 'someone-else' }],
      ['no audience', { aud: undefined }],
      ['expired', { iat: now - 1200, exp: now - 600 }],
      ['no exp', { exp: undefined }],
      ['a lifetime over the maximum', { exp: now + 30 * 24 * 3600 }],
      ['no learner claim', { [LEARNER_CLAIM]: undefined, sub: 'grace' }],
    ];
    for (const [name, claims] of cases) {
      const token = await providerToken(ec, { [LEARNER_CLAIM]: 'grace', ...claims });
      expect(await real.rest(token), name).toBe(401);
      expect(await real.upgrade(token, 'grace'), name).toBe(401);
    }
  });

  it('when an HS256 token is "signed" with the provider\'s public key (algorithm confusion), then it is refused', async () => {
    const payload = { iss: ISSUER, aud: AUDIENCE, [LEARNER_CLAIM]: 'grace', sub: 'grace' };
    for (const secret of [rsa.spki, JSON.stringify(rsa.jwk), ec.spki]) {
      const token = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode(secret));
      expect(await real.rest(token)).toBe(401);
      expect(await real.upgrade(token, 'grace')).toBe(401);
    }
    // The same token under the real HS256 secret is accepted: the refusal above is the key, not the shape.
    const genuine = await real.server.tokens.sign('grace');
    expect(await real.rest(genuine)).toBe(200);
  });

  it("when a token claims alg none with a provider's kid, then it is refused", async () => {
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) + 600;
    const none = `${b64({ alg: 'none', kid: ec.kid })}.${b64({ iss: ISSUER, aud: AUDIENCE, [LEARNER_CLAIM]: 'grace', exp })}.`;
    expect(await real.rest(none)).toBe(401);
    expect(await real.upgrade(none, 'grace')).toBe(401);
  });

  // Last in this suite: it stops the provider.
  it('when the provider goes down, then REST and the upgrade keep accepting tokens of keys already held and refuse a new kid', async () => {
    const held = await providerToken(ec, { [LEARNER_CLAIM]: 'outage' });
    expect(await real.rest(held)).toBe(200);
    await jwks.stop();
    expect(await real.rest(held)).toBe(200);
    expect(await real.upgrade(held, 'outage')).toBe(101);
    const unseen = await providerToken(await providerKey('published-during-outage', 'ES256'), { [LEARNER_CLAIM]: 'outage' });
    expect(await real.rest(unseen)).toBe(401);
    expect(await real.upgrade(unseen, 'outage')).toBe(401);
  });
});

describe('a token service that trusts only the provider (no JWT_SECRET)', () => {
  it('when an HS256 token signed with the public key arrives, then it is refused, while an RS256 one verifies', async () => {
    const key = await providerKey('k1', 'RS256');
    const jwks = await startJwksServer([key]);
    try {
      const tokens = createTokenService(null, { jwks: createJwksVerifier({ url: new URL(jwks.url), cacheMaxAgeMs: 600_000, cooldownMs: 0 }) });
      const confused = await new SignJWT({ sub: 'grace' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode(key.spki));
      await expect(tokens.verify(confused)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await expect(tokens.verify(await providerToken(key, { sub: 'grace' }))).resolves.toMatchObject({ userId: 'grace', role: 'learner' });
      await expect(tokens.sign('grace')).rejects.toThrow(/JWT_SECRET/);
    } finally {
      await jwks.stop();
    }
  });
});

describe('the provider\'s key set endpoint goes down', () => {
  let jwks: JwksServer;
  afterAll(async () => {
    await jwks?.stop();
  });

  it('when it is unreachable past the cache age, then tokens of keys already held keep verifying and a new kid is refused', async () => {
    const known = await providerKey('known', 'ES256');
    jwks = await startJwksServer([known]);
    const refreshFailures: unknown[] = [];
    const tokens = createTokenService(null, {
      policy: defaultClaimPolicy,
      jwks: createJwksVerifier({ url: new URL(jwks.url), cacheMaxAgeMs: 50, cooldownMs: 0, timeoutMs: 1000, onRefreshError: (e) => refreshFailures.push(e) }),
    });
    const token = await providerToken(known, { sub: 'grace' });
    await expect(tokens.verify(token)).resolves.toMatchObject({ userId: 'grace' });
    await jwks.stop();

    // Every verification past the cache age starts a background refresh, which fails; until one
    // has failed, every verification of the known key must still succeed.
    await until(async () => {
      await expect(tokens.verify(token)).resolves.toMatchObject({ userId: 'grace' });
      return refreshFailures.length > 0;
    }, 'a failed background refresh');
    await expect(tokens.verify(token)).resolves.toMatchObject({ userId: 'grace' });

    const fresh = await providerKey('published-while-down', 'ES256');
    await expect(tokens.verify(await providerToken(fresh, { sub: 'grace' }))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(tokens.verify(token)).resolves.toMatchObject({ userId: 'grace' });
  });
});
