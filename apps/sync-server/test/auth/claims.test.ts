import { describe, expect, it } from 'vitest';
import { claimAt, defaultClaimPolicy, principalFromClaims, type ClaimPolicy } from '../../src/auth/claims.js';

const NOW = 1_800_000_000;
const policy: ClaimPolicy = { ...defaultClaimPolicy, maxLifetimeSeconds: 3600 };

describe('claim mapping', () => {
  it('when a claim name holds dots, then the exact name wins over the dotted path', () => {
    const payload = { 'https://prepmate.example/learner': 'ada', realm_access: { roles: ['x'] }, 'realm_access.roles': ['flat'] };
    expect(claimAt(payload, 'https://prepmate.example/learner')).toBe('ada');
    expect(claimAt(payload, 'realm_access.roles')).toEqual(['flat']);
    expect(claimAt({ realm_access: { roles: ['x'] } }, 'realm_access.roles')).toEqual(['x']);
    expect(claimAt({ a: ['not', 'an', 'object'] }, 'a.0')).toBeUndefined();
  });

  it('when the role claim is a string or an array holding the service role, then the principal is a service', () => {
    const base = { sub: 'ops', exp: NOW + 60 };
    expect(principalFromClaims({ ...base, role: 'service' }, policy, NOW).role).toBe('service');
    expect(principalFromClaims({ ...base, role: ['reader', 'service'] }, policy, NOW).role).toBe('service');
    expect(principalFromClaims({ ...base, role: 'services' }, policy, NOW).role).toBe('learner');
    expect(principalFromClaims({ ...base, role: { service: true } }, policy, NOW).role).toBe('learner');
  });

  it('when exp is at the maximum lifetime, then the token passes; one second more, or iat showing a longer life, and it is refused', () => {
    expect(principalFromClaims({ sub: 'a', iat: NOW, exp: NOW + 3600 }, policy, NOW).expiresAt).toBe((NOW + 3600) * 1000);
    // An issuer clock up to 60 s ahead: exp − now may exceed the maximum by that much.
    expect(principalFromClaims({ sub: 'a', iat: NOW + 30, exp: NOW + 3630 }, policy, NOW).userId).toBe('a');
    expect(() => principalFromClaims({ sub: 'a', iat: NOW, exp: NOW + 3601 }, policy, NOW)).toThrow(/JWT_MAX_LIFETIME_SECONDS/);
    expect(() => principalFromClaims({ sub: 'a', exp: NOW + 3661 }, policy, NOW)).toThrow(/JWT_MAX_LIFETIME_SECONDS/);
    expect(() => principalFromClaims({ sub: 'a', exp: String(NOW + 60) }, policy, NOW)).toThrow(/no expiry/);
    expect(() => principalFromClaims({ sub: 'a', exp: NOW }, policy, NOW)).toThrow(/expired/);
  });

  it('when the learner claim is not a valid userId, then the token is refused naming the claim', () => {
    expect(() => principalFromClaims({ sub: 'auth0|abc', exp: NOW + 60 }, policy, NOW)).toThrow(/sub claim is not a valid userId/);
    expect(() => principalFromClaims({ sub: '', exp: NOW + 60 }, policy, NOW)).toThrow(/sub claim/);
  });
});
