import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { spawnMain } from '../../helpers/process.js';

/** Configuration errors land in terminals, CI logs and log shippers: they must never carry a secret. */
describe('hostile learner: configuration errors do not print secrets', () => {
  const cases: [string, string, string, RegExp][] = [
    ['JWT_SECRET', 'hunter2-short-secret', 'hunter2', /JWT_SECRET=<hidden, 20 characters>: accepts a secret of at least 32 characters/],
    ['MONGODB_URI', 'mongo://admin:s3cr3t-pw@db.internal:27017/prod', 's3cr3t-pw', /MONGODB_URI="mongo:\/\/\*\*\*@db\.internal:27017\/prod": accepts a mongodb:\/\//],
    ['MONGODB_URI', 'postgres://admin:p@ss/w0rd@db.internal/x?password=q1w2e3', 'w0rd', /MONGODB_URI=.*\*\*\*/],
    ['REDIS_URL', 'http://:redis-pass-42@cache.internal:6379', 'redis-pass-42', /REDIS_URL="http:\/\/\*\*\*@cache\.internal:6379": accepts a redis:\/\//],
    ['REDIS_CLUSTER_NODES', 'redis://:cluster-pass-9@a.internal:7001,http://:cluster-pass-9@b.internal:7002', 'cluster-pass-9', /REDIS_CLUSTER_NODES="redis:\/\/\*\*\*@a\.internal:7001,http:\/\/\*\*\*@b\.internal:7002": accepts comma-separated redis:\/\//],
    ['JWT_JWKS_URL', 'https://user:jwks-pass-7@idp.example/jwks', 'jwks-pass-7', /JWT_JWKS_URL=.*: accepts an https:\/\/ URL/],
    ['FIELD_ENCRYPTION_KEY', 'k1:c2VjcmV0LWtleS10b28tc2hvcnQ=', 'c2VjcmV0LWtleS10b28tc2hvcnQ', /FIELD_ENCRYPTION_KEY/],
    ['BATCH_SIGNING_KEYS', 'app:tiny-secret', 'tiny-secret', /BATCH_SIGNING_KEYS/],
  ];

  it.each(cases)('when %s is invalid, then the error names it and what it accepts, without the secret', (name, value, secret, expected) => {
    let message = '';
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(expected);
    expect(message).not.toContain(secret);
  });

  it('when npm start meets a bad JWT_SECRET and MONGODB_URI, then it exits 1 and its output holds neither secret', async () => {
    const child = spawnMain({ PORT: '0', JWT_SECRET: 'hunter2-short-secret', MONGODB_URI: 'mongo://admin:s3cr3t-pw@db.internal/prod' });
    expect(await child.exited).toBe(1);
    expect(child.output()).toMatch(/JWT_SECRET/);
    expect(child.output()).toMatch(/MONGODB_URI/);
    expect(child.output()).not.toContain('hunter2');
    expect(child.output()).not.toContain('s3cr3t-pw');
  });
});
