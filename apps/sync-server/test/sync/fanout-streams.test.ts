/**
 * The Redis Streams fan-out on its own, against a real Redis and a real Redis Cluster: who
 * receives what, and that the streams of documents nobody writes any more do not stay in Redis.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Fanout, FanoutMessage } from '../../src/fanout/ports.js';
import { createRedisFanout, documentStreamKey, type RedisFanoutOptions } from '../../src/fanout/redis-streams.js';
import { isClusterClient, type RedisClient } from '../../src/redis/connection.js';
import { adminClient, deleteUnder, describeOnRedis, keysMatching } from '../helpers/redis.js';
import { silentLogger, until } from '../helpers/sync.js';

/** Redis Cluster's key slot (CRC16/XMODEM of the hash tag, or of the key without one, mod 16384). */
function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

describeOnRedis('fan-out over Redis Streams, one stream per document', ({ name, target }) => describe('adapter', () => {
  let redis: RedisClient;
  const started: Fanout[] = [];
  const prefixes: string[] = [];

  async function instance(prefix: string, tuning: Partial<RedisFanoutOptions> = {}): Promise<{ fanout: Fanout; received: FanoutMessage[]; gaps: number[]; instanceId: string }> {
    const received: FanoutMessage[] = [];
    const gaps: number[] = [];
    const instanceId = randomUUID();
    const fanout = createRedisFanout({ target, instanceId, keyPrefix: prefix, logger: silentLogger, ...tuning });
    await fanout.start({ onMessage: (m) => received.push(m), onGap: () => gaps.push(Date.now()) });
    started.push(fanout);
    return { fanout, received, gaps, instanceId };
  }

  /** Closes every connection of one instance on every node (its connections are named after it), as a network cut does. */
  async function cutConnections(instanceId: string): Promise<number> {
    const nodes = isClusterClient(redis) ? redis.nodes('master') : [redis];
    let killed = 0;
    for (const node of nodes) {
      const list = (await node.client('LIST')) as string;
      for (const line of list.split('\n')) {
        if (!line.includes(` name=prepmate:fanout:${instanceId} `)) continue;
        const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        if (id) killed += Number(await node.client('KILL', 'ID', id));
      }
    }
    return killed;
  }
  const freshPrefix = (): string => {
    const prefix = `prepmate:test:${randomUUID()}`;
    prefixes.push(prefix);
    return prefix;
  };
  const update = (docName: string, byte: number): FanoutMessage => ({ kind: 'update', docName, author: 'u', payload: new Uint8Array([byte]) });
  const docsOf = (messages: readonly FanoutMessage[]): string[] => [...new Set(messages.map((m) => m.docName))].sort();

  beforeAll(async () => {
    redis = await adminClient(target);
  });
  afterEach(async () => {
    for (const f of started.splice(0)) await f.stop();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deleteUnder(redis, prefix);
    redis.disconnect();
  });

  it('when instances hold different documents, then each receives only the messages of its own documents', async () => {
    const prefix = freshPrefix();
    const a = await instance(prefix);
    const b = await instance(prefix);
    const c = await instance(prefix);
    a.fanout.subscribe('busy');
    b.fanout.subscribe('busy');
    c.fanout.subscribe('idle');
    // Subscriptions take effect once their start id is read; a marker shows each one is live.
    await until(async () => {
      b.fanout.publish(update('busy', 0));
      a.fanout.publish(update('idle', 0));
      return a.received.length > 0 && c.received.length > 0;
    }, 'subscriptions live');
    for (let i = 1; i <= 50; i++) {
      a.fanout.publish(update('busy', i));
      b.fanout.publish(update('busy', i));
      // A document in nobody's hands: published (e.g. an erase from REST), read by nobody.
      a.fanout.publish(update('elsewhere', i));
    }
    // Count real updates (payload ≥ 1), not messages: the marker the last poll above published
    // usually reaches a only now, and would stand in for a real update still in flight.
    const realUpdates = (messages: readonly FanoutMessage[]): number => messages.filter((m) => m.kind === 'update' && m.docName === 'busy' && m.payload[0]! >= 1).length;
    await until(() => realUpdates(a.received) >= 50 && realUpdates(b.received) >= 50, 'busy traffic delivered');
    // The last marker goes after the busy traffic on the same connection: once c has it, c has read everything it would.
    b.fanout.publish(update('idle', 255));
    await until(() => c.received.some((m) => m.kind === 'update' && m.payload[0] === 255), 'marker on idle');
    expect(docsOf(a.received)).toEqual(['busy']);
    expect(docsOf(b.received)).toEqual(['busy']);
    expect(docsOf(c.received)).toEqual(['idle']);
    // Nobody receives its own messages: a got b's 50 updates, not its own 50 too (markers carry 0).
    expect(a.received.filter((m) => m.kind === 'update' && m.payload[0]! >= 1).length).toBe(50);
  });

  it('when an instance unsubscribes, then it stops receiving that document', async () => {
    const prefix = freshPrefix();
    const a = await instance(prefix);
    const b = await instance(prefix);
    a.fanout.subscribe('doc');
    a.fanout.subscribe('other');
    await until(async () => {
      b.fanout.publish(update('doc', 1));
      return a.received.length > 0;
    }, 'subscribed');
    a.fanout.unsubscribe('doc');
    b.fanout.publish(update('doc', 2));
    b.fanout.publish(update('other', 3));
    await until(() => a.received.some((m) => m.docName === 'other'), 'the other document still arrives');
    expect(a.received.filter((m) => m.docName === 'doc' && m.kind === 'update' && m.payload[0] === 2)).toEqual([]);
  });

  it('when an instance loses its connections to Redis and gets them back, then it reports a gap and receives again', async () => {
    const prefix = freshPrefix();
    const a = await instance(prefix);
    const b = await instance(prefix);
    b.fanout.subscribe('doc');
    await until(async () => {
      a.fanout.publish(update('doc', 1));
      return b.received.length > 0;
    }, 'subscribed');
    expect(b.gaps).toEqual([]);
    expect(await cutConnections(b.instanceId)).toBeGreaterThan(0);
    await until(() => b.gaps.length > 0, 'gap reported after the connections came back', 15_000);
    await until(async () => {
      a.fanout.publish(update('doc', 2));
      return b.received.some((m) => m.kind === 'update' && m.payload[0] === 2);
    }, 'receives again', 15_000);
    expect(a.gaps).toEqual([]);
  });

  it('when a document stream gets no more appends, then Redis deletes it after the TTL; while written, it is trimmed', async () => {
    const prefix = freshPrefix();
    // Long enough for the checks below to see the stream between the last write and its expiry
    // on a loaded machine (with 300 ms it was sometimes gone before the first look).
    const a = await instance(prefix, { ttlMs: 2_000, maxLen: 10 });
    const key = documentStreamKey(prefix, 16, 'gone');
    for (let i = 0; i < 500; i++) a.fanout.publish(update('gone', i % 256));
    await until(async () => (await redis.xlen(key)) > 0, 'stream written');
    // MAXLEN ~ trims whole nodes (100 entries by default), never below maxLen.
    await until(async () => {
      const info = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
      return info.length > 0 && (await redis.pttl(key)) > 0;
    }, 'expiry set');
    expect(await redis.xlen(key)).toBeLessThanOrEqual(10 + 100);
    await until(async () => (await redis.exists(key)) === 0, 'stream expired');
  });

  it('keeps each document stream in the Redis Cluster hash slot of its shard, with the wake key its reader blocks on', async () => {
    const prefix = freshPrefix();
    const a = await instance(prefix, { shards: 4 });
    const names = ['alice', 'bob', 'carol/notes', 'dave', 'erin', 'frank'];
    for (const name of names) a.fanout.subscribe(name);
    const docSlots = names.map((n) => keySlot(documentStreamKey(prefix, 4, n)));
    const wakeSlots = async (): Promise<Set<number>> => new Set((await keysMatching(redis, `${prefix}:*:w:*`)).map(keySlot));
    // Every stream a shard reader blocks on shares the slot of its wake key (one XREAD, one slot).
    // Each shard's wake key is written on its own (on a cluster, on its own node): wait for all.
    await until(async () => {
      const slots = await wakeSlots();
      return docSlots.every((slot) => slots.has(slot));
    }, 'a wake key in the slot of every subscribed document');
    expect((await wakeSlots()).size).toBe(new Set(docSlots).size);
    // ...and documents spread over several slots.
    expect(new Set(docSlots).size).toBeGreaterThan(1);
  });

  if (name === 'redis-cluster') {
    it('on a Redis Cluster, spreads the shards over several primaries and computes the slots the cluster itself does', async () => {
      const prefix = freshPrefix();
      const keys = Array.from({ length: 16 }, (_, i) => documentStreamKey(prefix, 16, `learner-${i}`));
      // The slot the cluster computes is the one the test's reasoning above relies on.
      for (const key of keys) expect(Number(await redis.cluster('KEYSLOT', key))).toBe(keySlot(key));
      const owners = new Set<string>();
      const slots = (await redis.cluster('SLOTS')) as unknown as Array<[number, number, [string, number, ...unknown[]]]>;
      for (const key of keys) {
        const slot = keySlot(key);
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        if (range) owners.add(`${range[2][0]}:${range[2][1]}`);
      }
      expect(owners.size).toBeGreaterThan(1);
    });
  }
}));
