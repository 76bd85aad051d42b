// y-indexeddb uses the global indexedDB/IDBKeyRange: this file (its own worker) installs fake ones.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createSyncClientOn, type Platform } from '../src/client.js';
import { createIndexedDbDocPersistence, docDatabaseName, docRescuePrefix } from '../src/doc/persistence.js';
import { readStoredView } from '../src/doc/stored-view.js';
import { forgetLocalData } from '../src/forget.js';
import { createMemoryOutboxStorage } from '../src/outbox/memory-storage.js';
import { alwaysOnline, createMemoryRescueStore, noLifecycle, type RescueStore } from '../src/ports.js';
import { eventually } from './fakes.js';

/** A client without a server (document sync off), persisted in the fake IndexedDB. */
function page(userId: string, rescue: RescueStore) {
  const platform: Platform = {
    connectivity: alwaysOnline,
    lifecycle: noLifecycle,
    locks: null,
    channel: null,
    WebSocket: null,
    outboxStorage: () => createMemoryOutboxStorage(),
    docPersistence: createIndexedDbDocPersistence({ rescue }),
    crossTab: false,
  };
  return createSyncClientOn(platform, { apiBaseUrl: 'http://127.0.0.1:9', wsUrl: 'ws://127.0.0.1:9', userId, getToken: async () => 't', documentSync: false, rescue });
}

const read = (userId: string, rescue: RescueStore | null): Promise<unknown> =>
  readStoredView({ indexedDB: indexedDB, dbName: docDatabaseName(userId), rescue, rescuePrefix: docRescuePrefix(userId) });

const databases = async (): Promise<string[]> => (await indexedDB.databases()).map((d) => d.name ?? '');

describe('a view kept beside the stored document', () => {
  it('when nothing was ever stored, then there is no view and reading creates no database', async () => {
    expect(await read('nobody', null)).toBeNull();
    expect(await databases()).not.toContain(docDatabaseName('nobody'));
    // The persistence still creates its database (with its stores) afterwards.
    const rescue = createMemoryRescueStore();
    const p = page('nobody', rescue);
    await p.ready;
    p.document.updateTopic('heaps', { status: 'in_progress', updatedAt: new Date().toISOString() });
    await eventually(async () => expect(await p.saveStoredView({ n: 1 })).toBe(true));
    await p.destroy();
    expect(await read('nobody', rescue)).toEqual({ n: 1 });
  });

  it('when the view is kept and the document is unchanged, then the next page reads it; after a further edit, no page does', async () => {
    const rescue = createMemoryRescueStore();
    const p1 = page('viewer', rescue);
    await p1.ready;
    p1.document.updateTopic('heaps', { status: 'in_progress', updatedAt: new Date().toISOString() });
    await eventually(async () => expect(await p1.saveStoredView({ topics: 1 })).toBe(true));
    await p1.destroy();
    expect(await read('viewer', rescue)).toEqual({ topics: 1 });

    // Loading writes y-indexeddb's own record first; the view is still of the same state only
    // until then, so it is read before the load (as the app does) and not after it.
    const p2 = page('viewer', rescue);
    await p2.ready;
    expect(p2.document.getTopic('heaps')?.status).toBe('in_progress');
    p2.document.updateTopic('tries', { status: 'in_progress', updatedAt: new Date().toISOString() });
    await p2.destroy();
    expect(await read('viewer', rescue)).toBeNull();
  });

  it('when an edit is not yet handed to storage, then the view is refused; once written, it is kept', async () => {
    const rescue = createMemoryRescueStore();
    const p = page('pending', rescue);
    await p.ready;
    p.document.updateTopic('heaps', { status: 'in_progress', updatedAt: new Date().toISOString() });
    // Same task as the edit: its write is still queued.
    expect(await p.saveStoredView({ at: 'edit' })).toBe(false);
    expect(await p.saveStoredView({ at: 'written' })).toBe(true);
    await p.destroy();
    expect(await read('pending', rescue)).toEqual({ at: 'written' });
  });

  it('when another tab wrote records this page has not loaded, then no view is kept', async () => {
    const rescue = createMemoryRescueStore();
    const p = page('two-tabs', rescue);
    await p.ready;
    p.document.updateTopic('heaps', { status: 'in_progress', updatedAt: new Date().toISOString() });
    await eventually(async () => expect(await p.saveStoredView({ tab: 1 })).toBe(true));
    // Another tab's edit, written straight into the same database.
    const other = new Y.Doc();
    other.getMap('x').set('y', 1);
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(docDatabaseName('two-tabs'));
      open.onsuccess = () => {
        const tx = open.result.transaction(['updates'], 'readwrite');
        tx.objectStore('updates').add(Y.encodeStateAsUpdate(other));
        tx.oncomplete = () => {
          open.result.close();
          resolve();
        };
        tx.onerror = () => reject(tx.error);
      };
    });
    expect(await read('two-tabs', rescue)).toBeNull();
    expect(await p.saveStoredView({ tab: 1, again: true })).toBe(false);
    await p.destroy();
  });

  it('when copies of unwritten updates wait in the rescue store, then there is no view', async () => {
    const rescue = createMemoryRescueStore();
    const p = page('rescued', rescue);
    await p.ready;
    p.document.updateTopic('heaps', { status: 'in_progress', updatedAt: new Date().toISOString() });
    await eventually(async () => expect(await p.saveStoredView({ ok: true })).toBe(true));
    await p.destroy();
    expect(await read('rescued', rescue)).toEqual({ ok: true });
    rescue.set(`${docRescuePrefix('rescued')}lost-tab`, 'AAA=');
    expect(await read('rescued', rescue)).toBeNull();
  });

  it('when another learner uses the device, then they never read the view of this learner; once forgotten, nobody does', async () => {
    const rescue = createMemoryRescueStore();
    const a = page('learner-a', rescue);
    await a.ready;
    a.document.updateTopic('heaps', { status: 'in_progress', updatedAt: new Date().toISOString() });
    await eventually(async () => expect(await a.saveStoredView({ who: 'a' })).toBe(true));
    await a.destroy();
    expect(await read('learner-b', rescue)).toBeNull();
    const b = page('learner-b', rescue);
    await b.ready;
    expect(b.document.getTopic('heaps')).toBeUndefined();
    await b.destroy();
    expect(await read('learner-b', rescue)).toBeNull();
    expect(await read('learner-a', rescue)).toEqual({ who: 'a' });
    await forgetLocalData({ userId: 'learner-a', indexedDB, rescue });
    expect(await read('learner-a', rescue)).toBeNull();
  });
});
