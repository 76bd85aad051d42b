/**
 * The Redis deployments the multi-instance suites run on: one Redis (`REDIS_URL`) and a Redis
 * Cluster (`REDIS_CLUSTER_NODES`, three primaries from `node scripts/test-services.mjs cluster-up`).
 * Each suite runs once per deployment; with CI=true a missing one fails instead of skipping.
 */
import type { Cluster } from 'ioredis';
import { createRedisClient, redisTargetOf, type RedisClient, type RedisTarget } from '../../src/redis/connection.js';
import { describeWithService } from './stores.js';

export interface RedisUnderTest {
  readonly name: 'redis' | 'redis-cluster';
  readonly target: RedisTarget;
  /** The server's variables for this deployment (for a child server process). */
  readonly env: Readonly<Record<string, string>>;
}

const single = (): RedisUnderTest | null => {
  const url = process.env['REDIS_URL'];
  return url ? { name: 'redis', target: { kind: 'single', url }, env: { REDIS_URL: url } } : null;
};

const cluster = (): RedisUnderTest | null => {
  const nodes = process.env['REDIS_CLUSTER_NODES'];
  const target = nodes ? redisTargetOf({ REDIS_CLUSTER_NODES: nodes }) : null;
  return nodes && target ? { name: 'redis-cluster', target, env: { REDIS_CLUSTER_NODES: nodes } } : null;
};

/** Defines `suite` once on one Redis and once on a Redis Cluster. */
export function describeOnRedis(suite: string, define: (redis: RedisUnderTest) => void): void {
  describeWithService(`${suite} (one Redis)`, { env: 'REDIS_URL', value: single(), hint: 'Start Redis and export REDIS_URL=redis://127.0.0.1:6379 (node scripts/test-services.mjs up).' }, define);
  describeWithService(
    `${suite} (Redis Cluster)`,
    { env: 'REDIS_CLUSTER_NODES', value: cluster(), hint: 'Start a local cluster with `node scripts/test-services.mjs cluster-up` and load .tmp/test-services.env.' },
    define,
  );
}

/** An admin client for assertions and clean-up; `close()` when done. */
export async function adminClient(target: RedisTarget): Promise<RedisClient> {
  const client = createRedisClient(target);
  if (client.status !== 'ready') await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('end', () => reject(new Error('redis admin client could not connect')));
  });
  return client;
}

const isCluster = (client: RedisClient): client is Cluster => 'nodes' in client && typeof client.nodes === 'function';

/** Keys matching `pattern` on every primary (KEYS on a cluster client reaches only one node). */
export async function keysMatching(client: RedisClient, pattern: string): Promise<string[]> {
  if (!isCluster(client)) return client.keys(pattern);
  const perNode = await Promise.all(client.nodes('master').map((node) => node.keys(pattern)));
  return perNode.flat();
}

/** Deletes every key under `prefix`, one command per key (keys of a cluster sit in different slots). */
export async function deleteUnder(client: RedisClient, prefix: string): Promise<void> {
  const keys = await keysMatching(client, `${prefix}:*`);
  await Promise.all(keys.map((key) => client.del(key)));
}
