import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';

/**
 * The server's durable acknowledgement (docs/PROTOCOL.md, outer message type 100), sent only to
 * connections opened with `?ack=1`: `[100, messages: varUint, stateVector: varUint8Array]`.
 */
export const MESSAGE_DURABLE_ACK = 100;
const MESSAGE_SYNC = 0;
const SYNC_STEP2 = 1;
const SYNC_UPDATE = 2;

/** A decoded durable acknowledgement. */
export interface DurableAck {
  /** How many update-carrying messages (sync step 2 and update) of this connection are durable. */
  readonly messages: number;
  /** Every insertion this state vector covers is durable (deletions do not move it). */
  readonly stateVector: Uint8Array;
}

/** Reads the body of an ack whose type byte was already consumed (y-websocket's handler contract). */
export function readDurableAckBody(decoder: decoding.Decoder): DurableAck {
  const messages = decoding.readVarUint(decoder);
  const stateVector = decoding.readVarUint8Array(decoder);
  return { messages, stateVector };
}

/** Whether an outgoing y-websocket frame carries document content the server will acknowledge. */
export function isUpdateCarrying(frame: Uint8Array): boolean {
  try {
    const decoder = decoding.createDecoder(frame);
    if (decoding.readVarUint(decoder) !== MESSAGE_SYNC) return false;
    const t = decoding.readVarUint(decoder);
    return t === SYNC_STEP2 || t === SYNC_UPDATE;
  } catch {
    return false;
  }
}

/** Whether `covering` has every insertion of `covered` (both v1-encoded state vectors). */
export function stateVectorCovers(covering: Uint8Array, covered: Map<number, number>): boolean {
  const have = Y.decodeStateVector(covering);
  for (const [client, clock] of covered) if ((have.get(client) ?? 0) < clock) return false;
  return true;
}

/** What a page keeps about its unsaved changes for the next page (see {@link AckTracker.restored}). */
export interface KeptUnsaved {
  readonly unsaved: number;
  /** The last acknowledged state vector, when there was an ack. */
  readonly acked: Uint8Array | null;
}

/**
 * Counts local changes until the server says they are durable.
 *
 * Every local transaction gets a sequence number. Every update-carrying frame sent on a socket
 * records the newest sequence number it contains (a step 2 answers the server's step 1 with
 * everything it lacks, so it covers all local changes so far; a live update covers the change
 * being broadcast). An ack of `messages = n` on that socket makes the n-th mark durable. A new
 * socket starts counting from zero, as the server does; whatever the old socket sent without an
 * ack is covered again by the new socket's step 2.
 *
 * State restored from local persistence at start-up has no sequence number (its session is
 * gone); it counts as the number of unsaved changes the previous page last reported (at least
 * one) until an ack's state vector covers it, so that the count a learner saw before a reload
 * is the count they see after it.
 */
export class AckTracker {
  #localSeq = 0;
  #durableSeq = 0;
  #restored: Map<number, number> | null = null;
  #restoredCount = 1;
  #lastAcked: Uint8Array | null = null;
  readonly #marks = new WeakMap<object, number[]>();

  /** A local transaction happened. */
  localChange(): void {
    this.#localSeq++;
  }

  /**
   * Local persistence restored this state; unsaved until an ack covers it. `previous`: what the
   * last page reported, when it was kept. With unsaved changes there, the restored state counts as
   * that many; with none, and an acknowledged state that covers it, nothing is unsaved.
   */
  restored(stateVector: Uint8Array, previous?: KeptUnsaved): void {
    const sv = Y.decodeStateVector(stateVector);
    this.#restored = sv.size > 0 ? sv : null;
    const n = previous?.unsaved ?? 1;
    this.#restoredCount = Number.isSafeInteger(n) && n > 1 ? n : 1;
    // Zero unsaved on the last page means its deletions were acknowledged too, which a state
    // vector alone cannot tell: only then does covering insertions prove the state durable.
    if (this.#restored && previous?.unsaved === 0 && previous.acked && stateVectorCovers(previous.acked, this.#restored)) this.#restored = null;
  }

  /** The state vector of the last acknowledgement: every insertion it covers is durable. */
  get lastAckedStateVector(): Uint8Array | null {
    return this.#lastAcked;
  }

  /** A frame goes out on `socket`. */
  sent(socket: object, frame: Uint8Array): void {
    if (!isUpdateCarrying(frame)) return;
    let marks = this.#marks.get(socket);
    if (!marks) this.#marks.set(socket, (marks = []));
    marks.push(this.#localSeq);
  }

  /** An ack arrived on `socket`; returns whether anything became durable. */
  acked(socket: object, ack: DurableAck): boolean {
    let changed = false;
    this.#lastAcked = ack.stateVector;
    const marks = this.#marks.get(socket);
    if (marks && ack.messages > 0) {
      const mark = marks[Math.min(ack.messages, marks.length) - 1] ?? 0;
      if (mark > this.#durableSeq) {
        this.#durableSeq = mark;
        changed = true;
      }
    }
    if (this.#restored && stateVectorCovers(ack.stateVector, this.#restored)) {
      this.#restored = null;
      changed = true;
    }
    return changed;
  }

  /** Local changes not yet acknowledged as durable by the server. */
  get unsaved(): number {
    return this.#localSeq - this.#durableSeq + (this.#restored ? this.#restoredCount : 0);
  }
}
