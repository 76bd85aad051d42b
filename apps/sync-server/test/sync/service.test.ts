import { describe, expect, it } from 'vitest';
import { asUserId } from '../../src/ids.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { connectClient, rawSocket, readStored, sqliteBackend, startSyncServer, until, useSqliteSyncServer } from '../helpers/sync.js';
import type { RedisTarget } from '../../src/redis/connection.js';

describe('sync service', () => {
  const fx = useSqliteSyncServer();

  it('when another instance holds a document’s snapshot lease, then the job skips that document and leaves its log', async () => {
    const token = await fx.server.tokens.sign('leased');
    const a = connectClient(fx.server.syncUrl, 'leased', token);
    await a.whenSynced();
    a.map.set('x', 1);
    await until(async () => (await fx.store.documents.loadDocument('leased')).updates.length > 0, 'logged');
    expect(await fx.store.leases.tryAcquire('snapshot:leased', 'another-instance', 60_000)).toBe(true);
    const run = await fx.server.service.runSnapshots();
    expect(run.skippedLeased).toBeGreaterThanOrEqual(1);
    expect((await fx.store.documents.loadDocument('leased')).updates.length).toBeGreaterThan(0);
    await fx.store.leases.release('snapshot:leased', 'another-instance');
    // The registered job (the scheduler's `snapshots`) is the same run.
    expect(await fx.server.running.jobs.runNow('snapshots')).toBe(true);
    expect((await fx.store.documents.loadDocument('leased')).updates.length).toBe(0);
    a.destroy();
  });

  it('when a learner is erased, then their sockets close with DOCUMENT_DELETED and nothing of theirs stays stored', async () => {
    const token = await fx.server.tokens.sign('gone');
    const a = connectClient(fx.server.syncUrl, 'gone', token);
    const b = connectClient(fx.server.syncUrl, 'gone/notes', token);
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    a.map.set('x', 1);
    b.map.set('y', 2);
    await until(async () => (await readStored(fx.store, 'gone/notes')).getMap('m').get('y') === 2, 'stored');
    const closes: number[] = [];
    a.provider.on('connection-close', (event: { code: number } | null) => event && closes.push(event.code));
    await fx.server.service.documents.eraseUser(asUserId('gone'));
    await until(() => closes.includes(CloseCode.DOCUMENT_DELETED), 'closed with 4410');
    expect(await fx.store.documents.listUserDocuments('gone')).toEqual([]);
    expect((await readStored(fx.store, 'gone')).getMap('m').size).toBe(0);
    a.destroy();
    b.destroy();
  });

  it('when clients sync, then the registry given to the service exposes connections, documents, updates and flush latency', async () => {
    const token = await fx.server.tokens.sign('metrics');
    const a = connectClient(fx.server.syncUrl, 'metrics', token);
    await a.whenSynced();
    a.map.set('x', 1);
    await until(async () => (await readStored(fx.store, 'metrics')).getMap('m').get('x') === 1, 'stored');
    const text = await fx.server.registry.metrics();
    for (const name of ['prepmate_sync_connections', 'prepmate_sync_loaded_documents', 'prepmate_sync_updates_total', 'prepmate_sync_log_flush_seconds_bucket', 'prepmate_sync_snapshot_duration_seconds', 'prepmate_sync_store_errors_total']) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/prepmate_sync_updates_total\{[^}]*source="client"[^}]*\} [1-9]/);
    // The row is readable a moment before the flush's completion empties the backlog.
    await until(() => fx.server.service.status().logBacklog === 0, 'backlog drained');
    expect(fx.server.service.status()).toMatchObject({ storeHealthy: true, logBacklog: 0 });
    a.destroy();
  });
});

describe('socket hygiene', () => {
  // A socket must answer a ping before the next one: with 100 ms, a loaded machine's event-loop
  // stall terminated the healthy sockets too. 1 s still finds the dead one within seconds.
  const fx = useSqliteSyncServer({ options: { limits: { pingIntervalMs: 1_000 } } });

  it('when a socket stops answering pings, then the server terminates it and its awareness is removed', async () => {
    const token = await fx.server.tokens.sign('deadbeat');
    const watcher = connectClient(fx.server.syncUrl, 'deadbeat', token);
    await watcher.whenSynced();
    const opened = await rawSocket(`${fx.server.syncUrl}/deadbeat?token=${token}`);
    if (!('ws' in opened)) throw new Error('refused');
    // An awareness state for client 77, then silence: the socket no longer reads (no pongs).
    const state = new TextEncoder().encode(JSON.stringify({ name: 'ghost' }));
    // [awareness, len, [count 1, clientID 77, clock 1, varString state]]
    opened.ws.send(Buffer.from([1, 4 + state.length, 1, 77, 1, state.length, ...state]));
    await until(() => watcher.provider.awareness.getStates().has(77), 'ghost visible');
    (opened.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => fx.server.service.status().connections === 1, 'dead socket terminated');
    await until(() => !watcher.provider.awareness.getStates().has(77), 'ghost removed');
    watcher.destroy();
  });

  it('when a client sends query-awareness, then it receives every known state', async () => {
    const token = await fx.server.tokens.sign('asker');
    const present = connectClient(fx.server.syncUrl, 'asker', token);
    await present.whenSynced();
    present.provider.awareness.setLocalStateField('here', true);
    const opened = await rawSocket(`${fx.server.syncUrl}/asker?token=${token}`);
    if (!('ws' in opened)) throw new Error('refused');
    const awarenessFrames: Buffer[] = [];
    opened.ws.on('message', (data: Buffer) => data[0] === 1 && awarenessFrames.push(data));
    // The initial awareness may arrive before this listener; the answer to the query cannot.
    opened.ws.send(Buffer.from([3]));
    await until(() => awarenessFrames.length >= 1, 'answer to query-awareness');
    expect(awarenessFrames.some((f) => f.includes(Buffer.from('"here":true')))).toBe(true);
    opened.ws.close();
    present.destroy();
  });
});

describe('fan-out without a reachable Redis', () => {
  const nowhere: Array<[string, RedisTarget]> = [
    ['REDIS_URL', { kind: 'single', url: 'redis://127.0.0.1:1' }],
    ['REDIS_CLUSTER_NODES', { kind: 'cluster', nodes: ['redis://127.0.0.1:1', 'redis://127.0.0.1:2'] }],
  ];
  it.each(nowhere)('when %s points nowhere, then the service still starts, syncs as a single instance and stops', async (_, target) => {
    const backend = await sqliteBackend();
    const store = await backend.open();
    const server = await startSyncServer(store, { redis: { target, keyPrefix: 'prepmate:test:nowhere' } });
    try {
      const token = await server.tokens.sign('lonely');
      const a = connectClient(server.syncUrl, 'lonely', token);
      const b = connectClient(server.syncUrl, 'lonely', token);
      await Promise.all([a.whenSynced(), b.whenSynced()]);
      a.map.set('x', 1);
      await until(() => b.map.get('x') === 1, 'local fan-out');
      await until(async () => (await readStored(store, 'lonely')).getMap('m').get('x') === 1, 'durable');
      a.destroy();
      b.destroy();
    } finally {
      await server.stop();
      await store.close();
      await backend.remove();
    }
  });
});
