/**
 * `@prepmate/sync-client/node`: the same SDK for Node services and CLI tools. The outbox is a
 * JSON-lines journal file, WebSocket is the `ws` package, there is no page lifecycle, and the
 * document is optionally kept in an update journal beside the outbox.
 */
import { join } from 'node:path';
import WebSocket from 'ws';
import { createSyncClientOn, type Platform, type SyncClient, type SyncClientOptions } from '../client.js';
import type { WebSocketConstructor } from '../doc/connection.js';
import { createMemoryOutboxStorage } from '../outbox/memory-storage.js';
import { alwaysOnline, noLifecycle } from '../ports.js';
import { fileDocPersistence } from './doc-file-persistence.js';
import { createFileOutboxStorage, type FsyncPolicy } from './file-storage.js';

export * from '../index.js';
export { createFileOutboxStorage, type FileOutboxOptions, type FsyncPolicy } from './file-storage.js';
export { fileDocPersistence, type FileDocPersistenceOptions } from './doc-file-persistence.js';

/** Node options: where the outbox (and optionally the document) live on disk. */
export interface NodeSyncClientOptions extends SyncClientOptions {
  /**
   * Directory for `outbox-<userId>.jsonl` (and `doc-<docName>.ylog` when `persistDocument`).
   * Unset: everything in memory, lost when the process exits.
   */
  readonly dataDir?: string;
  /** Keep the learner document in an update journal in `dataDir`. Default false (the server has it). */
  readonly persistDocument?: boolean;
  /** Default `always`. */
  readonly fsync?: FsyncPolicy;
}

/** The Node platform for `dataDir` (or memory). */
export function nodePlatform(options: Pick<NodeSyncClientOptions, 'dataDir' | 'persistDocument' | 'fsync'> = {}): Platform {
  const { dataDir, fsync = 'always' } = options;
  return {
    connectivity: alwaysOnline,
    lifecycle: noLifecycle,
    locks: null,
    channel: null,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    outboxStorage: (userId) => (dataDir ? createFileOutboxStorage({ path: join(dataDir, `outbox-${userId}.jsonl`), fsync }) : createMemoryOutboxStorage()),
    docPersistence: dataDir && options.persistDocument ? fileDocPersistence({ dir: dataDir, fsync }) : null,
    crossTab: false,
  };
}

/**
 * Creates the SDK in Node. Its timers do not keep the process alive: call `drain({ timeoutMs })`
 * (or `flush()`) then `destroy()` before the process exits.
 */
export function createSyncClient(options: NodeSyncClientOptions): SyncClient {
  return createSyncClientOn(nodePlatform(options), options);
}
