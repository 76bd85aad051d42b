/**
 * Fan-out between instances through Redis Streams, one stream per document: an instance reads
 * only the streams of the documents it has loaded, so its fan-out cost follows its own documents,
 * not the whole deployment's traffic (docs/PROTOCOL.md, "Fan-out between instances", says why
 * this layout and what it costs). Pub/sub could drop messages; a stream lets a reader continue
 * from the last id it saw.
 *
 * Keys: `<prefix>:{<shard>}:d:<docName>` per document and `<prefix>:{<shard>}:w:<instanceId>` (the
 * instance's wake key), where `<shard>` is a hash of the document name modulo `shards`. The hash
 * tag puts every key of a shard in one Redis Cluster slot, so the one multi-key command, each
 * shard's `XREAD BLOCK` over its loaded documents and its wake key, never crosses slots, while
 * documents spread over `shards` slots. Each shard with a loaded document has its own reader
 * connection (a blocking read occupies its connection); a subscription in a blocked shard is
 * picked up by appending to that shard's wake key.
 *
 * Entry fields: `i` instanceId, `k` kind (`u` update, `a` awareness, `q` sync request, `x` erase),
 * `d` docName, `a` author (updates), `p` payload bytes.
 *
 * Bounded: every append trims its stream (`MAXLEN ~`) and renews its expiry (`PEXPIRE`), so the
 * stream of a document nobody writes any more disappears after `ttlMs`.
 *
 * After a read error (Redis restarted, network) entries may have been missed, so the handler's
 * `onGap` re-reads loaded documents from the store. A reader more than `maxLen` entries behind
 * on one document would also miss some; the default leaves seconds of headroom at any realistic
 * rate for one learner's document.
 */
import type { Logger } from '../logger.js';
import { createRedisClient, isClusterClient, type RedisClient, type RedisTarget } from '../redis/connection.js';
import type { Fanout, FanoutHandler, FanoutMessage } from './ports.js';

export interface RedisFanoutOptions {
  /** One Redis or a Redis Cluster (each shard's keys share one slot, so its reader talks to one node). */
  readonly target: RedisTarget;
  /** Unique per process; entries with this id are this instance's own. */
  readonly instanceId: string;
  /** Prefix of every key; every instance of one deployment must use the same. Default `prepmate:sync`. */
  readonly keyPrefix?: string;
  /** Hash slots the document streams spread over; same on every instance. Default 16. */
  readonly shards?: number;
  /** Approximate length kept per document stream (`MAXLEN ~`). Default 1 000. */
  readonly maxLen?: number;
  /** A document stream without appends for this long is deleted by Redis, ms. Default 600 000. */
  readonly ttlMs?: number;
  /** `XREAD BLOCK` timeout, ms. Default 5 000. */
  readonly blockMs?: number;
  readonly logger: Logger;
}

const KIND_CODE = { update: 'u', awareness: 'a', 'sync-request': 'q', erase: 'x' } as const;
const EMPTY = new Uint8Array(0);

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** FNV-1a, 32 bits: stable across processes and versions, which the shard of a key must be. */
export function shardOf(docName: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < docName.length; i++) {
    hash ^= docName.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/** The stream key of a document (exported for tests and operators' tooling). */
export function documentStreamKey(prefix: string, shards: number, docName: string): string {
  return `${prefix}:{${shardOf(docName, shards)}}:d:${docName}`;
}

function decodeEntry(fields: readonly Buffer[]): { instanceId: string; message: FanoutMessage } | null {
  const map = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!.toString(), fields[i + 1]!);
  const instanceId = map.get('i')?.toString();
  const kind = map.get('k')?.toString();
  const docName = map.get('d')?.toString();
  if (!instanceId || !kind || !docName) return null;
  const payload = map.get('p') ?? EMPTY;
  switch (kind) {
    case 'u':
      return { instanceId, message: { kind: 'update', docName, author: map.get('a')?.toString() ?? 'service:unknown', payload } };
    case 'a':
      return { instanceId, message: { kind: 'awareness', docName, payload } };
    case 'q':
      return { instanceId, message: { kind: 'sync-request', docName, payload } };
    case 'x':
      return { instanceId, message: { kind: 'erase', docName } };
    default:
      return null;
  }
}

/** One shard's reader: its connection, the documents it reads, and where each read left off. */
interface ShardReader {
  readonly redis: RedisClient;
  readonly wakeKey: string;
  wakeId: string;
  /** Stream key → last id read. */
  readonly streams: Map<string, string>;
  loop: Promise<void> | null;
}

type StreamReply = Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;

export function createRedisFanout(options: RedisFanoutOptions): Fanout {
  const { target: redisTarget, instanceId, logger } = options;
  const prefix = options.keyPrefix ?? 'prepmate:sync';
  const shards = Math.max(1, Math.floor(options.shards ?? 16));
  const maxLen = options.maxLen ?? 1_000;
  const ttlMs = options.ttlMs ?? 600_000;
  const blockMs = options.blockMs ?? 5_000;
  // Auto-pipelining batches the appends of one turn (per node, on a cluster).
  // Named per instance, so an operator (and the tests) can tell its connections in CLIENT LIST.
  const connectionName = `prepmate:fanout:${instanceId}`;
  const writer = createRedisClient(redisTarget, { enableAutoPipelining: true, maxRetriesPerRequest: 2, lazyConnect: true, connectionName });
  writer.on('error', (error: Error) => logger.debug({ err: error.message }, 'fanout: redis writer error'));
  watchForGaps(writer);
  const readers = new Map<number, ShardReader>();
  /** Documents subscribed to, with a token per subscription so a late start id cannot revive an old one. */
  const wanted = new Map<string, symbol>();
  let handler: FanoutHandler | null = null;
  let running = false;
  /** Logged once per outage, not once per message. */
  let publishFailing = false;

  const keyOf = (docName: string): string => documentStreamKey(prefix, shards, docName);

  /** One re-read for a burst of reconnections (the writer and every shard reader reconnect together). */
  let gapTimer: NodeJS.Timeout | null = null;
  function reportGap(): void {
    if (gapTimer || !running) return;
    gapTimer = setTimeout(() => {
      gapTimer = null;
      if (!running || !handler) return;
      logger.info('fanout: redis answers again; re-reading loaded documents from the store');
      handler.onGap();
    }, 100);
  }
  /** A connection that comes back (Redis restarted, network) may have missed entries, or they were never written. */
  function watchForGaps(redis: RedisClient): void {
    let lost = false;
    redis.on('close', () => (lost = true));
    redis.on('ready', () => {
      if (lost) reportGap();
      lost = false;
    });
    if (isClusterClient(redis)) {
      // A cluster client stays 'ready' while one node's connection drops: it removes the node
      // and adds it again once the node answers (slot refresh). Whatever that node held for us
      // meanwhile may be gone.
      redis.on('-node', () => (lost = true));
      redis.on('+node', () => {
        if (lost) reportGap();
        lost = false;
      });
    }
  }

  function published(): void {
    if (publishFailing) logger.info('fanout: publishing to redis works again');
    publishFailing = false;
  }
  function publishFailed(error: unknown): void {
    if (!publishFailing) logger.warn({ err: errorText(error) }, 'fanout: publishing to redis failed; other instances catch up from the store');
    publishFailing = true;
  }

  async function readLoop(reader: ShardReader, target: FanoutHandler): Promise<void> {
    while (running) {
      try {
        const keys = [reader.wakeKey, ...reader.streams.keys()];
        const ids = [reader.wakeId, ...reader.streams.values()];
        const reply = (await reader.redis.xreadBuffer('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', ...keys, ...ids)) as StreamReply;
        if (!reply) continue;
        for (const [rawKey, entries] of reply) {
          const key = rawKey.toString();
          const last = entries[entries.length - 1];
          if (!last) continue;
          if (key === reader.wakeKey) {
            reader.wakeId = last[0].toString();
            continue;
          }
          // Unsubscribed while the read was blocked: its entries are nobody's business here.
          if (!reader.streams.has(key)) continue;
          reader.streams.set(key, last[0].toString());
          for (const [, fields] of entries) {
            const decoded = decodeEntry(fields);
            if (!decoded || decoded.instanceId === instanceId) continue;
            target.onMessage(decoded.message);
          }
        }
      } catch (error) {
        if (!running) return;
        reportGap();
        logger.warn({ err: errorText(error) }, 'fanout: reading the redis streams failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  function readerFor(shard: number): ShardReader {
    let reader = readers.get(shard);
    if (reader) return reader;
    // maxRetriesPerRequest null: the blocking read waits out an outage instead of failing fast.
    const redis = createRedisClient(redisTarget, { maxRetriesPerRequest: null, connectionName });
    redis.on('error', (error: Error) => logger.debug({ err: error.message, shard }, 'fanout: redis reader error'));
    watchForGaps(redis);
    reader = { redis, wakeKey: `${prefix}:{${shard}}:w:${instanceId}`, wakeId: '0-0', streams: new Map(), loop: null };
    readers.set(shard, reader);
    if (handler) reader.loop = readLoop(reader, handler);
    return reader;
  }

  /** Ends a shard's blocked read so its next read includes a new stream. */
  function wake(reader: ShardReader): void {
    writer
      .multi()
      .xadd(reader.wakeKey, 'MAXLEN', '1', '*', 'w', '1')
      .pexpire(reader.wakeKey, ttlMs)
      .exec()
      .catch((error: unknown) => logger.debug({ err: errorText(error) }, 'fanout: waking a reader failed; it reads the new stream after its block timeout'));
  }

  return {
    enabled: true,
    publish(message) {
      if (!running) return;
      const key = keyOf(message.docName);
      const args: Array<string | Buffer> = ['i', instanceId, 'k', KIND_CODE[message.kind], 'd', message.docName];
      if (message.kind === 'update') args.push('a', message.author);
      if (message.kind !== 'erase') args.push('p', asBuffer(message.payload));
      // Two pipelined commands, not MULTI: a lost expiry renewal only delays a cleanup.
      writer.xadd(key, 'MAXLEN', '~', maxLen, '*', ...args).then(published, publishFailed);
      writer.pexpire(key, ttlMs).catch(() => undefined);
    },
    subscribe(docName) {
      if (!running) return;
      const key = keyOf(docName);
      const token = Symbol(docName);
      wanted.set(key, token);
      const reader = readerFor(shardOf(docName, shards));
      // Read from the newest entry at subscription: the store load covered what came before, and
      // this command precedes on the writer's connection the sync request the caller sends next,
      // so the replies to that request come after the start id.
      writer.xrevrange(key, '+', '-', 'COUNT', 1).then(
        (newest) => {
          if (wanted.get(key) !== token) return;
          reader.streams.set(key, (newest as Array<[string, string[]]>)[0]?.[0] ?? '0-0');
          wake(reader);
        },
        (error: unknown) => {
          if (wanted.get(key) !== token) return;
          // Redis is away: read the whole (bounded) stream once it answers; the gap re-read covers the rest.
          logger.debug({ err: errorText(error), docName }, 'fanout: subscribing without a start id');
          reader.streams.set(key, '0-0');
        },
      );
    },
    unsubscribe(docName) {
      const key = keyOf(docName);
      wanted.delete(key);
      readers.get(shardOf(docName, shards))?.streams.delete(key);
    },
    async start(target) {
      // Redis being down must not keep the server from serving: it runs as a single instance
      // (the store is shared anyway) and catches up through onGap once Redis answers.
      try {
        await writer.connect();
      } catch (error) {
        // The writer keeps reconnecting; its first 'ready' then reports the gap.
        logger.warn({ err: errorText(error) }, 'fanout: redis is unreachable at start; serving alone until it answers');
      }
      handler = target;
      running = true;
    },
    async stop() {
      running = false;
      if (gapTimer) clearTimeout(gapTimer);
      // disconnect() aborts a pending XREAD BLOCK at once.
      for (const reader of readers.values()) reader.redis.disconnect();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([...readers.values()].map((r) => r.loop)), new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
      clearTimeout(timer);
      readers.clear();
      wanted.clear();
      // quit() would wait for a connection that may never come; only a ready client says goodbye.
      if (writer.status === 'ready') await writer.quit().catch(() => writer.disconnect());
      else writer.disconnect();
    },
  };
}
