// The browser entry's databases, on a fake IndexedDB (this file's own worker).
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createSyncClientOn, type Platform } from '../src/client.js';
import { indexedDbDocPersistence } from '../src/doc/persistence.js';
import { forgetLocalData, localDatabaseNames } from '../src/forget.js';
import { createIndexedDbOutboxStorage } from '../src/outbox/indexeddb-storage.js';
import { createManualConnectivity, createMemoryRescueStore, noLifecycle } from '../src/ports.js';

const offlinePlatform = (): Platform => ({
  connectivity: createManualConnectivity(false),
  lifecycle: noLifecycle,
  locks: null,
  channel: null,
  WebSocket: null,
  outboxStorage: (userId) => createIndexedDbOutboxStorage({ indexedDB, dbName: `prepmate-outbox:${userId}` }),
  docPersistence: indexedDbDocPersistence,
  crossTab: false,
});

async function databases(): Promise<string[]> {
  return (await indexedDB.databases()).map((d) => d.name ?? '').sort();
}

describe('forgetLocalData', () => {
  it('when a learner is forgotten, then their document, outbox and unload copies are gone and another learner keeps theirs', async () => {
    const open = (userId: string) =>
      createSyncClientOn(offlinePlatform(), { apiBaseUrl: 'http://127.0.0.1:9', wsUrl: 'ws://127.0.0.1:9', userId, getToken: async () => 't', documentSync: false });
    for (const userId of ['ada', 'grace']) {
      const c = open(userId);
      await c.ready;
      c.document.updateTopic('sql', { goal: `goal of ${userId}` });
      await c.captureEvent('screen_viewed', { screen: 'dashboard' });
      await c.destroy();
    }
    expect(await databases()).toEqual([...localDatabaseNames('ada'), ...localDatabaseNames('grace')].sort());
    const rescue = createMemoryRescueStore();
    rescue.set('prepmate-doc-rescue:ada:x1', '[]');
    rescue.set('prepmate-outbox-rescue:ada:x2', '[]');
    rescue.set('prepmate-doc-rescue:grace:x3', '[]');
    rescue.set('prepmate-doc-unsaved:ada', '{"unsaved":2,"acked":null}');

    await forgetLocalData({ userId: 'ada', indexedDB, rescue });

    expect(await databases()).toEqual(localDatabaseNames('grace').sort());
    expect(rescue.keys()).toEqual(['prepmate-doc-rescue:grace:x3']);
    // Opening ada again starts from nothing; grace still has her goal and queued event.
    const ada = open('ada');
    await ada.ready;
    expect(ada.document.getTopic('sql')).toBeUndefined();
    expect(ada.status().queuedEvents).toBe(0);
    await ada.destroy();
    const grace = open('grace');
    await grace.ready;
    expect(grace.document.getTopic('sql')?.goal).toBe('goal of grace');
    expect(grace.status().queuedEvents).toBe(1);
    await grace.destroy();
  });
});
