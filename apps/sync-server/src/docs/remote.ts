/**
 * Other instances: subscribes to the fan-out of each document while it is loaded here, applies
 * what arrives (updates, awareness, requests for missing updates, erasures), and re-reads
 * documents from the store after a fan-out gap.
 */
import * as Y from 'yjs';
import { applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import type { Fanout, FanoutMessage } from '../fanout/ports.js';
import type { Logger } from '../logger.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { DocumentStore } from '../storage/ports.js';
import type { LiveDocument } from './live-document.js';
import type { SyncMetrics } from './metrics.js';
import { LOAD_ORIGIN, instanceOrigin } from './origins.js';
import { applyAll } from './compaction.js';
import type { DocumentRegistry } from './registry.js';
import type { Turn } from './turn.js';
import type { UpdateLog } from './update-log.js';

const FANOUT_SYNC_AUTHOR = 'service:fanout-sync';

export interface RemoteDeps {
  readonly fanout: Fanout;
  readonly registry: DocumentRegistry;
  readonly turn: Turn;
  readonly log: UpdateLog;
  readonly store: DocumentStore;
  readonly logger: Logger;
  readonly metrics: SyncMetrics;
}

export interface RemoteInstances {
  /** Handles a message from another instance. */
  onMessage(message: FanoutMessage): void;
  /** A document was loaded here: subscribe to it, and ask the others for what they have not logged. */
  loaded(live: LiveDocument): void;
  /** A document left this instance (unloaded, erased, stopped): stop receiving its messages. */
  unloaded(live: LiveDocument): void;
  /** Tells the other instances that a document was erased. */
  erased(docName: string): void;
  /** After a fan-out gap: re-reads every loaded document from the store and asks the others again. */
  resyncFromStore(): Promise<void>;
  stop(): void;
}

export function createRemoteInstances(deps: RemoteDeps): RemoteInstances {
  const { fanout, registry, turn, log, store, logger, metrics } = deps;
  let stopped = false;

  /** What the others hold beyond the store: they answer with the difference to this state vector. */
  function requestMissing(live: LiveDocument): void {
    if (fanout.enabled) fanout.publish({ kind: 'sync-request', docName: live.name, payload: Y.encodeStateVector(live.doc) });
  }

  function onMessage(message: FanoutMessage): void {
    if (stopped) return;
    // Subscriptions end as documents unload, so a message of a document not loaded here is a late one.
    const live = registry.get(message.docName);
    if (!live) return;
    try {
      switch (message.kind) {
        case 'update':
          turn.touch(live);
          Y.applyUpdate(live.doc, message.payload, instanceOrigin(message.author));
          break;
        case 'awareness':
          applyAwarenessUpdate(live.awareness, message.payload, instanceOrigin('instance'));
          break;
        case 'sync-request': {
          const diff = Y.encodeStateAsUpdate(live.doc, message.payload);
          // An empty update is 2 bytes (no structs, empty delete set).
          if (diff.length > 2) fanout.publish({ kind: 'update', docName: live.name, author: FANOUT_SYNC_AUTHOR, payload: diff });
          const states = [...live.awareness.getStates().keys()];
          if (states.length > 0) fanout.publish({ kind: 'awareness', docName: live.name, payload: encodeAwarenessUpdate(live.awareness, states) });
          break;
        }
        case 'erase':
          live.closePeers(CloseCode.DOCUMENT_DELETED, 'document deleted');
          log.discard(live.name);
          registry.drop(live);
          break;
      }
    } catch (error) {
      logger.warn({ err: error, docName: message.docName, kind: message.kind }, 'sync: ignored an undecodable fan-out message');
    }
  }

  return {
    onMessage,
    loaded(live) {
      // Subscribe before asking, so the answers are read; another instance may hold updates it has not logged yet.
      fanout.subscribe(live.name);
      requestMissing(live);
    },
    unloaded(live) {
      fanout.unsubscribe(live.name);
    },
    erased(docName) {
      fanout.publish({ kind: 'erase', docName });
    },
    async resyncFromStore() {
      for (const live of registry.loaded()) {
        try {
          const loaded = await store.loadDocument(live.name);
          const parts = loaded.updates.map((u) => u.update);
          if (loaded.snapshot) parts.unshift(loaded.snapshot.state);
          if (registry.get(live.name) === live && parts.length > 0) {
            turn.touch(live);
            applyAll(live.doc, parts, LOAD_ORIGIN);
          }
          // What another instance wrote while the fan-out was down may not be in the store yet.
          if (registry.get(live.name) === live) requestMissing(live);
        } catch (error) {
          metrics.storeErrors.inc({ operation: 'load' });
          logger.warn({ err: error, docName: live.name }, 'sync: re-reading a document after a fan-out gap failed');
        }
      }
    },
    stop() {
      stopped = true;
    },
  };
}
