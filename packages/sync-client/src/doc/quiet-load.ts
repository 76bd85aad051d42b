import type * as Y from 'yjs';

/** A listener of the document's `update` event. */
export type UpdateListener = (update: Uint8Array, origin: unknown, doc: Y.Doc, tr: Y.Transaction) => void;

/**
 * Lets Yjs skip encoding the transactions of `origin` (loading stored state) when every `update`
 * listener of the document is one of `ignoring`, i.e. one that returns at once for that origin.
 *
 * Yjs encodes each transaction as an update whenever the document has any `update` listener,
 * whether or not a listener uses it. Loading a year's document from IndexedDB is one transaction
 * over the whole state, so that encoding is a second pass as long as decoding it, which no one
 * reads. For the duration of such a transaction those listeners are taken off the document and put
 * back when its transactions are done. If any other listener is registered, or another transaction
 * starts while they are off (an observer writing during the load), nothing is skipped: the update is
 * encoded and delivered as before.
 *
 * Returns a function that stops doing so.
 */
export function skipEncodingOfLoads(doc: Y.Doc, origin: unknown, ignoring: readonly UpdateListener[]): () => void {
  return skipEncoding(doc, ignoring, { applies: (tr) => tr.origin === origin });
}

/** A sync message's update, as the provider is about to apply it. */
export interface ReceivedUpdate {
  readonly update: Uint8Array;
  /** A sync step 2 (the server's answer); otherwise a sync update message. */
  readonly stepTwo: boolean;
}

/**
 * How many bytes of held-back received updates {@link skipEncodingOfReceived} keeps to store with
 * the next step 2. A server's first answer puts at most a few hundred KiB ahead of its step 2; past
 * this, something the held updates build on may never come (a record of this device that failed to
 * write, say), so they are dropped and the step 2 is encoded as usual until nothing is held back.
 */
export const MAX_HELD_BYTES = 4 * 1024 * 1024;

/**
 * Lets Yjs skip encoding a sync step 2 the provider applies (origin `provider`: what the server
 * sent that this device lacked, the whole document on a new device), whose update only the local
 * store wants: the bytes received are that update already. While `received()` names the step 2
 * being applied, and every `update` listener is one of `ignoring` (listeners that return at once
 * for the provider's origin, and the store's listener, which `store` stands in for), the
 * transaction is not encoded and `store` is handed the received bytes instead, once the
 * transaction is done. Storing them rather than the re-encoded update keeps the same state: the
 * received update holds what was integrated, and possibly parts the document already had, which
 * applying again ignores. In every other case (another listener, an observer writing meanwhile)
 * the update is encoded and delivered as before, and `store` is not called.
 *
 * Updates received before the step 2 whose structs Yjs holds back (they build on state not here
 * yet, e.g. a server that sends recent changes ahead of the state they follow) are integrated by the
 * step 2's transaction, but are not in its bytes: they are handed to `store` with it, so that
 * nothing the transaction integrated is missing from the store. `received()` must therefore name
 * every sync update the provider applies, not only step 2s. Past `maxHeldBytes` of them, nothing
 * is skipped until Yjs holds nothing back (an encoded transaction stores what it integrates).
 *
 * Returns a function that stops doing so.
 */
export function skipEncodingOfReceived(
  doc: Y.Doc,
  provider: unknown,
  ignoring: readonly UpdateListener[],
  received: () => ReceivedUpdate | null,
  store: (update: Uint8Array) => void,
  maxHeldBytes = MAX_HELD_BYTES,
): () => void {
  let payload: Uint8Array | null = null;
  /** Received updates with parts Yjs still holds back: not encoded by any transaction yet, so not stored. */
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  /** More than `maxHeldBytes` was held back: skip nothing until nothing is held back. */
  let overflowed = false;
  const holding = (): boolean => doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
  return skipEncoding(doc, ignoring, {
    applies: (tr) => {
      const message = tr.origin === provider && !overflowed ? received() : null;
      payload = message?.stepTwo ? message.update : null;
      return payload !== null;
    },
    ended: (tr, skipping) => {
      const message = tr.origin === provider && !skipping ? received() : null;
      if (!message) return;
      // Encoded as usual: what it integrated, held parts included, went to the store's listener.
      if (!holding()) {
        held = [];
        heldBytes = 0;
        overflowed = false;
      } else if (!overflowed) {
        held.push(message.update);
        heldBytes += message.update.byteLength;
        if (heldBytes > maxHeldBytes) {
          held = [];
          heldBytes = 0;
          overflowed = true;
        }
      }
    },
    skipped: () => {
      for (const update of held) store(update);
      if (payload) store(payload);
      held = [];
      heldBytes = 0;
      payload = null;
    },
  });
}

interface SkipRule {
  /** Whether the transaction starting may go unencoded. */
  readonly applies: (tr: Y.Transaction) => boolean;
  /** The transaction that applied has ended without being encoded. */
  readonly skipped?: () => void;
  /** Every transaction, as it ends (before its update is encoded): `skipping` if it goes unencoded. */
  readonly ended?: (tr: Y.Transaction, skipping: boolean) => void;
}

function skipEncoding(doc: Y.Doc, ignoring: readonly UpdateListener[], rule: SkipRule): () => void {
  const known = new Set<unknown>(ignoring);
  /** Listeners taken off during a transaction the rule applies to. */
  let parked: Set<unknown> | null = null;
  // lib0's Observable keeps listeners in `_observers` (declared public in its typings); Yjs checks
  // that map, not the listeners, to decide whether to encode.
  const observers = doc._observers as Map<string, Set<unknown>>;

  const putBack = (): void => {
    if (!parked) return;
    const current = observers.get('update');
    if (current) for (const l of parked) current.add(l);
    else observers.set('update', parked);
    parked = null;
  };
  const onBefore = (tr: Y.Transaction): void => {
    if (parked) {
      putBack(); // another transaction inside it: deliver as usual
      return;
    }
    const listeners = observers.get('update');
    if (!listeners || listeners.size === 0) return;
    for (const l of listeners) if (!known.has(l)) return;
    if (!rule.applies(tr)) return;
    parked = listeners;
    observers.delete('update');
  };
  const onAfterAll = (): void => {
    // Still parked: no transaction came between, so the one the rule applied to went unencoded.
    const wasSkipped = parked !== null;
    putBack();
    if (wasSkipped) rule.skipped?.();
  };
  // Observers have run by then (a write of theirs has put the listeners back already).
  const onAfter = (tr: Y.Transaction): void => rule.ended?.(tr, parked !== null);
  doc.on('beforeTransaction', onBefore);
  doc.on('afterTransaction', onAfter);
  doc.on('afterAllTransactions', onAfterAll);
  return () => {
    putBack();
    doc.off('beforeTransaction', onBefore);
    doc.off('afterTransaction', onAfter);
    doc.off('afterAllTransactions', onAfterAll);
  };
}
