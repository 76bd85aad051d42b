/**
 * The document manager: loads documents before anyone is answered, shares concurrent first
 * loads, routes every change into the update log and the fan-out, coalesces what peers receive
 * per event-loop turn, and unloads idle documents once their updates are durable.
 */
import * as Y from 'yjs';
import { applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { StoreUnavailableError } from '../errors.js';
import type { Fanout, FanoutMessage } from '../fanout/ports.js';
import type { Logger } from '../logger.js';
import type { DocumentStore } from '../storage/ports.js';
import { CloseCode } from '../protocol/close-codes.js';
import { writeAwareness, writeDurableAck, writeSyncUpdate } from '../protocol/wire.js';
import { compactDocument } from './compaction.js';
import { LiveDocument, LOAD_ORIGIN, asSyncOrigin, type Peer, type SyncOrigin } from './live-document.js';
import type { SyncMetrics } from './metrics.js';
import type { UpdateLog } from './update-log.js';

export interface DocumentManagerOptions {
  readonly store: DocumentStore;
  readonly log: UpdateLog;
  readonly fanout: Fanout;
  readonly logger: Logger;
  readonly metrics: SyncMetrics;
  /** How long a document without peers stays loaded before it is unloaded, ms. */
  readonly unloadGraceMs: number;
}

export interface DocumentManager {
  /**
   * The loaded document, loading it first if needed (one shared load per name). Holds a
   * reference: call {@link release} exactly once. Rejects when the store cannot load it, or with
   * `StoreUnavailableError` while the update log is overloaded: never an empty stand-in.
   */
  acquire(docName: string): Promise<LiveDocument>;
  release(live: LiveDocument): void;
  /** Adds a peer and sends it sync step 1 and the current awareness. */
  attach(live: LiveDocument, peer: Peer): void;
  /** Removes a peer, its awareness states (broadcast), and its reference. */
  detach(live: LiveDocument, peer: Peer): void;
  /** Applies an update-carrying message of `peer` and does the durable-ack bookkeeping. */
  applyPeerUpdate(live: LiveDocument, peer: Peer, update: Uint8Array): void;
  applyPeerAwareness(live: LiveDocument, peer: Peer, update: Uint8Array): void;
  /** Applies a server-side change and returns the log sequence number that makes it durable. */
  applyServiceChange(live: LiveDocument, author: string, fn: (doc: Y.Doc) => void): number;
  /** Handles a message from another instance. */
  onRemote(message: FanoutMessage): void;
  /** After a fan-out gap: re-read every loaded document from the store. */
  resyncFromStore(): Promise<void>;
  /** Closes peers, forgets queued updates, deletes from the store, tells other instances. */
  erase(docName: string): Promise<void>;
  /** Compacts every document changed since it was loaded (stop). */
  snapshotDirty(deadline: number): Promise<void>;
  /** Closes every peer with `code`. */
  closeAll(code: number, reason: string): void;
  readonly loadedCount: number;
  get(docName: string): LiveDocument | undefined;
  /** Names of the loaded documents. */
  loadedNames(): string[];
  /** Cancels timers and drops every document (after the log was drained). */
  stop(): void;
}

const FANOUT_SYNC_AUTHOR = 'service:fanout-sync';
/** Log sequence placeholder of an ack entry whose update is not applied yet (end of turn). */
const PENDING = Number.POSITIVE_INFINITY;

/** Applies stored updates in one transaction: linear, unlike Y.mergeUpdates over a long log. */
function applyAll(doc: Y.Doc, updates: readonly Uint8Array[], origin: unknown): void {
  if (updates.length === 0) return;
  doc.transact(() => {
    for (const update of updates) Y.applyUpdate(doc, update);
  }, origin);
}

export function createDocumentManager(options: DocumentManagerOptions): DocumentManager {
  const { store, log, fanout, logger, metrics, unloadGraceMs } = options;
  const docs = new Map<string, LiveDocument>();
  const loading = new Map<string, Promise<LiveDocument>>();
  /** Fan-out messages for documents whose load is in flight, applied once loaded. */
  const bufferedRemote = new Map<string, FanoutMessage[]>();
  const dirtyThisTurn = new Set<LiveDocument>();
  /** Documents with at least one `?ack=1` peer. */
  const ackDocs = new Set<LiveDocument>();
  let turnScheduled = false;
  let flushing = false;
  let stopped = false;

  const setLoaded = (): void => metrics.loadedDocuments.set(docs.size);

  function markDirty(live: LiveDocument): void {
    dirtyThisTurn.add(live);
    if (!turnScheduled && !flushing) {
      turnScheduled = true;
      // setImmediate runs after the I/O of this turn, so every frame read in one poll phase is
      // coalesced into one message per recipient.
      setImmediate(flushTurn);
    }
  }

  /** Call before any change to a document in a turn: remembers where the turn started. */
  function touch(live: LiveDocument): void {
    live.turnStateVector ??= Y.encodeStateVector(live.doc);
    markDirty(live);
  }

  function flushTurn(): void {
    turnScheduled = false;
    const batch = [...dirtyThisTurn];
    dirtyThisTurn.clear();
    // Applying the turn's updates emits events that mark the same documents dirty again; they
    // are handled right here, not in another turn.
    flushing = true;
    for (const live of batch) {
      try {
        if (live.incoming) applyIncoming(live);
        if (live.turnUpdates.length > 0) flushUpdates(live);
        live.turnStateVector = null;
        if (live.awarenessChanged) flushAwareness(live);
      } catch (error) {
        logger.error({ err: error, docName: live.name }, 'sync: fan-out of a turn failed');
      }
      dirtyThisTurn.delete(live);
    }
    flushing = false;
    if (dirtyThisTurn.size > 0 && !turnScheduled) {
      turnScheduled = true;
      setImmediate(flushTurn);
    }
  }

  /**
   * Applies the turn's peer updates, one transaction per peer: Yjs then emits each peer's changes
   * as ONE update encoded straight from the transaction, which is how updates are coalesced
   * without Y.mergeUpdates (that decodes and re-encodes every struct, ~100 µs per update here).
   */
  function applyIncoming(live: LiveDocument): void {
    const incoming = live.incoming;
    live.incoming = null;
    if (!incoming) return;
    // Several peers wrote this turn: remember where the turn starts, to send it whole. With one
    // peer (the usual case at human typing speed) its one transaction is one update and the
    // state vector — one entry per client that ever wrote — is not worth encoding.
    if (incoming.size > 1) live.turnStateVector ??= Y.encodeStateVector(live.doc);
    // A peer that closed after sending still gets its updates applied: its frames arrived whole.
    for (const [peer, updates] of incoming) {
      try {
        live.doc.transact(() => {
          for (const update of updates) Y.applyUpdate(live.doc, update);
        }, peer);
      } catch (error) {
        // Yjs rejects an undecodable update while reading it, before integrating anything.
        logger.info({ docName: live.name, author: peer.author, err: error instanceof Error ? error.message : String(error) }, 'sync: closing a socket that sent an invalid update');
        peer.close(CloseCode.MALFORMED_MESSAGE, 'invalid update');
        continue;
      }
      const ack = peer.ack;
      if (!ack) continue;
      // Everything this peer sent is now either in the log queue or was already known.
      const seq = log.enqueuedSeq;
      for (let i = 0; i < ack.waiting.length; i++) if (ack.waiting[i]![1] === PENDING) ack.waiting[i] = [ack.waiting[i]![0], seq];
      if (seq <= log.durableSeq) acknowledge(live, peer, log.durableSeq);
    }
  }

  function flushUpdates(live: LiveDocument): void {
    const updates = live.turnUpdates;
    const origins = live.turnOrigins;
    live.turnUpdates = [];
    live.turnOrigins = [];
    if (updates.length === 1) {
      const frame = writeSyncUpdate(updates[0]!);
      const origin = origins[0];
      for (const peer of live.peers) if (peer !== origin) peer.send(frame);
    } else {
      broadcastMany(live, updates, origins);
    }
    if (!fanout.enabled) return;
    // Publish what was made here (peers, services); remote and loaded content is not echoed back.
    for (let i = 0; i < updates.length; i++) {
      const origin = origins[i];
      if (origin?.kind === 'peer' || origin?.kind === 'service') fanout.publish({ kind: 'update', docName: live.name, author: origin.author, payload: updates[i]! });
    }
  }

  /**
   * Several changes in one turn. Peers that wrote none of them get the whole turn as one update,
   * encoded from the document since the turn's state vector (encoded once, same bytes for all).
   * A peer that wrote some gets the others' updates, each encoded once: it must never receive its
   * own changes back.
   */
  function broadcastMany(live: LiveDocument, updates: readonly Uint8Array[], origins: ReadonlyArray<SyncOrigin | null>): void {
    const frames: Uint8Array[] = updates.map((u) => writeSyncUpdate(u));
    const authors = new Set<SyncOrigin | null>(origins);
    let whole: Uint8Array | null = null;
    if (live.turnStateVector) {
      const encoded = Y.encodeStateAsUpdate(live.doc, live.turnStateVector);
      const separate = frames.reduce((sum, f) => sum + f.length, 0);
      // The whole-turn update carries the document's full delete set; fall back if that is large.
      if (encoded.length <= separate * 2 + 64) whole = writeSyncUpdate(encoded);
    }
    for (const peer of live.peers) {
      if (whole && !authors.has(peer)) {
        peer.send(whole);
        continue;
      }
      for (let i = 0; i < frames.length; i++) if (origins[i] !== peer) peer.send(frames[i]!);
    }
  }

  function flushAwareness(live: LiveDocument): void {
    const ids = [...(live.awarenessChanged ?? [])];
    const origins = [...(live.awarenessOrigins ?? [])];
    live.awarenessChanged = null;
    live.awarenessOrigins = null;
    const update = encodeAwarenessUpdate(live.awareness, ids);
    const frame = writeAwareness(update);
    const only = origins.length === 1 ? origins[0] : undefined;
    for (const peer of live.peers) if (peer !== only) peer.send(frame);
    if (fanout.enabled && origins.some((o) => o?.kind === 'peer' || o?.kind === 'service')) {
      fanout.publish({ kind: 'awareness', docName: live.name, payload: update });
    }
  }

  function onDocUpdate(live: LiveDocument, update: Uint8Array, rawOrigin: unknown): void {
    live.invalidate();
    const origin = asSyncOrigin(rawOrigin);
    if (origin && origin.kind !== 'load') {
      live.lastSeq = log.append(live.name, update, origin.author);
      live.dirty = true;
      metrics.updates.inc({ source: origin.kind === 'peer' ? 'client' : origin.kind === 'instance' ? 'remote' : 'service' });
    } else if (!origin) {
      // An untyped origin is a bug in this codebase; still log it rather than lose it.
      live.lastSeq = log.append(live.name, update, 'service:unknown');
      live.dirty = true;
      logger.warn({ docName: live.name }, 'sync: update with an untyped origin');
    }
    live.turnUpdates.push(update);
    live.turnOrigins.push(origin);
    markDirty(live);
  }

  function onAwarenessUpdate(live: LiveDocument, changes: { added: number[]; updated: number[]; removed: number[] }, rawOrigin: unknown): void {
    const origin = asSyncOrigin(rawOrigin);
    if (origin?.kind === 'peer') {
      for (const id of changes.added) origin.awarenessIds.add(id);
      for (const id of changes.removed) origin.awarenessIds.delete(id);
    }
    const changed = (live.awarenessChanged ??= new Set());
    for (const id of changes.added) changed.add(id);
    for (const id of changes.updated) changed.add(id);
    for (const id of changes.removed) changed.add(id);
    (live.awarenessOrigins ??= new Set()).add(origin);
    markDirty(live);
  }

  async function load(docName: string): Promise<LiveDocument> {
    let loaded;
    try {
      loaded = await store.loadDocument(docName);
    } catch (error) {
      metrics.storeErrors.inc({ operation: 'load' });
      throw error;
    }
    // A fixed guid: Y.Doc otherwise draws a random uuid with ~30 webcrypto calls (~0.5 ms a document).
    const doc = new Y.Doc({ gc: true, guid: docName });
    const parts: Uint8Array[] = [];
    if (loaded.snapshot) parts.push(loaded.snapshot.state);
    for (const entry of loaded.updates) parts.push(entry.update);
    applyAll(doc, parts, LOAD_ORIGIN);
    const live = new LiveDocument(docName, doc);
    doc.on('update', (update: Uint8Array, origin: unknown) => onDocUpdate(live, update, origin));
    live.awareness.on('update', (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => onAwarenessUpdate(live, changes, origin));
    docs.set(docName, live);
    setLoaded();
    const buffered = bufferedRemote.get(docName);
    bufferedRemote.delete(docName);
    if (buffered) for (const message of buffered) onRemote(message);
    // Another instance may hold updates it has not logged yet: ask for them.
    if (fanout.enabled) fanout.publish({ kind: 'sync-request', docName, payload: Y.encodeStateVector(doc) });
    return live;
  }

  function cancelUnload(live: LiveDocument): void {
    if (live.unloadTimer) {
      clearTimeout(live.unloadTimer);
      live.unloadTimer = null;
    }
  }

  function drop(live: LiveDocument): void {
    if (docs.get(live.name) === live) docs.delete(live.name);
    ackDocs.delete(live);
    dirtyThisTurn.delete(live);
    live.destroy();
    setLoaded();
  }

  function scheduleUnload(live: LiveDocument, delayMs: number): void {
    cancelUnload(live);
    live.unloadTimer = setTimeout(() => void unloadIfIdle(live), delayMs);
    live.unloadTimer.unref?.();
  }

  async function unloadIfIdle(live: LiveDocument): Promise<void> {
    live.unloadTimer = null;
    if (live.refs > 0 || docs.get(live.name) !== live || stopped) return;
    if (dirtyThisTurn.has(live)) return scheduleUnload(live, 0);
    // Persisted first: wait until every update of this document is in the log.
    if (live.lastSeq > log.durableSeq) {
      try {
        await log.whenDurable(live.lastSeq);
      } catch {
        return; // log closed: stop() drops everything itself
      }
      return unloadIfIdle(live);
    }
    drop(live);
  }

  function onRemote(message: FanoutMessage): void {
    if (stopped) return;
    const live = docs.get(message.docName);
    if (!live) {
      if (loading.has(message.docName)) {
        const list = bufferedRemote.get(message.docName) ?? [];
        list.push(message);
        bufferedRemote.set(message.docName, list);
      }
      return;
    }
    try {
      switch (message.kind) {
        case 'update':
          touch(live);
          Y.applyUpdate(live.doc, message.payload, { kind: 'instance', author: message.author });
          break;
        case 'awareness':
          applyAwarenessUpdate(live.awareness, message.payload, { kind: 'instance', author: 'instance' });
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
          for (const peer of [...live.peers]) peer.close(CloseCode.DOCUMENT_DELETED, 'document deleted');
          log.discard(live.name);
          drop(live);
          break;
      }
    } catch (error) {
      logger.warn({ err: error, docName: message.docName, kind: message.kind }, 'sync: ignored an undecodable fan-out message');
    }
  }

  function sendAcks(durableSeq: number): void {
    for (const live of ackDocs) {
      if (live.ackCandidate && live.ackCandidate.seq <= durableSeq) {
        live.durableStateVector = live.ackCandidate.stateVector;
        live.ackCandidate = null;
      }
      for (const peer of live.peers) acknowledge(live, peer, durableSeq);
    }
  }

  function acknowledge(live: LiveDocument, peer: Peer, durableSeq: number): void {
    const ack = peer.ack;
    if (!ack || ack.waiting.length === 0) return;
    let messages = -1;
    while (ack.waiting.length > 0 && ack.waiting[0]![1] <= durableSeq) messages = ack.waiting.shift()![0];
    if (messages >= 0) peer.send(writeDurableAck({ messages, stateVector: live.durableStateVector }));
  }

  log.onBatchStart((maxSeq) => {
    for (const live of ackDocs) {
      let waiting = false;
      for (const peer of live.peers) if (peer.ack && peer.ack.waiting.length > 0) waiting = true;
      // Everything in the document now is durable once this write is: capture its state vector.
      if (waiting) live.ackCandidate = { seq: maxSeq, stateVector: Y.encodeStateVector(live.doc) };
    }
  });
  log.onDurable(sendAcks);

  return {
    async acquire(docName) {
      if (stopped) throw new StoreUnavailableError('the sync service is stopping');
      const existing = docs.get(docName);
      if (existing) {
        existing.refs += 1;
        cancelUnload(existing);
        return existing;
      }
      let pending = loading.get(docName);
      if (!pending) {
        if (log.overloaded) throw new StoreUnavailableError('the update log backlog is full; retry later');
        pending = load(docName).finally(() => loading.delete(docName));
        loading.set(docName, pending);
      }
      const live = await pending;
      live.refs += 1;
      cancelUnload(live);
      return live;
    },
    release(live) {
      live.refs -= 1;
      if (live.refs > 0 || docs.get(live.name) !== live || stopped) return;
      scheduleUnload(live, unloadGraceMs);
    },
    attach(live, peer) {
      live.peers.add(peer);
      if (peer.ack) {
        ackDocs.add(live);
        // Nothing pending for this document: its whole current state is durable.
        if (live.lastSeq <= log.durableSeq) live.durableStateVector = Y.encodeStateVector(live.doc);
      }
      peer.send(live.syncStep1());
      const states = live.awareness.getStates();
      if (states.size > 0) peer.send(writeAwareness(encodeAwarenessUpdate(live.awareness, [...states.keys()])));
    },
    detach(live, peer) {
      if (!live.peers.delete(peer)) return;
      if (peer.ack && ![...live.peers].some((p) => p.ack)) ackDocs.delete(live);
      if (peer.awarenessIds.size > 0) removeAwarenessStates(live.awareness, [...peer.awarenessIds], peer);
      this.release(live);
    },
    applyPeerUpdate(live, peer, update) {
      // Validated and applied at the end of the turn, together with the peer's other updates.
      const incoming = (live.incoming ??= new Map());
      const queued = incoming.get(peer);
      if (queued) queued.push(update);
      else incoming.set(peer, [update]);
      // Not touch(): the turn's start is captured in applyIncoming, only when it is needed.
      markDirty(live);
      if (peer.ack) {
        peer.ack.received += 1;
        peer.ack.waiting.push([peer.ack.received, PENDING]);
      }
    },
    applyPeerAwareness(live, peer, update) {
      applyAwarenessUpdate(live.awareness, update, peer);
    },
    applyServiceChange(live, author, fn) {
      const before = log.enqueuedSeq;
      touch(live);
      live.doc.transact(() => fn(live.doc), { kind: 'service', author });
      return log.enqueuedSeq > before ? log.enqueuedSeq : 0;
    },
    onRemote,
    async resyncFromStore() {
      for (const live of [...docs.values()]) {
        try {
          const loaded = await store.loadDocument(live.name);
          const parts = loaded.updates.map((u) => u.update);
          if (loaded.snapshot) parts.unshift(loaded.snapshot.state);
          if (docs.get(live.name) === live && parts.length > 0) {
            touch(live);
            applyAll(live.doc, parts, LOAD_ORIGIN);
          }
        } catch (error) {
          metrics.storeErrors.inc({ operation: 'load' });
          logger.warn({ err: error, docName: live.name }, 'sync: re-reading a document after a fan-out gap failed');
        }
      }
    },
    async erase(docName) {
      const live = docs.get(docName);
      if (live) {
        for (const peer of [...live.peers]) peer.close(CloseCode.DOCUMENT_DELETED, 'document deleted');
        drop(live);
      }
      log.discard(docName);
      // A write already in flight may hold this document's updates: let it land before deleting.
      await log.drain(5_000);
      await store.deleteDocument(docName);
      fanout.publish({ kind: 'erase', docName });
    },
    async snapshotDirty(deadline) {
      for (const live of [...docs.values()]) {
        if (!live.dirty) continue;
        if (Date.now() > deadline) {
          logger.warn({ docName: live.name }, 'sync: no time left to snapshot on stop; the log keeps its updates');
          return;
        }
        try {
          await compactDocument(store, live.name, live.doc);
          live.dirty = false;
        } catch (error) {
          metrics.storeErrors.inc({ operation: 'compact' });
          logger.warn({ err: error, docName: live.name }, 'sync: snapshot on stop failed; the log keeps its updates');
        }
      }
    },
    closeAll(code, reason) {
      for (const live of docs.values()) for (const peer of [...live.peers]) peer.close(code, reason);
    },
    get loadedCount() {
      return docs.size;
    },
    get(docName) {
      return docs.get(docName);
    },
    loadedNames() {
      return [...docs.keys()];
    },
    stop() {
      stopped = true;
      for (const live of [...docs.values()]) drop(live);
      bufferedRemote.clear();
    },
  };
}
