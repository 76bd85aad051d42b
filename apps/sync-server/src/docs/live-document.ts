import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { writeSyncStep1, writeSyncStep2, writeSyncUpdate } from '../protocol/wire.js';
import type { Peer } from './origins.js';

const EMPTY_STATE_VECTOR_LENGTH = 1;

/**
 * How much may follow the base in {@link LiveDocument}'s stored form before the next new device is
 * answered with a fresh encoding instead: merging the changes since stays cheap, and a loaded
 * document holds at most this much besides its base.
 */
export const MAX_CHANGES_AFTER_BASE = { bytes: 256 * 1024, count: 1_000 } as const;

/**
 * One loaded document: the Y.Doc, its awareness, its peers, and what it knows about its own
 * durability. The registry, the turn, the durable acks and the remote instances each keep their
 * own bookkeeping about a document; none of it lives here.
 *
 * A device that has nothing (an empty state vector) needs the whole document. Encoding a year's
 * document takes longer than anything else in its first sync, so the document keeps a stored form
 * instead: a base (the snapshot and log it was loaded from, or its last full encoding) plus every
 * update since, whose union is its state. The answer is the changes since the base, merged (small),
 * then the base as the step 2, as it is. The changes go first: a client holds back whatever builds
 * on the base until the step 2 brings it, so when its step 2 is applied (y-websocket's `synced`)
 * the client has all of it. Past {@link MAX_CHANGES_AFTER_BASE} the next answer encodes the
 * document once and that encoding becomes the base.
 */
export class LiveDocument {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly #peers = new Set<Peer>();
  #lastSeq = 0;
  #dirty = false;
  #storedBytes: number;
  #stepOne: Uint8Array | null = null;
  /** The base as stored, until a new device first needs it as a step 2 frame. */
  #base: Uint8Array | null;
  #baseFrame: Uint8Array | null = null;
  /** Updates applied since the base (all of them; null once past the limit: encode anew). */
  #since: Uint8Array[] | null = [];
  #sinceBytes = 0;
  /** The changes since the base as one sync update frame, until the next update. */
  #sinceFrame: Uint8Array | null = null;
  /** The last diff answer and the state vector it answers (clients reconnecting together often share one). */
  #lastDiff: { readonly key: string; readonly frame: Uint8Array } | null = null;

  /**
   * `stored`: what the store held for it when it was loaded (snapshot, then log entries, in
   * order), already applied to `doc`.
   */
  constructor(readonly name: string, doc: Y.Doc, stored: readonly Uint8Array[] = []) {
    this.doc = doc;
    this.#storedBytes = stored.reduce((sum, part) => sum + part.byteLength, 0);
    this.#base = stored[0] ?? null;
    for (const update of stored.slice(1)) this.#addSince(update);
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

  /**
   * A snapshot of `bytes` now holds the whole document (the log entries it covered are gone). The
   * stored form's base is what the document was loaded from, which may still carry content
   * deleted since (a compaction garbage-collects it): the next new device gets a fresh encoding,
   * which becomes the base, so no device receives what the store no longer holds.
   */
  compactedTo(bytes: number): void {
    this.#storedBytes = bytes;
    this.#since = null;
    this.#sinceBytes = 0;
    this.#sinceFrame = null;
  }

  /** `[0, 0, stateVector]`, cached until the next update. */
  syncStep1(): Uint8Array {
    this.#stepOne ??= writeSyncStep1(Y.encodeStateVector(this.doc));
    return this.#stepOne;
  }

  /**
   * The answer to a client's step 1, as the frames to send in order: a new client (empty state
   * vector) gets the stored form (the changes since the base, if any, then the base as the step 2),
   * or, when it cannot take it in parts (`takesParts` false), the whole document as the step 2;
   * others get a diff. Throws for an undecodable state vector.
   */
  syncStep2(stateVector: Uint8Array, takesParts = true): readonly Uint8Array[] {
    if (stateVector.length === EMPTY_STATE_VECTOR_LENGTH && stateVector[0] === 0) return this.#wholeDocument(takesParts);
    const key = Buffer.from(stateVector.buffer, stateVector.byteOffset, stateVector.byteLength).toString('base64');
    if (this.#lastDiff?.key === key) return [this.#lastDiff.frame];
    const frame = writeSyncStep2(Y.encodeStateAsUpdate(this.doc, stateVector));
    this.#lastDiff = { key, frame };
    return [frame];
  }

  #wholeDocument(takesParts: boolean): readonly Uint8Array[] {
    if (this.#since === null || (this.#base === null && this.#baseFrame === null) || (!takesParts && this.#since.length > 0)) {
      // Past the limit, nothing stored yet (a new document), or a client that needs it in one
      // step 2 while changes follow the base: encode once; that is the new base.
      this.#baseFrame = writeSyncStep2(Y.encodeStateAsUpdate(this.doc));
      this.#base = null;
      this.#since = [];
      this.#sinceBytes = 0;
      this.#sinceFrame = null;
    }
    if (this.#base !== null) {
      this.#baseFrame = writeSyncStep2(this.#base);
      this.#base = null;
    }
    const since = this.#since;
    if (since.length === 0) return [this.#baseFrame!];
    this.#sinceFrame ??= writeSyncUpdate(since.length === 1 ? since[0]! : Y.mergeUpdates(since));
    return [this.#sinceFrame, this.#baseFrame!];
  }

  #addSince(update: Uint8Array): void {
    if (this.#since === null) return;
    this.#sinceFrame = null;
    this.#since.push(update);
    this.#sinceBytes += update.byteLength;
    if (this.#sinceBytes > MAX_CHANGES_AFTER_BASE.bytes || this.#since.length > MAX_CHANGES_AFTER_BASE.count) {
      this.#since = null;
      this.#sinceBytes = 0;
    }
  }

  /**
   * The document changed by `update` (its `update` event, whatever the origin): drops the cached
   * encodings and adds it to the stored form.
   */
  changed(update: Uint8Array): void {
    this.#stepOne = null;
    this.#lastDiff = null;
    this.#addSince(update);
  }

  destroy(): void {
    this.awareness.destroy();
    this.doc.destroy();
  }
}
