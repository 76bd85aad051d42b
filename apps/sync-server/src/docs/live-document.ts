import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { writeSyncStep1, writeSyncStep2 } from '../protocol/wire.js';

/**
 * A connected client of a document, as the document layer sees it. The WebSocket endpoint
 * implements it; the manager never touches sockets.
 */
export interface Peer {
  readonly kind: 'peer';
  /** userId of the connection, or `service:<userId>` for a service token. Stored with its updates. */
  readonly author: string;
  /** Awareness clientIDs this peer announced; removed (and broadcast) when it leaves. */
  readonly awarenessIds: Set<number>;
  /** Opened with `?ack=1`: receives durable acknowledgements. */
  readonly ack: AckState | null;
  send(frame: Uint8Array): void;
  close(code: number, reason: string): void;
}

/** Per-connection bookkeeping of durable acknowledgements. */
export interface AckState {
  /** Update-carrying messages received so far. */
  received: number;
  /** `[messages, logSeq]` pairs not yet acknowledged, in order (logSeq is Infinity until applied). */
  readonly waiting: Array<readonly [number, number]>;
}

/** A server-side change (REST, jobs). */
export interface ServiceOrigin {
  readonly kind: 'service';
  readonly author: string;
}
/** An update that arrived from another instance through the fan-out. */
export interface InstanceOrigin {
  readonly kind: 'instance';
  readonly author: string;
}
/** Content read back from the store: already durable, not logged again. */
export interface LoadOrigin {
  readonly kind: 'load';
}

/** Every transaction origin the server uses: a typed union, never bare strings. */
export type SyncOrigin = Peer | ServiceOrigin | InstanceOrigin | LoadOrigin;

export const LOAD_ORIGIN: LoadOrigin = Object.freeze({ kind: 'load' });

/** Narrows the `unknown` origin Yjs and y-protocols hand to listeners. */
export function asSyncOrigin(origin: unknown): SyncOrigin | null {
  if (typeof origin !== 'object' || origin === null || !('kind' in origin)) return null;
  const kind = (origin as { kind: unknown }).kind;
  return kind === 'peer' || kind === 'service' || kind === 'instance' || kind === 'load' ? (origin as SyncOrigin) : null;
}

const EMPTY_STATE_VECTOR_LENGTH = 1;

/**
 * One loaded document: the Y.Doc, its awareness, its peers, and the per-turn buffers the
 * manager coalesces. Encoded state is cached so a join storm encodes once, and dropped on every
 * update.
 */
export class LiveDocument {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly peers = new Set<Peer>();
  /** Peers plus in-flight service reads/changes; unloading waits for zero. */
  refs = 0;
  /** Highest update-log sequence number of this document's own updates. */
  lastSeq = 0;
  /** Changed since it was loaded (a snapshot on stop is worth it). */
  dirty = false;
  unloadTimer: NodeJS.Timeout | null = null;
  /**
   * Update messages received from peers in the current event-loop turn, applied together at the
   * end of the turn (one transaction per peer, so Yjs encodes each peer's changes as one update).
   */
  incoming: Map<Peer, Uint8Array[]> | null = null;
  /** Changes of the current turn as Yjs emitted them, one per transaction, and their origins. */
  turnUpdates: Uint8Array[] = [];
  turnOrigins: Array<SyncOrigin | null> = [];
  /** State vector before the first change of the current turn (to encode the turn as one update). */
  turnStateVector: Uint8Array | null = null;
  /** Awareness clientIDs changed in the current turn, and by whom (null between turns: memory per idle document matters). */
  awarenessChanged: Set<number> | null = null;
  awarenessOrigins: Set<SyncOrigin | null> | null = null;
  /** State vector captured when a log write started, acknowledged once that write is durable. */
  ackCandidate: { readonly seq: number; readonly stateVector: Uint8Array } | null = null;
  /** A state vector whose insertions are all known durable. */
  durableStateVector: Uint8Array;
  private stepOne: Uint8Array | null = null;
  private fullState: Uint8Array | null = null;

  constructor(readonly name: string, doc: Y.Doc) {
    this.doc = doc;
    this.awareness = new Awareness(doc);
    // The server is not a participant: it must not announce a state of its own.
    this.awareness.setLocalState(null);
    this.durableStateVector = Y.encodeStateVector(doc);
  }

  /** `[0, 0, stateVector]`, cached until the next update. */
  syncStep1(): Uint8Array {
    this.stepOne ??= writeSyncStep1(Y.encodeStateVector(this.doc));
    return this.stepOne;
  }

  /**
   * The answer to a client's step 1. A new client (empty state vector) gets the cached full
   * state; others get a diff. Throws for an undecodable state vector.
   */
  syncStep2(stateVector: Uint8Array): Uint8Array {
    if (stateVector.length === EMPTY_STATE_VECTOR_LENGTH && stateVector[0] === 0) {
      this.fullState ??= writeSyncStep2(Y.encodeStateAsUpdate(this.doc));
      return this.fullState;
    }
    return writeSyncStep2(Y.encodeStateAsUpdate(this.doc, stateVector));
  }

  invalidate(): void {
    this.stepOne = null;
    this.fullState = null;
  }

  destroy(): void {
    if (this.unloadTimer) clearTimeout(this.unloadTimer);
    this.unloadTimer = null;
    this.awareness.destroy();
    this.doc.destroy();
  }
}
