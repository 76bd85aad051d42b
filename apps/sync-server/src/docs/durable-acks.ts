/**
 * Durable acknowledgements: a peer opened with `?ack=1` is told, after each update-log write,
 * how many of its update-carrying messages are in the store, and a state vector whose
 * insertions are all durable. Owns every piece of that bookkeeping: per peer the messages
 * waiting for a log sequence number, per document the state vector known durable.
 */
import * as Y from 'yjs';
import { writeDurableAck } from '../protocol/wire.js';
import type { LiveDocument } from './live-document.js';
import type { Peer } from './origins.js';
import type { UpdateLog } from './update-log.js';

/** Log sequence placeholder of a message whose update is not applied yet (end of turn). */
const PENDING = Number.POSITIVE_INFINITY;

interface PeerAcks {
  /** Update-carrying messages received so far. */
  received: number;
  /** `[messages, logSeq]` pairs not yet acknowledged, in order (logSeq is PENDING until applied). */
  readonly waiting: Array<readonly [number, number]>;
}

interface DocumentAcks {
  /** State vector captured when a log write started, acknowledged once that write is durable. */
  candidate: { readonly seq: number; readonly stateVector: Uint8Array } | null;
  /** A state vector whose insertions are all known durable. */
  durableStateVector: Uint8Array;
}

export interface DurableAcks {
  /** A document was loaded: everything in it now is durable. */
  track(live: LiveDocument): void;
  /** A document was dropped. */
  forget(live: LiveDocument): void;
  /** Call after `live.addPeer(peer)`. */
  attach(live: LiveDocument, peer: Peer): void;
  /** Call after `live.removePeer(peer)`. */
  detach(live: LiveDocument, peer: Peer): void;
  /** An update-carrying message of `peer` arrived (applied at the end of the turn). */
  received(peer: Peer): void;
  /** The turn applied `peer`'s messages: they are now in the log queue or were already known. */
  applied(live: LiveDocument, peer: Peer): void;
}

export function createDurableAcks(log: UpdateLog): DurableAcks {
  const peers = new WeakMap<Peer, PeerAcks>();
  const docs = new Map<LiveDocument, DocumentAcks>();
  /** Documents with at least one `?ack=1` peer. */
  const ackDocs = new Set<LiveDocument>();

  function acknowledge(live: LiveDocument, peer: Peer, durableSeq: number): void {
    const acks = peers.get(peer);
    const state = docs.get(live);
    if (!acks || !state || acks.waiting.length === 0) return;
    let messages = -1;
    while (acks.waiting.length > 0 && acks.waiting[0]![1] <= durableSeq) messages = acks.waiting.shift()![0];
    if (messages >= 0) peer.send(writeDurableAck({ messages, stateVector: state.durableStateVector }));
  }

  log.onBatchStart((maxSeq) => {
    for (const live of ackDocs) {
      let waiting = false;
      for (const peer of live.peers) if ((peers.get(peer)?.waiting.length ?? 0) > 0) waiting = true;
      const state = docs.get(live);
      // Everything in the document now is durable once this write is: capture its state vector.
      if (waiting && state) state.candidate = { seq: maxSeq, stateVector: Y.encodeStateVector(live.doc) };
    }
  });
  log.onDurable((durableSeq) => {
    for (const live of ackDocs) {
      const state = docs.get(live);
      if (state?.candidate && state.candidate.seq <= durableSeq) {
        state.durableStateVector = state.candidate.stateVector;
        state.candidate = null;
      }
      for (const peer of live.peers) acknowledge(live, peer, durableSeq);
    }
  });

  return {
    track(live) {
      docs.set(live, { candidate: null, durableStateVector: Y.encodeStateVector(live.doc) });
    },
    forget(live) {
      docs.delete(live);
      ackDocs.delete(live);
    },
    attach(live, peer) {
      if (!peer.wantsAck) return;
      peers.set(peer, { received: 0, waiting: [] });
      ackDocs.add(live);
      const state = docs.get(live);
      // Nothing pending for this document: its whole current state is durable.
      if (state && live.lastSeq <= log.durableSeq) state.durableStateVector = Y.encodeStateVector(live.doc);
    },
    detach(live, peer) {
      if (!peer.wantsAck) return;
      peers.delete(peer);
      if (![...live.peers].some((p) => p.wantsAck)) ackDocs.delete(live);
    },
    received(peer) {
      const acks = peers.get(peer);
      if (!acks) return;
      acks.received += 1;
      acks.waiting.push([acks.received, PENDING]);
    },
    applied(live, peer) {
      const acks = peers.get(peer);
      if (!acks) return;
      const seq = log.enqueuedSeq;
      for (let i = 0; i < acks.waiting.length; i++) if (acks.waiting[i]![1] === PENDING) acks.waiting[i] = [acks.waiting[i]![0], seq];
      if (seq <= log.durableSeq) acknowledge(live, peer, log.durableSeq);
    },
  };
}
