/**
 * Where Redis is and how to open a client on it: one server (`REDIS_URL`) or a Redis Cluster
 * (`REDIS_CLUSTER_NODES`, ioredis's Cluster client). The cache and the fan-out take a
 * {@link RedisTarget} and never care which: every multi-key command they send keeps its keys in
 * one hash slot (hash tags), so the same commands work on both.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';

export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  /** Seed node URLs; credentials and TLS of the first hold for every node. */
  | { readonly kind: 'cluster'; readonly nodes: readonly string[] };

/** A client of either kind; both offer the same commands. */
export type RedisClient = Redis | Cluster;

export const isClusterClient = (client: RedisClient): client is Cluster => client instanceof Cluster;

/** The target the configuration names, or null for one instance without Redis. */
export function redisTargetOf(config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): RedisTarget | null {
  if (config.REDIS_CLUSTER_NODES) {
    return { kind: 'cluster', nodes: config.REDIS_CLUSTER_NODES.split(',').map((entry) => entry.trim()).filter(Boolean) };
  }
  return config.REDIS_URL ? { kind: 'single', url: config.REDIS_URL } : null;
}

/** Options of one connection; on a cluster they hold for the connection to each node. */
export interface RedisClientOptions {
  readonly maxRetriesPerRequest?: number | null;
  readonly commandTimeout?: number;
  readonly connectTimeout?: number;
  /** false: commands fail at once while disconnected instead of waiting for the connection. */
  readonly enableOfflineQueue?: boolean;
  readonly enableAutoPipelining?: boolean;
  readonly lazyConnect?: boolean;
  /** `CLIENT SETNAME`: who a connection is in `CLIENT LIST`. */
  readonly connectionName?: string;
  /** Single server only (a cluster client has its own reconnection schedule). */
  readonly retryStrategy?: (times: number) => number | null;
}

/**
 * Opens a client on `target`. RESP2 keeps reply shapes plain arrays. On a cluster, a client keeps
 * one connection per node it has sent a command to and follows MOVED/ASK redirects and slot
 * changes itself; a blocking command occupies that node's connection of this client, so a reader
 * that blocks needs a client of its own (as on a single server).
 */
export function createRedisClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  const { enableOfflineQueue, enableAutoPipelining, lazyConnect, retryStrategy, ...perConnection } = options;
  if (target.kind === 'single') {
    return new Redis(target.url, {
      protocol: 2,
      ...perConnection,
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      ...(retryStrategy ? { retryStrategy } : {}),
    });
  }
  const first = new URL(target.nodes[0] ?? 'redis://127.0.0.1:6379');
  const tls = first.protocol === 'rediss:';
  const redisOptions: RedisOptions = {
    protocol: 2,
    ...perConnection,
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    ...(tls ? { tls: {} } : {}),
  };
  return new Cluster(
    target.nodes.map((node) => {
      const url = new URL(node);
      return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 6379) };
    }),
    {
      redisOptions,
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      // With TLS the nodes announce addresses their certificates do not name: connect to the
      // host as given and let TLS check the name (what managed clusters document for ioredis).
      ...(tls ? { dnsLookup: (address: string, callback: (error: Error | null, address: string) => void) => callback(null, address) } : {}),
    },
  );
}
