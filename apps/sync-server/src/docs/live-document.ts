import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { writeSyncStep1, writeSyncStep2 } from '../protocol/wire.js';
import type { Peer } from './origins.js';

const EMPTY_STATE_VECTOR_LENGTH = 1;

/**
 * One loaded document: the Y.Doc, its awareness, its peers, and what it knows about its own
 * durability. Encoded state is cached so a join storm encodes once, and dropped on every update.
 * The registry, the turn, the durable acks and the remote instances each keep their own
 * bookkeeping about a document; none of it lives here.
 */
export class LiveDocument {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly #peers = new Set<Peer>();
  #lastSeq = 0;
  #dirty = false;
  #storedBytes: number;
  #stepOne: Uint8Array | null = null;
  #fullState: Uint8Array | null = null;
  /** The last diff answer and the state vector it answers (clients reconnecting together often share one). */
  #lastDiff: { readonly key: string; readonly frame: Uint8Array } | null = null;

  /** `storedBytes`: what the store held for it when it was loaded (snapshot plus log entries). */
  constructor(readonly name: string, doc: Y.Doc, storedBytes = 0) {
    this.doc = doc;
    this.#storedBytes = storedBytes;
    this.awareness = new Awareness(doc);
    // The server is not a participant: it must not announce a state of its own.
    this.awareness.setLocalState(null);
  }

  get peers(): ReadonlySet<Peer> {
    return this.#peers;
  }

  addPeer(peer: Peer): void {
    this.#peers.add(peer);
  }

  /** False when `peer` was not attached. */
  removePeer(peer: Peer): boolean {
    return this.#peers.delete(peer);
  }

  /** Closes every peer (a copy of the set: closing detaches). */
  closePeers(code: number, reason: string): void {
    for (const peer of [...this.#peers]) peer.close(code, reason);
  }

  /** Highest update-log sequence number of this document's own updates. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Changed since it was loaded or last snapshotted (a snapshot on stop is worth it). */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** An update of this document went to the update log under `seq`. */
  logged(seq: number): void {
    this.#lastSeq = seq;
    this.#dirty = true;
  }

  snapshotted(): void {
    this.#dirty = false;
  }

  /**
   * The document's stored size as the server counts it for `SYNC_MAX_DOCUMENT_BYTES`: the
   * snapshot and log bytes it was loaded from, plus every update logged since, reset to the
   * snapshot's size when one is written. No encoding per update: it only adds lengths.
   */
  get storedBytes(): number {
    return this.#storedBytes;
  }

  /** An update of `bytes` went to the log (from a peer, a service or another instance). */
  grew(bytes: number): void {
    this.#storedBytes += bytes;
  }

  /** A snapshot of `bytes` now holds the whole document (the log entries it covered are gone). */
  compactedTo(bytes: number): void {
    this.#storedBytes = bytes;
  }

  /** `[0, 0, stateVector]`, cached until the next update. */
  syncStep1(): Uint8Array {
    this.#stepOne ??= writeSyncStep1(Y.encodeStateVector(this.doc));
    return this.#stepOne;
  }

  /**
   * The answer to a client's step 1. A new client (empty state vector) gets the cached full
   * state; others get a diff. Throws for an undecodable state vector.
   */
  syncStep2(stateVector: Uint8Array): Uint8Array {
    if (stateVector.length === EMPTY_STATE_VECTOR_LENGTH && stateVector[0] === 0) {
      this.#fullState ??= writeSyncStep2(Y.encodeStateAsUpdate(this.doc));
      return this.#fullState;
    }
    const key = Buffer.from(stateVector.buffer, stateVector.byteOffset, stateVector.byteLength).toString('base64');
    if (this.#lastDiff?.key === key) return this.#lastDiff.frame;
    const frame = writeSyncStep2(Y.encodeStateAsUpdate(this.doc, stateVector));
    this.#lastDiff = { key, frame };
    return frame;
  }

  /** Drops the cached encodings (on every update). */
  invalidate(): void {
    this.#stepOne = null;
    this.#fullState = null;
    this.#lastDiff = null;
  }

  destroy(): void {
    this.awareness.destroy();
    this.doc.destroy();
  }
}
