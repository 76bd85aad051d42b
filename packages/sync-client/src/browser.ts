import type { WebSocketConstructor } from './doc/connection.js';
import { createIndexedDbDocPersistence, docDatabaseName, docRescuePrefix } from './doc/persistence.js';
import { readStoredView } from './doc/stored-view.js';
import { createSyncClientOn, type Platform, type SyncClient, type SyncClientOptions } from './client.js';
import { createIndexedDbOutboxStorage } from './outbox/indexeddb-storage.js';
import { createMemoryOutboxStorage } from './outbox/memory-storage.js';
import { browserChannel, browserConnectivity, browserLifecycle, browserLocks, browserRescueStore } from './ports.js';

/** The browser platform: IndexedDB, Web Locks, BroadcastChannel, `online`/`pagehide` events. */
export function browserPlatform(): Platform {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  const lifecycle = browserLifecycle();
  const rescue = browserRescueStore();
  return {
    connectivity: browserConnectivity(),
    lifecycle,
    locks: browserLocks(),
    channel: browserChannel(),
    WebSocket: (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? null,
    // Private browsing modes may refuse IndexedDB: fall back to memory rather than fail to start.
    outboxStorage: (userId) =>
      idb ? createIndexedDbOutboxStorage({ indexedDB: idb, dbName: `prepmate-outbox:${userId}` }).catch(() => createMemoryOutboxStorage()) : createMemoryOutboxStorage(),
    docPersistence: idb ? createIndexedDbDocPersistence({ rescue, lifecycle }) : null,
    rescue,
    crossTab: true,
  };
}

/**
 * Creates the SDK for a browser tab: the learner document persisted in IndexedDB and synced over
 * WebSocket, and the telemetry outbox in IndexedDB with one sending tab per origin.
 */
export function createSyncClient(options: SyncClientOptions): SyncClient {
  return createSyncClientOn(browserPlatform(), options);
}

/**
 * The view a page of this browser saved for the learner's stored document
 * (`SyncClient.saveStoredView`), while that document is still exactly what is stored; else
 * `null`. Read before creating the client, so that a page can show it before loading the document.
 */
export function readBrowserStoredView(userId: string, docName: string = userId): Promise<unknown> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) return Promise.resolve(null);
  return readStoredView({ indexedDB: idb, dbName: docDatabaseName(docName), rescue: browserRescueStore(), rescuePrefix: docRescuePrefix(docName) });
}
