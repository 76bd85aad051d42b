// y-indexeddb uses the global indexedDB/IDBKeyRange: this file (its own worker) installs fake ones.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { createSyncClientOn, type Platform } from '../src/client.js';
import type { WebSocketConstructor } from '../src/doc/connection.js';
import { LARGE_UPDATE_BYTES, createIndexedDbDocPersistence, indexedDbDocPersistence, recordsOf } from '../src/doc/persistence.js';
import { createMemoryOutboxStorage } from '../src/outbox/memory-storage.js';
import { createManualConnectivity, createManualLifecycle, createMemoryRescueStore, noLifecycle, type ManualConnectivity } from '../src/ports.js';
import { eventually } from './fakes.js';
import { startTestServer, type TestServer } from './server-helper.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const platform = (connectivity: ManualConnectivity): Platform => ({
  connectivity,
  lifecycle: noLifecycle,
  locks: null,
  channel: null,
  WebSocket: WebSocket as unknown as WebSocketConstructor,
  outboxStorage: () => createMemoryOutboxStorage(),
  docPersistence: indexedDbDocPersistence,
  crossTab: false,
});

describe('document persisted with y-indexeddb', () => {
  it('when offline edits survive a reload, then they count as unsaved until the server acknowledges them, and reach the server', async () => {
    const userId = 'reloader';
    const opts = { apiBaseUrl: server.url, wsUrl: server.wsUrl, userId, getToken: () => server.token(userId) };
    const offline = createManualConnectivity(false);
    const page1 = createSyncClientOn(platform(offline), opts);
    await page1.ready;
    page1.document.updateTopic('heaps', { status: 'in_progress', goal: 'k-way merge' });
    expect(page1.status().unsavedChanges).toBe(1);
    await page1.destroy();

    const online = createManualConnectivity(false);
    const page2 = createSyncClientOn(platform(online), opts);
    await page2.ready;
    expect(page2.document.getTopic('heaps')?.goal).toBe('k-way merge');
    expect(page2.status().unsavedChanges).toBe(1);
    online.setOnline(true);
    await page2.whenSaved();
    await eventually(async () => {
      const p = await server.getJson<{ data: { topics: Record<string, { goal?: string }> } }>('/api/progress', userId);
      expect(p.data.topics['heaps']?.goal).toBe('k-way merge');
    });
    await page2.destroy();
  });

  it('when the page reloads offline, then the unsaved count is the one shown before, and an acknowledged state counts as saved', async () => {
    const userId = 'recounter';
    const rescue = createMemoryRescueStore();
    const opts = { apiBaseUrl: server.url, wsUrl: server.wsUrl, userId, getToken: () => server.token(userId), rescue };
    const page1 = createSyncClientOn(platform(createManualConnectivity(false)), opts);
    await page1.ready;
    page1.document.updateTopic('heaps', { goal: 'k-way merge' });
    page1.document.updateTopic('tries', { notes: 'prefix counts' });
    await eventually(async () => expect(page1.status().unsavedChanges).toBe(2));
    await page1.destroy();

    const connectivity = createManualConnectivity(false);
    const page2 = createSyncClientOn(platform(connectivity), opts);
    await page2.ready;
    expect(page2.status().unsavedChanges).toBe(2);
    page2.document.updateTopic('heaps', { status: 'in_progress' });
    await eventually(async () => expect(page2.status().unsavedChanges).toBe(3));
    connectivity.setOnline(true);
    await page2.whenSaved();
    await page2.destroy();

    // Everything was acknowledged before this reload: nothing is unsaved, even offline.
    const page3 = createSyncClientOn(platform(createManualConnectivity(false)), opts);
    await page3.ready;
    expect(page3.document.getTopic('heaps')).toMatchObject({ goal: 'k-way merge', status: 'in_progress' });
    expect(page3.status().unsavedChanges).toBe(0);
    await page3.destroy();
  });

  it('when a new device syncs a document online, then a reload offline shows all of it', async () => {
    const userId = 'newcomer';
    const rescue = createMemoryRescueStore();
    const opts = { apiBaseUrl: server.url, wsUrl: server.wsUrl, userId, getToken: () => server.token(userId), rescue };
    // Another device (no local store) writes the learner's sessions.
    const other = createSyncClientOn({ ...platform(createManualConnectivity(true)), docPersistence: null }, { ...opts, rescue: createMemoryRescueStore() });
    await other.ready;
    for (let i = 0; i < 300; i++) other.document.recordAssessment({ assessmentId: `s${i}`, topicId: `t${i % 7}`, score: i % 101, completedAt: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() });
    await other.whenSaved();
    await other.destroy();

    // The new device's first sync: the whole document in one step 2, stored as received.
    const page1 = createSyncClientOn(platform(createManualConnectivity(true)), opts);
    await page1.ready;
    await eventually(() => expect(Object.keys(page1.document.facts().assessments)).toHaveLength(300));
    const synced = page1.document.facts();
    await eventually(() => expect(page1.status().unsavedChanges).toBe(0));
    await page1.destroy();

    const page2 = createSyncClientOn(platform(createManualConnectivity(false)), opts);
    await page2.ready;
    expect(page2.document.facts()).toEqual(synced);
    expect(page2.status().unsavedChanges).toBe(0);
    await page2.destroy();
  });

  it('when the server answers a new device with stored changes ahead of the state they follow, then the device has all of it once synced and a reload offline shows all of it', async () => {
    const userId = 'newcomer-from-store';
    const rescue = createMemoryRescueStore();
    const opts = { apiBaseUrl: server.url, wsUrl: server.wsUrl, userId, getToken: () => server.token(userId), rescue };
    const other = createSyncClientOn({ ...platform(createManualConnectivity(true)), docPersistence: null }, { ...opts, rescue: createMemoryRescueStore() });
    await other.ready;
    // Saved in four parts: the store holds them as separate log entries.
    for (let part = 0; part < 4; part++) {
      for (let i = part * 50; i < (part + 1) * 50; i++) other.document.recordAssessment({ assessmentId: `s${i}`, topicId: `t${i % 7}`, score: i % 101, completedAt: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() });
      await other.whenSaved();
    }
    await other.destroy();
    // Unloaded: the next device's answer is the stored log as it is, its later entries first.
    await eventually(() => expect(server.sync.status().loadedDocuments).toBe(0), 15_000);

    const page1 = createSyncClientOn(platform(createManualConnectivity(true)), opts);
    await page1.ready;
    await eventually(() => expect(page1.status().synced).toBe(true));
    // It asked for the answer in parts (without, the server sends the whole document as one step 2).
    expect(new URL(page1.provider!.url).searchParams.get('parts')).toBe('1');
    expect(Object.keys(page1.document.facts().assessments)).toHaveLength(200);
    const synced = page1.document.facts();
    await eventually(() => expect(page1.status().unsavedChanges).toBe(0));
    await page1.destroy();

    const page2 = createSyncClientOn(platform(createManualConnectivity(false)), opts);
    await page2.ready;
    expect(page2.document.facts()).toEqual(synced);
    await page2.destroy();
  });

  it('when more than 500 updates are written one task at a time, then the store is compacted and a reload has them all', async () => {
    const name = 'compaction';
    const doc = new Y.Doc();
    const errors: string[] = [];
    const first = indexedDbDocPersistence(name, doc, (m) => errors.push(m));
    await first.whenLoaded;
    const list = doc.getArray<number>('n');
    for (let i = 0; i < 600; i++) {
      list.push([i]);
      await new Promise((r) => setImmediate(r));
    }
    // y-indexeddb rewrites the state as one record once 500 are stored (after its 1 s delay).
    await eventually(async () => expect(await countRecords(`prepmate-doc:${name}`)).toBeLessThan(150), 10_000, 50);
    await first.destroy();

    const again = new Y.Doc();
    const second = indexedDbDocPersistence(name, again, (m) => errors.push(m));
    await second.whenLoaded;
    expect(again.getArray<number>('n').toArray()).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(errors).toEqual([]);
    await second.destroy();
  });

  it('when the page goes away before an edit reaches IndexedDB, then the copy in the rescue store brings it back on the next load, once', async () => {
    const name = 'rescued';
    const rescue = createMemoryRescueStore();
    const lifecycle = createManualLifecycle();
    const doc = new Y.Doc();
    const first = createIndexedDbDocPersistence({ rescue, lifecycle })(name, doc, () => undefined);
    await first.whenLoaded;
    doc.getMap('m').set('answer', 42); // its IndexedDB write starts in a microtask
    lifecycle.fire('pagehide');
    // What localStorage held as the page died, before its IndexedDB write could happen.
    const left = createMemoryRescueStore();
    for (const key of rescue.keys()) left.set(key, rescue.get(key)!);
    expect(left.keys()).toHaveLength(1);
    await first.destroy();
    // This page's write did complete, so its own copy is gone.
    await eventually(() => expect(rescue.keys()).toEqual([]));
    // The page that died never wrote: its database is empty.
    await new Promise((resolve, reject) => {
      const req = indexedDB.deleteDatabase(`prepmate-doc:${name}`);
      req.onsuccess = resolve;
      req.onerror = () => reject(req.error);
    });

    const again = new Y.Doc();
    const second = createIndexedDbDocPersistence({ rescue: left, lifecycle: createManualLifecycle() })(name, again, () => undefined);
    await second.whenLoaded;
    expect(again.getMap('m').get('answer')).toBe(42);
    await eventually(() => expect(left.keys()).toEqual([]));
    await second.destroy();
    // Written to IndexedDB: a load without any rescue store has it.
    const third = new Y.Doc();
    const plain = indexedDbDocPersistence(name, third, () => undefined);
    await plain.whenLoaded;
    expect(third.getMap('m').get('answer')).toBe(42);
    await plain.destroy();
  });
});


/** Records in y-indexeddb's `updates` store, read through a connection of our own. */
function countRecords(dbName: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(dbName);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const req = db.transaction(['updates'], 'readonly').objectStore('updates').count();
      req.onsuccess = () => {
        db.close();
        resolve(req.result);
      };
      req.onerror = () => reject(req.error);
    };
  });
}
describe('the records of one task', () => {
  const update = (key: string, bytes: number): Uint8Array => {
    const d = new Y.Doc();
    d.getMap('m').set(key, 'x'.repeat(bytes));
    return Y.encodeStateAsUpdate(d);
  };

  it('when a task wrote small updates and large ones, then the small ones become one record and each large one is kept as it is, with the same content', () => {
    const large = update('large', LARGE_UPDATE_BYTES + 1);
    const smalls = [update('a', 10), update('b', 10)];
    const records = recordsOf([smalls[0]!, large, smalls[1]!]);
    expect(records).toHaveLength(2);
    expect(records[0]).toBe(large);
    const doc = new Y.Doc();
    for (const r of records) Y.applyUpdate(doc, r);
    expect(Object.keys(doc.getMap('m').toJSON()).sort()).toEqual(['a', 'b', 'large']);
    expect(recordsOf([large])).toEqual([large]);
    expect(recordsOf(smalls)).toHaveLength(1);
  });
});
