import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { compactVerify, createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwsError, parseJws, verifyJwsSignature } from '../../src/auth/jws.js';

const ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

async function keyFor(alg: string, options: { modulusLength?: number } = {}): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg } };
}

/** The key exactly as the server gets it: chosen and imported by jose's key set for the token's header. */
async function resolve(jwks: JWK[], token: string): Promise<CryptoKey> {
  const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { alg: string; kid?: string };
  const [, payload = '', signature = ''] = token.split('.');
  return createLocalJWKSet({ keys: jwks })(header, { payload, signature });
}

const sign = (key: CryptoKey, alg: string, kid: string, extra: Record<string, unknown> = {}): Promise<string> =>
  new SignJWT({ sub: 'ada' }).setProtectedHeader({ alg, kid, ...extra }).setExpirationTime('10m').sign(key);

function inlineAccepts(token: string, key: CryptoKey): boolean {
  try {
    verifyJwsSignature(parseJws(token), key);
    return true;
  } catch (error) {
    if (!(error instanceof JwsError)) throw error;
    return false;
  }
}

describe('inline verification of provider signatures', () => {
  it.each(ALGS)('when a %s token is signed by the key, then it verifies; tampered, it does not, exactly as jose decides', async (alg) => {
    const { privateKey, jwk } = await keyFor(alg);
    const token = await sign(privateKey, alg, jwk.kid ?? '');
    const key = await resolve([jwk], token);
    expect(inlineAccepts(token, key)).toBe(true);

    const [h, p, s] = token.split('.') as [string, string, string];
    const otherPayload = Buffer.from(JSON.stringify({ sub: 'mallory', exp: 9_999_999_999 })).toString('base64url');
    const sig = Buffer.from(s, 'base64url');
    const flipped = Buffer.from(sig);
    flipped[sig.length >> 1] = (flipped[sig.length >> 1] ?? 0) ^ 1;
    const variants = [
      `${h}.${otherPayload}.${s}`,
      `${h}.${p}.${flipped.toString('base64url')}`,
      `${h}.${p}.${sig.subarray(0, sig.length - 1).toString('base64url')}`,
      `${h}.${p}.`,
    ];
    for (const variant of variants) {
      const jose = await compactVerify(variant, key).then(() => true, () => false);
      expect(jose, variant).toBe(false);
      expect(inlineAccepts(variant, key), variant).toBe(false);
    }
  });

  it('when another key of the same algorithm signed the token, then it is refused', async () => {
    const [a, b] = await Promise.all([keyFor('ES256'), keyFor('ES256')]);
    const token = await sign(a.privateKey, 'ES256', a.jwk.kid ?? '');
    expect(inlineAccepts(token, await resolve([{ ...b.jwk, kid: a.jwk.kid }], token))).toBe(false);
  });

  it('when the key was imported for another algorithm (curve, hash or family), then it never verifies', async () => {
    const es384 = await keyFor('ES384');
    const rs256 = await keyFor('RS256');
    const esToken = await sign(es384.privateKey, 'ES384', es384.jwk.kid ?? '');
    const rsToken = await sign(rs256.privateKey, 'RS256', rs256.jwk.kid ?? '');
    const es384Key = await resolve([es384.jwk], esToken);
    const rs256Key = await resolve([rs256.jwk], rsToken);
    // Same bytes, header rewritten to an algorithm the key was not imported for.
    const relabel = (token: string, alg: string): string => {
      const [, p, s] = token.split('.');
      return `${Buffer.from(JSON.stringify({ alg, kid: 'x' })).toString('base64url')}.${p}.${s}`;
    };
    expect(() => verifyJwsSignature(parseJws(relabel(esToken, 'ES256')), es384Key)).toThrow(expect.objectContaining({ reason: 'key' }));
    expect(() => verifyJwsSignature(parseJws(relabel(rsToken, 'PS256')), rs256Key)).toThrow(expect.objectContaining({ reason: 'key' }));
    expect(() => verifyJwsSignature(parseJws(relabel(rsToken, 'RS512')), rs256Key)).toThrow(expect.objectContaining({ reason: 'key' }));
  });

  it('when an RSA key is shorter than 2048 bits, then it is refused, as jose refuses it', async () => {
    // jose will not make or sign with such a key: node:crypto does, as a careless provider might.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'weak', alg: 'RS256' };
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: 'RS256', kid: 'weak' })}.${b64({ sub: 'ada', exp: 9_999_999_999 })}`;
    const token = `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    const key = await resolve([jwk], token);
    expect(await compactVerify(token, key).then(() => true, () => false)).toBe(false);
    expect(() => verifyJwsSignature(parseJws(token), key)).toThrow(expect.objectContaining({ reason: 'key' }));
  });

  it('when the header is alg none, HS256, has crit, or the signature is not canonical base64url, then it is malformed or refused', async () => {
    const { privateKey, jwk } = await keyFor('ES256');
    const token = await sign(privateKey, 'ES256', 'k');
    const [, p, s] = token.split('.') as [string, string, string];
    const header = (h: Record<string, unknown>): string => Buffer.from(JSON.stringify(h)).toString('base64url');
    expect(() => parseJws(`${header({ alg: 'none' })}.${p}.`)).toThrow(JwsError);
    expect(() => parseJws(`${header({ alg: 'HS256' })}.${p}.${s}`)).toThrow(expect.objectContaining({ reason: 'algorithm' }));
    expect(() => parseJws(`${header({ alg: 'ES256', crit: ['exp'], exp: 1 })}.${p}.${s}`)).toThrow(expect.objectContaining({ reason: 'malformed' }));
    expect(() => parseJws(`${header({ alg: 'ES256', b64: false })}.${p}.${s}`)).toThrow(expect.objectContaining({ reason: 'malformed' }));
    expect(() => parseJws(`${token}=`)).toThrow(JwsError);
    expect(() => parseJws(`${token}.extra`)).toThrow(expect.objectContaining({ reason: 'malformed' }));
    expect(jwk.kty).toBe('EC');
  });
});
