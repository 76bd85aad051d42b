import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createUpdateLog } from '../../src/docs/update-log.js';
import type { UpdateRecord } from '../../src/storage/ports.js';
import { silentLogger, until } from '../helpers/sync.js';

function fakeStore() {
  const state = { failing: false, writes: [] as UpdateRecord[][], attempts: [] as number[] };
  return {
    state,
    appendUpdates: async (records: readonly UpdateRecord[]) => {
      state.attempts.push(Date.now());
      if (state.failing) throw new Error('down');
      state.writes.push([...records]);
    },
  };
}

function updates(n: number, clientSeed = 1): Uint8Array[] {
  const doc = new Y.Doc();
  doc.clientID = clientSeed;
  const out: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => out.push(u));
  for (let i = 0; i < n; i++) doc.getMap('m').set(`k${i}`, i);
  return out;
}

describe('update log', () => {
  it('when many updates arrive within the flush window, then they are written in one call with author and time', async () => {
    const store = fakeStore();
    const log = createUpdateLog({ store, logger: silentLogger, flushMs: 30, maxRetries: 2, retryDelayMs: 10, maxPendingRecords: 1000 });
    const seqs = updates(50).map((u) => log.append('doc', u, 'alice'));
    await log.whenDurable(seqs[seqs.length - 1]!);
    expect(store.state.writes.length).toBe(1);
    expect(store.state.writes[0]!.length).toBe(50);
    expect(store.state.writes[0]![0]).toMatchObject({ docName: 'doc', author: 'alice' });
    expect(store.state.writes[0]![0]!.createdAt).toBeInstanceOf(Date);
    expect(log.status()).toMatchObject({ backlog: 0, healthy: true });
    log.close();
  });

  it('when the store fails, then writes are retried with growing delays past MAX_RETRIES, nothing is dropped, and status is degraded meanwhile', async () => {
    const store = fakeStore();
    store.state.failing = true;
    const log = createUpdateLog({ store, logger: silentLogger, flushMs: 5, maxRetries: 2, retryDelayMs: 20, maxPendingRecords: 1000 });
    const all = updates(30);
    for (const u of all.slice(0, 10)) log.append('doc', u, 'alice');
    await until(() => store.state.attempts.length >= 5, 'keeps retrying after MAX_RETRIES');
    const gaps = store.state.attempts.slice(1).map((t, i) => t - store.state.attempts[i]!);
    // 20, 40, then capped at 40 ms (timers may fire a little late, never early).
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[3]).toBeGreaterThanOrEqual(38);
    expect(log.status().healthy).toBe(false);
    expect(log.status().backlog).toBe(10);
    for (const u of all.slice(10)) log.append('doc', u, 'bob');
    store.state.failing = false;
    await until(() => log.status().backlog === 0 && log.status().healthy, 'recovered');
    const written = store.state.writes.flat();
    const doc = new Y.Doc();
    for (const r of written) Y.applyUpdate(doc, r.update);
    expect(doc.getMap('m').size).toBe(30);
    log.close();
  });

  it('when the queue exceeds its bound during an outage, then it is merged per document and author and stays bounded', async () => {
    const store = fakeStore();
    store.state.failing = true;
    const log = createUpdateLog({ store, logger: silentLogger, flushMs: 5, maxRetries: 1, retryDelayMs: 1_000, maxPendingRecords: 20 });
    const a = updates(100, 1);
    const b = updates(100, 2);
    for (let i = 0; i < 100; i++) {
      log.append('one', a[i]!, 'alice');
      log.append('two', b[i]!, 'bob');
    }
    expect(log.status().backlog).toBeLessThanOrEqual(21);
    expect(log.overloaded).toBe(false);
    store.state.failing = false;
    expect(await log.drain(2_000)).toBe(true);
    const docs = new Map<string, Y.Doc>();
    for (const r of store.state.writes.flat()) {
      const doc = docs.get(r.docName) ?? new Y.Doc();
      docs.set(r.docName, doc);
      Y.applyUpdate(doc, r.update);
    }
    expect(docs.get('one')!.getMap('m').size).toBe(100);
    expect(docs.get('two')!.getMap('m').size).toBe(100);
    log.close();
  });

  it('when big updates pile up during an outage, then merging never builds a record above 8 MiB (it must fit a MongoDB document)', async () => {
    const store = fakeStore();
    store.state.failing = true;
    const log = createUpdateLog({ store, logger: silentLogger, flushMs: 5, maxRetries: 1, retryDelayMs: 1_000, maxPendingRecords: 2 });
    const doc = new Y.Doc();
    const big: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => big.push(u));
    // Six 3 MiB answers from one learner: merged whole they would be 18 MiB.
    for (let i = 0; i < 6; i++) doc.getMap('m').set(`answer${i}`, 'x'.repeat(3 * 1024 * 1024));
    for (const u of big) log.append('one', u, 'alice');
    store.state.failing = false;
    expect(await log.drain(5_000)).toBe(true);
    const written = store.state.writes.flat();
    for (const r of written) expect(r.update.byteLength).toBeLessThanOrEqual(8 * 1024 * 1024 + 1024);
    const replica = new Y.Doc();
    for (const r of written) Y.applyUpdate(replica, r.update);
    expect(replica.getMap('m').size).toBe(6);
    log.close();
  });

  it('when drained, then everything appended before is durable', async () => {
    const store = fakeStore();
    const log = createUpdateLog({ store, logger: silentLogger, flushMs: 10_000, maxRetries: 1, retryDelayMs: 10, maxPendingRecords: 1000 });
    for (const u of updates(5)) log.append('doc', u, 'a');
    expect(await log.drain(1_000)).toBe(true);
    expect(store.state.writes.flat().length).toBe(5);
    log.close();
  });

  it('when the newest updates belong to an erased document, then draining settles on the rest instead of waiting for them', async () => {
    const store = fakeStore();
    const log = createUpdateLog({ store, logger: silentLogger, flushMs: 10_000, maxRetries: 1, retryDelayMs: 10, maxPendingRecords: 1000 });
    for (const u of updates(3, 1)) log.append('kept', u, 'a');
    for (const u of updates(3, 2)) log.append('erased', u, 'a');
    log.discard('erased');
    expect(await log.drain(1_000)).toBe(true);
    expect(store.state.writes.flat().map((r) => r.docName)).toEqual(['kept', 'kept', 'kept']);
    log.close();
  });
});
