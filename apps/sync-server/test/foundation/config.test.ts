import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { redisTargetOf } from '../../src/redis/connection.js';

describe('loadConfig', () => {
  it('when the environment is empty, then the embedded defaults apply', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 5000,
      HOST: '127.0.0.1',
      DATA_DIR: './data',
      AUTH_MODE: 'dev',
      UPDATE_FLUSH_MS: 50,
      MAX_BODY_BYTES: 1024 * 1024,
      SYNC_MAX_MESSAGE_BYTES: 12 * 1024 * 1024,
      MAX_BATCH_ITEMS: 500,
      ENABLE_SCHEDULED_SYNC: true,
    });
    expect(config.MONGODB_URI).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('when the quotas per learner are not set, then their generous defaults apply, and a value out of range is refused by name', () => {
    expect(loadConfig({})).toMatchObject({
      SYNC_MAX_DOCUMENT_BYTES: 24 * 1024 * 1024,
      SYNC_MAX_DOCUMENTS_PER_LEARNER: 100,
      SYNC_MAX_SOCKETS_PER_LEARNER: 32,
      SYNC_WRITE_BYTES_PER_SECOND: 64 * 1024,
      SYNC_WRITE_BURST_BYTES: 16 * 1024 * 1024,
    });
    // The document quota stays below the send-queue cap: the full state of any document fits it.
    const defaults = loadConfig({});
    expect(defaults.SYNC_MAX_DOCUMENT_BYTES).toBeLessThan(defaults.SYNC_MAX_BUFFERED_BYTES);
    for (const [name, value] of [['SYNC_MAX_DOCUMENT_BYTES', '1000'], ['SYNC_MAX_DOCUMENTS_PER_LEARNER', '0'], ['SYNC_MAX_SOCKETS_PER_LEARNER', 'many'], ['SYNC_WRITE_BYTES_PER_SECOND', '-1'], ['SYNC_WRITE_BURST_BYTES', '1.5']] as const) {
      expect(() => loadConfig({ [name]: value }), name).toThrow(new RegExp(`${name}=.*accepts`));
    }
  });

  it('when a value is empty, then it counts as unset', () => {
    expect(loadConfig({ REDIS_URL: '', PORT: ' ' }).PORT).toBe(5000);
  });

  it.each([
    ['PORT', 'abc', /PORT="abc": accepts an integer port/],
    ['PORT', '70000', /PORT/],
    ['SYNC_INTERVAL_MINUTES', '0', /SYNC_INTERVAL_MINUTES="0": accepts an integer number of minutes from 1/],
    ['ENABLE_SCHEDULED_SYNC', 'maybe', /ENABLE_SCHEDULED_SYNC="maybe": accepts true or false/],
    ['MONGODB_URI', 'postgres://x', /MONGODB_URI/],
    ['AUTH_MODE', 'none', /AUTH_MODE="none": accepts dev or jwt/],
    ['JWT_SECRET', 'short', /JWT_SECRET.*at least 32/],
    ['JWT_JWKS_URL', 'http://idp.example/jwks', /JWT_JWKS_URL="http:\/\/idp\.example\/jwks": accepts an https:\/\/ URL \(http:\/\/ only for localhost/],
    ['JWT_JWKS_URL', 'not a url', /JWT_JWKS_URL/],
    ['JWT_MAX_LIFETIME_SECONDS', '0', /JWT_MAX_LIFETIME_SECONDS="0": accepts an integer number of seconds from 60/],
    ['JWT_USER_CLAIM', 'has space', /JWT_USER_CLAIM="has space": accepts a claim name or dotted path/],
    // One sync message is one update-log record, which must fit a 16 MB MongoDB document.
    ['SYNC_MAX_MESSAGE_BYTES', String(16 * 1024 * 1024), /SYNC_MAX_MESSAGE_BYTES="16777216": accepts an integer number of bytes from 1024 to 12582912/],
  ])('when %s=%s, then start fails naming it', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('when AUTH_MODE=jwt without JWT_SECRET, then start fails naming JWT_SECRET', () => {
    expect(() => loadConfig({ AUTH_MODE: 'jwt' })).toThrow(/JWT_SECRET: required when AUTH_MODE=jwt/);
  });

  it('when AUTH_MODE=jwt has JWT_JWKS_URL and no JWT_SECRET, then it starts, binding all interfaces by default', () => {
    const config = loadConfig({ AUTH_MODE: 'jwt', JWT_JWKS_URL: 'https://idp.example/.well-known/jwks.json' });
    expect(config).toMatchObject({ HOST: '0.0.0.0', JWT_USER_CLAIM: 'sub', JWT_ROLE_CLAIM: 'role', JWT_SERVICE_ROLE: 'service', JWT_MAX_LIFETIME_SECONDS: 604_800 });
    expect(loadConfig({ AUTH_MODE: 'jwt', JWT_JWKS_URL: 'http://127.0.0.1:8080/jwks' }).JWT_JWKS_URL).toBe('http://127.0.0.1:8080/jwks');
  });

  it('when REDIS_CLUSTER_NODES lists cluster nodes, then Redis is that cluster; with REDIS_URL too, or a bad node, start fails naming it', () => {
    const nodes = 'rediss://app:pw@node-a.internal:6380, rediss://app:pw@node-b.internal:6380';
    const config = loadConfig({ REDIS_CLUSTER_NODES: nodes });
    expect(redisTargetOf(config)).toEqual({ kind: 'cluster', nodes: ['rediss://app:pw@node-a.internal:6380', 'rediss://app:pw@node-b.internal:6380'] });
    expect(redisTargetOf(loadConfig({ REDIS_URL: 'redis://cache:6379' }))).toEqual({ kind: 'single', url: 'redis://cache:6379' });
    expect(redisTargetOf(loadConfig({}))).toBeNull();
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: nodes, REDIS_URL: 'redis://cache:6379' })).toThrow(/REDIS_CLUSTER_NODES: set either REDIS_URL .* or REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://a:7001/2' })).toThrow(/REDIS_CLUSTER_NODES=.*no database path/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://a:7001,rediss://b:7002' })).toThrow(/REDIS_CLUSTER_NODES=.*one scheme/);
  });

  it('when dev mode has HOST set, then HOST wins over the loopback default', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });

  it('when NODE_ENV=production with AUTH_MODE=dev, explicit or default, then start fails naming AUTH_MODE', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_MODE: dev .* refused when NODE_ENV=production/);
    expect(() => loadConfig({ NODE_ENV: 'production', AUTH_MODE: 'dev', JWT_SECRET: 'x'.repeat(40) })).toThrow(/AUTH_MODE/);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_MODE: 'jwt', JWT_SECRET: 'x'.repeat(40) }).AUTH_MODE).toBe('jwt');
  });

  it('when several values are bad, then every one is named', () => {
    expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'loud' })).toThrow(/PORT[\s\S]*LOG_LEVEL|LOG_LEVEL[\s\S]*PORT/);
  });
});

describe('the integration guide\'s .env', () => {
  /** The guide's server `.env`, as printed (its AI variables belong to the practice-plan configuration). */
  const guideEnv: Record<string, string> = {
    PORT: '5000',
    NODE_ENV: 'development',
    CLIENT_URL: 'http://localhost:3000',
    MONGODB_URI: 'mongodb://localhost:27017/prepmate',
    MONGODB_BACKUP_URI: 'mongodb://backup-server:27017/prepmate-backup',
    ENABLE_SCHEDULED_SYNC: 'true',
    SYNC_INTERVAL_MINUTES: '5',
    SYNC_BATCH_SIZE: '100',
    MAX_RETRIES: '3',
    RETRY_DELAY_MS: '5000',
    CACHE_TTL_SECONDS: '300',
    MAX_QUEUE_SIZE: '1000',
    CONFLICT_RESOLUTION_STRATEGY: 'last-write-wins',
  };

  it('when it is loaded, then every variable is read (none silently ignored) with the value written', () => {
    const config = loadConfig(guideEnv) as unknown as Record<string, unknown>;
    for (const [name, value] of Object.entries(guideEnv)) {
      expect(config, name).toHaveProperty(name);
      expect(String(config[name]), name).toBe(value);
    }
  });

  it('when each variable gets a value it cannot use, then start fails naming it', () => {
    const bad: Record<string, string> = {
      PORT: 'http',
      NODE_ENV: 'staging',
      CLIENT_URL: 'localhost:3000',
      MONGODB_URI: 'localhost:27017/prepmate',
      MONGODB_BACKUP_URI: 'backup-server/prepmate-backup',
      ENABLE_SCHEDULED_SYNC: 'sometimes',
      SYNC_INTERVAL_MINUTES: '0',
      SYNC_BATCH_SIZE: '-1',
      MAX_RETRIES: 'many',
      RETRY_DELAY_MS: '0',
      CACHE_TTL_SECONDS: '-5',
      MAX_QUEUE_SIZE: '0',
      CONFLICT_RESOLUTION_STRATEGY: 'server-wins',
    };
    for (const [name, value] of Object.entries(bad)) {
      expect(() => loadConfig({ ...guideEnv, [name]: value }), name).toThrow(new RegExp(`${name}=`));
    }
  });
});
