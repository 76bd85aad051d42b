/**
 * The turn: what peers receive is coalesced per event-loop turn. Peer updates read in one turn
 * are applied together at its end (one transaction per peer), and every recipient gets one
 * message per document for the whole turn instead of one per update. Owns the per-turn buffers
 * of every document and the one `setImmediate` (or, right after a flush, short timer) that flushes them.
 */
import * as Y from 'yjs';
import { encodeAwarenessUpdate } from 'y-protocols/awareness';
import type { Fanout } from '../fanout/ports.js';
import type { Logger } from '../logger.js';
import { CloseCode } from '../protocol/close-codes.js';
import { writeAwareness, writeSyncUpdate } from '../protocol/wire.js';
import type { LiveDocument } from './live-document.js';
import { isMadeHere, type Peer, type SyncOrigin } from './origins.js';

/** A document's changes in the current turn; dropped once flushed (memory per idle document matters). */
interface TurnState {
  /** Update messages received from peers this turn, applied together at its end (one transaction per peer). */
  incoming: Map<Peer, Uint8Array[]> | null;
  /** Changes of this turn as Yjs emitted them, one per transaction, and their origins. */
  readonly updates: Uint8Array[];
  readonly origins: Array<SyncOrigin | null>;
  /** State vector before the first change of this turn (to encode the turn as one update). */
  stateVector: Uint8Array | null;
  /** Awareness clientIDs changed this turn, and by whom. */
  awarenessChanged: Set<number> | null;
  awarenessOrigins: Set<SyncOrigin | null> | null;
}

export interface TurnDeps {
  readonly fanout: Fanout;
  readonly logger: Logger;
  /** `peer`'s updates of this turn are applied (durable acks count them from here). */
  readonly onPeerApplied: (live: LiveDocument, peer: Peer) => void;
  /**
   * Asked before a peer's updates of this turn are applied; false: none of them is applied (the
   * quota that refused them has closed the peer). Default: everything is admitted.
   */
  readonly admit?: (live: LiveDocument, peer: Peer, updates: readonly Uint8Array[]) => boolean;
  /**
   * Least time between the starts of two turns' flushes, ms (default 0: every event-loop turn).
   * A change that arrives sooner after a flush waits for the rest of this interval, so under a
   * stream of edits each recipient gets one message per interval instead of one per event-loop
   * turn (the socket write per recipient is most of the fan-out's CPU). A change after a quiet
   * spell is sent in the next turn as before: the wait applies only once two flushes in a row
   * came closer than this.
   */
  readonly minIntervalMs?: number;
  /** Clock for {@link minIntervalMs}, ms (tests). Default `performance.now`. */
  readonly now?: () => number;
}

export interface Turn {
  /** Queues an update message of `peer`, validated and applied at the end of the turn. */
  queuePeerUpdate(live: LiveDocument, peer: Peer, update: Uint8Array): void;
  /** Call before any other change to a document in a turn: remembers where the turn started. */
  touch(live: LiveDocument): void;
  /** A change Yjs emitted for `live` (its `update` event). */
  recordUpdate(live: LiveDocument, update: Uint8Array, origin: SyncOrigin | null): void;
  /** An awareness change of `live` (its `update` event). */
  recordAwareness(live: LiveDocument, changes: { added: number[]; updated: number[]; removed: number[] }, origin: SyncOrigin | null): void;
  /** True while `live` has changes waiting for the end of the turn. */
  isPending(live: LiveDocument): boolean;
  forget(live: LiveDocument): void;
}

export function createTurn(deps: TurnDeps): Turn {
  const { fanout, logger, onPeerApplied, admit } = deps;
  const minIntervalMs = deps.minIntervalMs ?? 0;
  const now = deps.now ?? (() => performance.now());
  const states = new Map<LiveDocument, TurnState>();
  const dirty = new Set<LiveDocument>();
  let scheduled = false;
  let flushing = false;
  let lastFlushStart = -Infinity;
  /** The last flush started within the interval after the one before it, or was held for an interval: edits are streaming in. */
  let streaming = false;

  function schedule(): void {
    scheduled = true;
    // Only while edits stream in: a change after a quiet spell, or the second of two close ones
    // (two writers at human speed meet like that now and then), is not held back, since holding
    // it saves nothing and adds its wait to the latency recipients see.
    const wait = streaming ? lastFlushStart + minIntervalMs - now() : 0;
    // setImmediate runs after the I/O of this turn, so every frame read in one poll phase is
    // coalesced into one message per recipient; while streaming, the frames of the next `wait`
    // ms after a flush are too.
    if (wait >= 1) setTimeout(flush, wait, true);
    else setImmediate(flush, false);
  }

  const stateOf = (live: LiveDocument): TurnState => {
    let state = states.get(live);
    if (!state) {
      state = { incoming: null, updates: [], origins: [], stateVector: null, awarenessChanged: null, awarenessOrigins: null };
      states.set(live, state);
    }
    return state;
  };

  function markDirty(live: LiveDocument): void {
    dirty.add(live);
    if (!scheduled && !flushing) schedule();
  }

  /** `waited`: scheduled for the end of an interval, i.e. edits kept streaming in during it. */
  function flush(waited: boolean): void {
    scheduled = false;
    const start = now();
    streaming = waited || start - lastFlushStart < minIntervalMs;
    lastFlushStart = start;
    const batch = [...dirty];
    dirty.clear();
    // Applying the turn's updates emits events that mark the same documents dirty again; they
    // are handled right here, not in another turn.
    flushing = true;
    for (const live of batch) {
      const state = states.get(live);
      if (state) {
        try {
          if (state.incoming) applyIncoming(live, state);
          if (state.updates.length > 0) flushUpdates(live, state);
          state.stateVector = null;
          if (state.awarenessChanged) flushAwareness(live, state);
        } catch (error) {
          logger.error({ err: error, docName: live.name }, 'sync: fan-out of a turn failed');
        }
        if (!state.incoming && state.updates.length === 0 && !state.awarenessChanged && !state.stateVector) states.delete(live);
      }
      dirty.delete(live);
    }
    flushing = false;
    if (dirty.size > 0 && !scheduled) schedule();
  }

  /**
   * Applies the turn's peer updates, one transaction per peer: Yjs then emits each peer's changes
   * as ONE update encoded straight from the transaction, which is how updates are coalesced
   * without Y.mergeUpdates (that decodes and re-encodes every struct, ~100 µs per update here).
   */
  function applyIncoming(live: LiveDocument, state: TurnState): void {
    const incoming = state.incoming;
    state.incoming = null;
    if (!incoming) return;
    // Several peers wrote this turn: remember where the turn starts, to send it whole. With one
    // peer (the usual case at human typing speed) its one transaction is one update and the
    // state vector — one entry per client that ever wrote — is not worth encoding.
    if (incoming.size > 1) state.stateVector ??= Y.encodeStateVector(live.doc);
    // A peer that closed after sending still gets its updates applied: its frames arrived whole.
    for (const [peer, updates] of incoming) {
      if (admit && !admit(live, peer, updates)) continue;
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
      onPeerApplied(live, peer);
    }
  }

  function flushUpdates(live: LiveDocument, state: TurnState): void {
    const updates = state.updates.splice(0);
    const origins = state.origins.splice(0);
    if (updates.length === 1) {
      const frame = writeSyncUpdate(updates[0]!);
      const origin = origins[0];
      for (const peer of live.peers) if (peer !== origin) peer.send(frame);
    } else {
      broadcastMany(live, state.stateVector, updates, origins);
    }
    if (!fanout.enabled) return;
    // Publish what was made here (peers, services); remote and loaded content is not echoed back.
    for (let i = 0; i < updates.length; i++) {
      const origin = origins[i];
      if (isMadeHere(origin)) fanout.publish({ kind: 'update', docName: live.name, author: origin.author, payload: updates[i]! });
    }
  }

  /**
   * Several changes in one turn. Peers that wrote none of them get the whole turn as one update,
   * encoded from the document since the turn's state vector (encoded once, same bytes for all).
   * A peer that wrote some gets the others' updates, each encoded once: it must never receive its
   * own changes back.
   */
  function broadcastMany(live: LiveDocument, stateVector: Uint8Array | null, updates: readonly Uint8Array[], origins: ReadonlyArray<SyncOrigin | null>): void {
    const frames: Uint8Array[] = updates.map((u) => writeSyncUpdate(u));
    const authors = new Set<SyncOrigin | null>(origins);
    let whole: Uint8Array | null = null;
    if (stateVector) {
      const encoded = Y.encodeStateAsUpdate(live.doc, stateVector);
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

  function flushAwareness(live: LiveDocument, state: TurnState): void {
    const ids = [...(state.awarenessChanged ?? [])];
    const origins = [...(state.awarenessOrigins ?? [])];
    state.awarenessChanged = null;
    state.awarenessOrigins = null;
    const update = encodeAwarenessUpdate(live.awareness, ids);
    const frame = writeAwareness(update);
    const only = origins.length === 1 ? origins[0] : undefined;
    for (const peer of live.peers) if (peer !== only) peer.send(frame);
    if (fanout.enabled && origins.some((o) => isMadeHere(o))) fanout.publish({ kind: 'awareness', docName: live.name, payload: update });
  }

  return {
    queuePeerUpdate(live, peer, update) {
      const state = stateOf(live);
      const incoming = (state.incoming ??= new Map());
      const queued = incoming.get(peer);
      if (queued) queued.push(update);
      else incoming.set(peer, [update]);
      // Not touch(): the turn's start is captured in applyIncoming, only when it is needed.
      markDirty(live);
    },
    touch(live) {
      stateOf(live).stateVector ??= Y.encodeStateVector(live.doc);
      markDirty(live);
    },
    recordUpdate(live, update, origin) {
      const state = stateOf(live);
      state.updates.push(update);
      state.origins.push(origin);
      markDirty(live);
    },
    recordAwareness(live, changes, origin) {
      const state = stateOf(live);
      const changed = (state.awarenessChanged ??= new Set());
      for (const id of changes.added) changed.add(id);
      for (const id of changes.updated) changed.add(id);
      for (const id of changes.removed) changed.add(id);
      (state.awarenessOrigins ??= new Set()).add(origin);
      markDirty(live);
    },
    isPending: (live) => dirty.has(live),
    forget(live) {
      dirty.delete(live);
      states.delete(live);
    },
  };
}
