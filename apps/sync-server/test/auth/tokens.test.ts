import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultClaimPolicy, type ClaimPolicy } from '../../src/auth/claims.js';
import { createTokenService, type TokenService } from '../../src/auth/tokens.js';

const SECRET = 'a-test-secret-of-at-least-thirty-two-chars';
const T0 = 1_800_000_000_000;

/** A policy that counts full verifications: the claim checks read `maxLifetimeSeconds` once each. */
function countingPolicy(): { policy: ClaimPolicy; checks: () => number } {
  let reads = 0;
  const policy = new Proxy(defaultClaimPolicy, {
    get(target, key, receiver) {
      if (key === 'maxLifetimeSeconds') reads += 1;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { policy, checks: () => reads };
}

async function outcome(tokens: TokenService, token: string): Promise<string> {
  try {
    const principal = await tokens.verify(token);
    return `${principal.role}:${principal.userId}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe('verified HS256 tokens are remembered', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('when a token comes back, then it is not verified again and gives the same principal', async () => {
    const { policy, checks } = countingPolicy();
    const tokens = createTokenService(SECRET, { policy });
    const token = await tokens.sign('ada', { expiresInSeconds: 600 });
    const signing = checks();
    const first = await tokens.verify(token);
    const afterFirst = checks();
    expect(afterFirst).toBeGreaterThan(signing);
    expect(await tokens.verify(token)).toEqual(first);
    expect(checks()).toBe(afterFirst);
  });

  it('when a remembered token reaches exp, then it is refused as expired, on the same second as a token seen for the first time', async () => {
    const remembering = createTokenService(SECRET);
    const fresh = createTokenService(SECRET, { verifiedTokens: 0 });
    const token = await remembering.sign('ada', { expiresInSeconds: 60 });
    expect(await outcome(remembering, token)).toBe('learner:ada');
    const exp = Math.floor(T0 / 1000) + 60;
    vi.setSystemTime(exp * 1000 - 1);
    expect(await outcome(remembering, token)).toBe('learner:ada');
    expect(await outcome(fresh, token)).toBe('learner:ada');
    vi.setSystemTime(exp * 1000);
    expect(await outcome(remembering, token)).toBe('The token has expired');
    expect(await outcome(fresh, token)).toBe('The token has expired');
    // Forgotten once expired, and still refused.
    expect(await outcome(remembering, token)).toBe('The token has expired');
  });

  it('when a token differs from a remembered one by its signature or payload, then it is verified and refused', async () => {
    const tokens = createTokenService(SECRET);
    const token = await tokens.sign('ada', { expiresInSeconds: 600 });
    await tokens.verify(token);
    const [h, p, s] = token.split('.') as [string, string, string];
    const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
    expect(await outcome(tokens, `${h}.${p}.${flipped}`)).toBe('The token is invalid');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const other = Buffer.from(JSON.stringify({ ...claims, sub: 'eve', role: 'service' })).toString('base64url');
    expect(await outcome(tokens, `${h}.${other}.${s}`)).toBe('The token is invalid');
    // Signed with another secret: refused, whatever this service remembers.
    const forged = `${h}.${other}.${createHmac('sha256', 'another-secret-of-at-least-thirty-two-ch').update(`${h}.${other}`).digest('base64url')}`;
    expect(await outcome(tokens, forged)).toBe('The token is invalid');
    expect(await outcome(tokens, token)).toBe('learner:ada');
  });

  it('when more tokens than the bound were verified, then the oldest is verified again on its next use', async () => {
    const { policy, checks } = countingPolicy();
    const tokens = createTokenService(SECRET, { policy, verifiedTokens: 2 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((user) => tokens.sign(user, { expiresInSeconds: 600 })));
    await tokens.verify(a!);
    await tokens.verify(b!);
    let before = checks();
    await tokens.verify(a!);
    expect(checks()).toBe(before);
    await tokens.verify(c!); // a and b held: the oldest, a, is forgotten
    before = checks();
    await tokens.verify(b!);
    expect(checks()).toBe(before);
    await tokens.verify(a!);
    expect(checks()).toBeGreaterThan(before);
  });
});
