import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/storage/ports.js';
import { createTokenService } from '../../src/auth/tokens.js';
import { adminClient, deleteUnder, describeOnRedis } from '../helpers/redis.js';
import {
  backendFactories,
  CHILD_START_TIMEOUT_MS,
  CHILD_TEST_TIMEOUT_MS,
  connectClient,
  readStored,
  spawnSyncServer,
  startSyncServer,
  TEST_SECRET,
  until,
  type ChildServer,
  type StoreBackend,
  type SyncTestServer,
  tcpProxy,
  type TestClient,
} from '../helpers/sync.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import type { DocName } from '../../src/ids.js';

describeOnRedis('two instances on one store', ({ target, env: redisEnv }) => describe.each(backendFactories())('on $name', ({ create }) => {
  let backend: StoreBackend;
  let store: Store;
  const clients: TestClient[] = [];
  const servers: SyncTestServer[] = [];
  const children: ChildServer[] = [];
  const tokens = createTokenService(TEST_SECRET);
  /** A key prefix of its own per test, so tests and runs never see each other's entries. */
  const prefixes: string[] = [];
  const freshPrefix = (): string => {
    const key = `prepmate:test:${randomUUID()}`;
    prefixes.push(key);
    return key;
  };

  beforeAll(async () => {
    backend = await create();
    store = await backend.open();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const s of servers.splice(0)) await s.stop();
    for (const child of children.splice(0)) await child.kill('SIGKILL');
  });
  afterAll(async () => {
    const redis = await adminClient(target);
    for (const prefix of prefixes) await deleteUnder(redis, prefix);
    redis.disconnect();
    await store?.close();
    await backend?.remove();
  });

  it('when clients of one document are on different instances, then updates and awareness converge', async () => {
    const keyPrefix = freshPrefix();
    const one = await startSyncServer(store, { redis: { target, keyPrefix } });
    const two = await startSyncServer(store, { redis: { target, keyPrefix } });
    servers.push(one, two);
    const token = await tokens.sign('multi');
    const a = connectClient(one.syncUrl, 'multi', token);
    const b = connectClient(two.syncUrl, 'multi', token);
    clients.push(a, b);
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    for (let i = 0; i < 50; i++) {
      a.map.set(`a${i}`, i);
      b.map.set(`b${i}`, i);
    }
    a.doc.getText('t').insert(0, 'from one ');
    b.doc.getText('t').insert(0, 'from two ');
    await until(() => a.map.size === 100 && b.map.size === 100 && a.doc.getText('t').toString() === b.doc.getText('t').toString(), 'converged');
    a.provider.awareness.setLocalStateField('name', 'on-one');
    await until(() => (b.provider.awareness.getStates().get(a.doc.clientID) as { name?: string } | undefined)?.name === 'on-one', 'awareness across instances');
    a.provider.destroy();
    await until(() => !b.provider.awareness.getStates().has(a.doc.clientID), 'awareness removal across instances');
  });

  it('when an instance loads a document another one holds unflushed updates of, then it asks for them over the stream', async () => {
    const keyPrefix = freshPrefix();
    // A long flush window: the first instance's updates are only in its memory.
    const one = await startSyncServer(store, { redis: { target, keyPrefix }, config: { UPDATE_FLUSH_MS: 10_000 } });
    const two = await startSyncServer(store, { redis: { target, keyPrefix } });
    servers.push(one, two);
    const token = await tokens.sign('late');
    const a = connectClient(one.syncUrl, 'late', token);
    clients.push(a);
    await a.whenSynced();
    for (let i = 0; i < 20; i++) a.map.set(`k${i}`, i);
    await until(() => one.service.status().logBacklog > 0, 'queued on one');
    const b = connectClient(two.syncUrl, 'late', token);
    clients.push(b);
    await until(() => b.map.size === 20, 'the second instance fetched what the first had in memory');
  });

  it('when one of two instances is killed, then nothing its clients wrote is lost', async () => {
    const keyPrefix = freshPrefix();
    const env = { ...backend.env, ...redisEnv, REDIS_KEY_PREFIX: keyPrefix, UPDATE_FLUSH_MS: '2000' };
    const one = await spawnSyncServer(env);
    const two = await spawnSyncServer({ ...env, UPDATE_FLUSH_MS: '50' });
    children.push(one, two);
    const token = await tokens.sign('survivor');
    const writer = connectClient(one.syncUrl, 'survivor', token);
    const reader = connectClient(two.syncUrl, 'survivor', token);
    clients.push(writer, reader);
    // A fresh child's first answers are slow too (cold code paths, first store connection).
    await Promise.all([writer.whenSynced(CHILD_START_TIMEOUT_MS), reader.whenSynced(CHILD_START_TIMEOUT_MS)]);
    for (let i = 0; i < 100; i++) writer.map.set(`k${i}`, i);
    await until(() => reader.map.size === 100, 'reader on the other instance has everything');
    // The writer's instance dies before its own (2 s) flush: the survivor logged what it received.
    await one.kill('SIGKILL');
    await until(async () => (await readStored(store, 'survivor')).getMap('m').size === 100, 'everything durable via the surviving instance', 10_000);
    const fresh = connectClient(two.syncUrl, 'survivor', token);
    clients.push(fresh);
    await fresh.whenSynced();
    expect(fresh.map.size).toBe(100);
  }, CHILD_TEST_TIMEOUT_MS);

  it('when a document is erased on one instance, then the other instance holding it closes its sockets', async () => {
    const keyPrefix = freshPrefix();
    const one = await startSyncServer(store, { redis: { target, keyPrefix } });
    const two = await startSyncServer(store, { redis: { target, keyPrefix } });
    servers.push(one, two);
    const token = await tokens.sign('erased');
    const a = connectClient(one.syncUrl, 'erased', token);
    const b = connectClient(two.syncUrl, 'erased', token);
    clients.push(a, b);
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    a.map.set('x', 1);
    await until(() => b.map.get('x') === 1, 'shared');
    const closes: number[] = [];
    b.provider.on('connection-close', (event) => closes.push(event?.code ?? 0));
    await one.service.documents.erase('erased' as DocName);
    await until(() => closes.includes(CloseCode.DOCUMENT_DELETED), 'the other instance closed its socket as deleted');
    await until(() => two.service.status().loadedDocuments === 0, 'and dropped the document');
  });

  // One Redis only: cutting one instance off needs a proxy in front of its Redis, and cluster
  // clients connect to the addresses the nodes announce, past any proxy in front of a seed.
  if (target.kind === 'single') it('when an instance loses Redis and the entries written meanwhile are gone, then it catches up from the store', async () => {
    const keyPrefix = freshPrefix();
    const proxy = await tcpProxy('127.0.0.1', Number(new URL(target.url).port || 6379));
    try {
      const one = await startSyncServer(store, { redis: { target, keyPrefix } });
      const two = await startSyncServer(store, { redis: { target: { kind: 'single', url: `redis://127.0.0.1:${proxy.port}` }, keyPrefix } });
      servers.push(one, two);
      const token = await tokens.sign('gap');
      const a = connectClient(one.syncUrl, 'gap', token);
      const b = connectClient(two.syncUrl, 'gap', token);
      clients.push(a, b);
      await Promise.all([a.whenSynced(), b.whenSynced()]);
      a.map.set('before', 1);
      await until(() => b.map.get('before') === 1, 'fan-out works');
      // Redis "restarts" for the second instance: its connections drop, and the entries written
      // meanwhile are lost, as an in-memory Redis loses them.
      await proxy.cut();
      for (let i = 0; i < 30; i++) a.map.set(`k${i}`, i);
      await until(async () => (await readStored(store, 'gap')).getMap('m').size === 31, 'written to the store by the first instance');
      const redis = await adminClient(target);
      await deleteUnder(redis, keyPrefix);
      redis.disconnect();
      expect(b.map.size).toBe(1);
      await proxy.restore();
      await until(() => b.map.size === 31, 'the second instance re-read the store after the gap', 15_000);
    } finally {
      await proxy.close();
    }
  });
}));
