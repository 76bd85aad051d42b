import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwtError, verifyHs256 } from '../../src/auth/hs256.js';

const key = new TextEncoder().encode('a-test-secret-of-at-least-thirty-two-chars');
const now = 1_800_000_000;
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A token signed by hand, so headers and claims jose would refuse to produce can be tested. */
function handSigned(header: unknown, payload: unknown, secret: Uint8Array = key): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
function failure(token: string, at = now): string {
  try {
    verifyHs256(token, key, at);
  } catch (error) {
    if (error instanceof JwtError) return error.reason;
    throw error;
  }
  return 'valid';
}

describe('HS256 verification', () => {
  it('when jose signs a token, then it verifies and the claims come back as signed', async () => {
    const token = await new SignJWT({ role: 'service' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('u1').setIssuedAt(now).setExpirationTime(now + 60).sign(key);
    expect(verifyHs256(token, key, now)).toEqual({ role: 'service', sub: 'u1', iat: now, exp: now + 60 });
  });

  it('when the signature, the payload or the key differ, then the signature is refused', async () => {
    const token = handSigned({ alg: 'HS256' }, { sub: 'u1', exp: now + 60 });
    const [h, , s] = token.split('.') as [string, string, string];
    expect(failure(`${h}.${b64({ sub: 'admin', exp: now + 60 })}.${s}`)).toBe('signature');
    expect(failure(handSigned({ alg: 'HS256' }, { sub: 'u1' }, new TextEncoder().encode('another-secret-of-at-least-thirty-two-ch')))).toBe('signature');
    const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
    expect(failure(`${h}.${token.split('.')[1]}.${flipped}`)).toBe('signature');
  });

  it('when the algorithm is not HS256 (none, HS512, missing), then it is refused before any HMAC', () => {
    expect(failure(`${b64({ alg: 'none' })}.${b64({ sub: 'u1' })}.`)).toBe('malformed');
    expect(failure(`${b64({ alg: 'none' })}.${b64({ sub: 'u1' })}.${'A'.repeat(43)}`)).toBe('algorithm');
    expect(failure(handSigned({ alg: 'HS512' }, { sub: 'u1' }))).toBe('algorithm');
    expect(failure(handSigned({}, { sub: 'u1' }))).toBe('algorithm');
  });

  it('when the token is not three strict base64url segments of JSON objects, then it is malformed', () => {
    const good = handSigned({ alg: 'HS256' }, { sub: 'u1' });
    for (const bad of ['', 'a.b', `${good}.x`, good.replace('.', '.+')]) {
      expect(failure(bad), bad).toBe('malformed');
    }
    expect(failure(handSigned({ alg: 'HS256' }, ['u1']))).toBe('malformed');
    // A correctly signed payload that is not JSON (the payload is only read once the signature holds).
    const input = `${b64({ alg: 'HS256' })}.${Buffer.from('not json').toString('base64url')}`;
    expect(failure(`${input}.${createHmac('sha256', key).update(input).digest('base64url')}`)).toBe('malformed');
    expect(failure(handSigned([], { sub: 'u1' }))).toBe('malformed');
    // A second spelling of the same signature bytes (non-zero padding bits).
    const [h, p, s] = good.split('.') as [string, string, string];
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(failure(`${h}.${p}.${s.slice(0, -1)}${sibling}`)).toBe('malformed');
  });

  it('when the header has crit, then it is refused (no extension is understood)', () => {
    expect(failure(handSigned({ alg: 'HS256', crit: ['exp'] }, { sub: 'u1' }))).toBe('malformed');
  });

  it('when exp has passed or nbf is ahead, then expired / not yet valid, on the same second boundaries as jose', () => {
    expect(failure(handSigned({ alg: 'HS256' }, { sub: 'u1', exp: now + 1 }))).toBe('valid');
    expect(failure(handSigned({ alg: 'HS256' }, { sub: 'u1', exp: now }))).toBe('expired');
    expect(failure(handSigned({ alg: 'HS256' }, { sub: 'u1', nbf: now }))).toBe('valid');
    expect(failure(handSigned({ alg: 'HS256' }, { sub: 'u1', nbf: now + 1 }))).toBe('not-yet-valid');
    expect(failure(handSigned({ alg: 'HS256' }, { sub: 'u1', exp: String(now + 60) }))).toBe('malformed');
    expect(failure(handSigned({ alg: 'HS256' }, { sub: 'u1', iat: 'yesterday' }))).toBe('malformed');
  });
});
