/**
 * The document manager: the one face the WebSocket endpoint and the document service see. It
 * composes four parts, each owning its state: the registry (acquire, load, unload), the turn
 * (coalesced fan-out to peers), the durable acks, and the remote instances; and routes every
 * change of a loaded document into the update log.
 */
import * as Y from 'yjs';
import { applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import type { Fanout, FanoutMessage } from '../fanout/ports.js';
import type { DocName } from '../ids.js';
import type { Logger } from '../logger.js';
import { CloseCode } from '../protocol/close-codes.js';
import { writeAwareness } from '../protocol/wire.js';
import type { DocumentStore } from '../storage/ports.js';
import { compactDocument } from './compaction.js';
import { createDurableAcks } from './durable-acks.js';
import type { LiveDocument } from './live-document.js';
import type { SyncMetrics } from './metrics.js';
import { asSyncOrigin, serviceOrigin, type Peer } from './origins.js';
import { createDocumentRegistry } from './registry.js';
import { createRemoteInstances, type RemoteInstances } from './remote.js';
import { createTurn } from './turn.js';
import type { UpdateLog } from './update-log.js';

export interface DocumentManagerOptions {
  readonly store: DocumentStore;
  readonly log: UpdateLog;
  readonly fanout: Fanout;
  readonly logger: Logger;
  readonly metrics: SyncMetrics;
  /** How long a document without peers stays loaded before it is unloaded, ms. */
  readonly unloadGraceMs: number;
  /** Told every change of a loaded document as it is applied (from a client, a service or another instance); not loads. */
  readonly onChanged?: (docName: string) => void;
  /** Stored size a document may reach (`SYNC_MAX_DOCUMENT_BYTES`); peers over it are closed with 4430. Default: no cap. */
  readonly maxDocumentBytes?: number;
  /** Least time between two fan-out flushes while edits stream in, ms (see `TurnDeps.minIntervalMs`). Default 0. */
  readonly turnIntervalMs?: number;
}

export interface DocumentManager {
  /**
   * The loaded document, loading it first if needed (one shared load per name). Holds a
   * reference: call {@link release} exactly once. Rejects when the store cannot load it, or with
   * `StoreUnavailableError` while the update log is overloaded: never an empty stand-in.
   */
  acquire(docName: DocName): Promise<LiveDocument>;
  release(live: LiveDocument): void;
  /** Adds a peer and sends it sync step 1 and the current awareness. */
  attach(live: LiveDocument, peer: Peer): void;
  /** Removes a peer, its awareness states (broadcast), and its reference. */
  detach(live: LiveDocument, peer: Peer): void;
  /** Queues an update-carrying message of `peer` for the end of the turn and counts it for durable acks. */
  applyPeerUpdate(live: LiveDocument, peer: Peer, update: Uint8Array): void;
  applyPeerAwareness(live: LiveDocument, peer: Peer, update: Uint8Array): void;
  /** True when `bytes` more would take the document past `maxDocumentBytes` (0: it is at the cap). */
  wouldExceed(live: LiveDocument, bytes: number): boolean;
  /** Applies a server-side change and returns the log sequence number that makes it durable (0: nothing changed). */
  applyServiceChange(live: LiveDocument, author: string, fn: (doc: Y.Doc) => void): number;
  /** Handles a message from another instance. */
  onRemote(message: FanoutMessage): void;
  /** After a fan-out gap: re-read every loaded document from the store. */
  resyncFromStore(): Promise<void>;
  /** Closes peers, forgets queued updates, deletes from the store, tells other instances. */
  erase(docName: DocName): Promise<void>;
  /** Unloads no document from now on, so the stop's {@link snapshotDirty} finds every one. */
  keepLoaded(): void;
  /** Compacts every document changed since it was loaded (stop). */
  snapshotDirty(deadline: number): Promise<void>;
  readonly loadedCount: number;
  get(docName: string): LiveDocument | undefined;
  /** Names of the loaded documents. */
  loadedNames(): string[];
  /** Drops every document (after the endpoint closed its sockets and the log was drained). */
  stop(): void;
}

export function createDocumentManager(options: DocumentManagerOptions): DocumentManager {
  const { store, log, fanout, logger, metrics, unloadGraceMs } = options;
  const acks = createDurableAcks(log);
  const maxDocumentBytes = options.maxDocumentBytes ?? Infinity;

  /**
   * The document-size quota, before a peer's updates of a turn are applied. Counting the raw
   * bytes is enough while far from the cap; near it, an update that only repeats what the
   * document has (a reconnect's sync step 2, a delete) is still admitted: it stores nothing new.
   */
  function admitPeerUpdates(live: LiveDocument, peer: Peer, updates: readonly Uint8Array[]): boolean {
    let incoming = 0;
    for (const update of updates) incoming += update.byteLength;
    if (live.storedBytes + incoming <= maxDocumentBytes) return true;
    if (!updates.some((update) => addsContent(live.doc, update))) return true;
    logger.info({ docName: live.name, author: peer.author, storedBytes: live.storedBytes, incoming }, 'sync: refusing updates that would pass SYNC_MAX_DOCUMENT_BYTES');
    peer.close(CloseCode.DOCUMENT_TOO_LARGE, `the document would exceed its ${maxDocumentBytes} byte quota`);
    return false;
  }

  const turn = createTurn({ fanout, logger, onPeerApplied: (live, peer) => acks.applied(live, peer), admit: admitPeerUpdates, minIntervalMs: options.turnIntervalMs ?? 0 });

  function onDocUpdate(live: LiveDocument, update: Uint8Array, rawOrigin: unknown): void {
    live.changed(update);
    const origin = asSyncOrigin(rawOrigin);
    if (origin?.kind !== 'persistence') options.onChanged?.(live.name);
    if (origin && origin.kind !== 'persistence') {
      live.grew(update.byteLength);
      live.logged(log.append(live.name, update, origin.author));
      metrics.updates.inc({ source: origin.kind === 'peer' ? 'client' : origin.kind === 'remote' ? 'remote' : 'service' });
    } else if (!origin) {
      // An untyped origin is a bug in this codebase; still log it rather than lose it.
      live.grew(update.byteLength);
      live.logged(log.append(live.name, update, 'service:unknown'));
      logger.warn({ docName: live.name }, 'sync: update with an untyped origin');
    }
    turn.recordUpdate(live, update, origin);
  }

  function onAwarenessUpdate(live: LiveDocument, changes: { added: number[]; updated: number[]; removed: number[] }, rawOrigin: unknown): void {
    const origin = asSyncOrigin(rawOrigin);
    if (origin?.kind === 'peer') {
      for (const id of changes.added) origin.awarenessIds.add(id);
      for (const id of changes.removed) origin.awarenessIds.delete(id);
    }
    turn.recordAwareness(live, changes, origin);
  }

  // The registry reports loads to the remote instances, which read from the registry.
  let remote: RemoteInstances | null = null;
  const registry = createDocumentRegistry(
    { store, log, metrics, unloadGraceMs },
    {
      loaded(live) {
        acks.track(live);
        live.doc.on('update', (update: Uint8Array, origin: unknown) => onDocUpdate(live, update, origin));
        live.awareness.on('update', (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => onAwarenessUpdate(live, changes, origin));
        remote?.loaded(live);
      },
      dropped(live) {
        remote?.unloaded(live);
        turn.forget(live);
        acks.forget(live);
      },
      busy: (live) => turn.isPending(live),
    },
  );
  const instances = createRemoteInstances({ fanout, registry, turn, log, store, logger, metrics });
  remote = instances;

  return {
    acquire: (docName) => registry.acquire(docName),
    release: (live) => registry.release(live),
    attach(live, peer) {
      live.addPeer(peer);
      acks.attach(live, peer);
      peer.send(live.syncStep1());
      const states = live.awareness.getStates();
      if (states.size > 0) peer.send(writeAwareness(encodeAwarenessUpdate(live.awareness, [...states.keys()])));
    },
    detach(live, peer) {
      if (!live.removePeer(peer)) return;
      acks.detach(live, peer);
      if (peer.awarenessIds.size > 0) removeAwarenessStates(live.awareness, [...peer.awarenessIds], peer);
      registry.release(live);
    },
    applyPeerUpdate(live, peer, update) {
      // Validated and applied at the end of the turn, together with the peer's other updates.
      turn.queuePeerUpdate(live, peer, update);
      acks.received(peer);
    },
    applyPeerAwareness(live, peer, update) {
      applyAwarenessUpdate(live.awareness, update, peer);
    },
    wouldExceed: (live, bytes) => (bytes === 0 ? live.storedBytes >= maxDocumentBytes : live.storedBytes + bytes > maxDocumentBytes),
    applyServiceChange(live, author, fn) {
      const before = log.enqueuedSeq;
      turn.touch(live);
      live.doc.transact(() => fn(live.doc), serviceOrigin(author));
      return log.enqueuedSeq > before ? log.enqueuedSeq : 0;
    },
    onRemote: (message) => instances.onMessage(message),
    resyncFromStore: () => instances.resyncFromStore(),
    async erase(docName) {
      const live = registry.get(docName);
      if (live) {
        live.closePeers(CloseCode.DOCUMENT_DELETED, 'document deleted');
        registry.drop(live);
      }
      log.discard(docName);
      // A write already in flight may hold this document's updates: let it land before deleting.
      await log.drain(5_000);
      await store.deleteDocument(docName);
      instances.erased(docName);
    },
    keepLoaded: () => registry.keepLoaded(),
    async snapshotDirty(deadline) {
      for (const live of registry.loaded()) {
        if (!live.dirty) continue;
        if (Date.now() > deadline) {
          logger.warn({ docName: live.name }, 'sync: no time left to snapshot on stop; the log keeps its updates');
          return;
        }
        try {
          const result = await compactDocument(store, live.name, live.doc);
          if (result.snapshotBytes !== null) live.compactedTo(result.snapshotBytes);
          live.snapshotted();
        } catch (error) {
          metrics.storeErrors.inc({ operation: 'compact' });
          logger.warn({ err: error, docName: live.name }, 'sync: snapshot on stop failed; the log keeps its updates');
        }
      }
    },
    get loadedCount() {
      return registry.count;
    },
    get: (docName) => registry.get(docName),
    loadedNames: () => registry.loaded().map((live) => live.name),
    stop() {
      instances.stop();
      registry.stop();
    },
  };
}

/**
 * True when `update` holds structs the document does not have yet (a client clock beyond the
 * document's). An update that does not decode counts as new: applying it then fails and closes
 * the peer as malformed, which is the right answer for it.
 */
function addsContent(doc: Y.Doc, update: Uint8Array): boolean {
  let meta: { to: Map<number, number> };
  try {
    meta = Y.parseUpdateMeta(update);
  } catch {
    return true;
  }
  for (const [client, clock] of meta.to) if (clock > Y.getState(doc.store, client)) return true;
  return false;
}
