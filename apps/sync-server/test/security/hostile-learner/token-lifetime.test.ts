import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRealServer, type RealServer } from '../../auth/real-server.js';

const SECRET = 'hostile-learner-lifetime-secret-0123456789';
const key = new TextEncoder().encode(SECRET);
const now = (): number => Math.floor(Date.now() / 1000);

/** A token signed with the server's own secret, with exactly these claims. */
const signed = (claims: Record<string, unknown>): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);

/** A stolen token must stop working: no token is valid forever, and the issuer/audience pin who minted it for whom. */
describe('hostile learner: tokens expire and name their issuer and audience', () => {
  let real: RealServer;
  beforeAll(async () => {
    real = await startRealServer({
      AUTH_MODE: 'jwt',
      JWT_SECRET: SECRET,
      JWT_MAX_LIFETIME_SECONDS: '3600',
      JWT_ISSUER: 'https://auth.prepmate.example/',
      JWT_AUDIENCE: 'prepmate-sync',
    });
  });
  afterAll(async () => {
    await real?.close();
  });

  const good = { sub: 'mallory', iss: 'https://auth.prepmate.example/', aud: 'prepmate-sync' };

  it('when a token has no exp, then REST and the socket upgrade refuse it', async () => {
    const forever = await signed({ ...good, iat: now() });
    expect(await real.rest(forever)).toBe(401);
    expect(await real.upgrade(forever, 'mallory')).toBe(401);
    const service = await signed({ ...good, sub: 'ops', role: 'service', iat: now() });
    expect(await real.rest(service, '/api/progress?userId=mallory')).toBe(401);
  });

  it('when a token lives longer than JWT_MAX_LIFETIME_SECONDS, then it is refused, by iat or by exp alone', async () => {
    const longIat = await signed({ ...good, iat: now(), exp: now() + 7200 });
    const longNoIat = await signed({ ...good, exp: now() + 7200 });
    // Backdating iat does not shorten a lifetime measured from now.
    const backdated = await signed({ ...good, iat: now() - 3000, exp: now() + 3500 });
    for (const token of [longIat, longNoIat, backdated]) {
      expect(await real.rest(token)).toBe(401);
      expect(await real.upgrade(token, 'mallory')).toBe(401);
    }
    const withinLimit = await signed({ ...good, iat: now(), exp: now() + 3500 });
    expect(await real.rest(withinLimit)).toBe(200);
    expect(await real.upgrade(withinLimit, 'mallory')).toBe(101);
  });

  it('when the issuer or the audience is missing or wrong, then the token is refused', async () => {
    const exp = now() + 600;
    for (const claims of [{ iss: undefined }, { iss: 'https://evil.example/' }, { aud: undefined }, { aud: ['other-api'] }]) {
      const token = await signed({ ...good, exp, ...claims });
      expect(await real.rest(token), JSON.stringify(claims)).toBe(401);
      expect(await real.upgrade(token, 'mallory'), JSON.stringify(claims)).toBe(401);
    }
    expect(await real.rest(await signed({ ...good, exp, aud: ['other-api', 'prepmate-sync'] }))).toBe(200);
  });

  it('when the server mints a token (tools, tests), then it carries exp within the maximum, the issuer and the audience', async () => {
    const token = await real.server.tokens.sign('mallory', { role: 'service', expiresInSeconds: 30 * 24 * 3600 });
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, number | string>;
    expect(Number(claims['exp']) - Number(claims['iat'])).toBe(3600);
    expect(claims).toMatchObject({ iss: 'https://auth.prepmate.example/', aud: 'prepmate-sync', role: 'service' });
    expect(await real.rest(token, '/api/progress?userId=someone')).toBe(200);
  });
});

describe('hostile learner: the dev-token route', () => {
  let real: RealServer;
  beforeAll(async () => {
    real = await startRealServer({ NODE_ENV: 'test', AUTH_MODE: 'dev', JWT_SECRET: SECRET, JWT_MAX_LIFETIME_SECONDS: '600' });
  });
  afterAll(async () => {
    await real?.close();
  });

  it('when a dev token is issued, then it expires within JWT_MAX_LIFETIME_SECONDS', async () => {
    const res = await fetch(`${real.server.url}/api/auth/dev-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'ada' }) });
    const { token } = (await res.json()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBe(600);
    expect(await real.rest(token)).toBe(200);
  });
});
