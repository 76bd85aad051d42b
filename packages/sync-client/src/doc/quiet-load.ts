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
  const known = new Set<unknown>(ignoring);
  /** Listeners taken off during a load transaction. */
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
      putBack(); // another transaction inside the load: deliver as usual
      return;
    }
    if (tr.origin !== origin) return;
    const listeners = observers.get('update');
    if (!listeners || listeners.size === 0) return;
    for (const l of listeners) if (!known.has(l)) return;
    parked = listeners;
    observers.delete('update');
  };
  doc.on('beforeTransaction', onBefore);
  doc.on('afterAllTransactions', putBack);
  return () => {
    putBack();
    doc.off('beforeTransaction', onBefore);
    doc.off('afterAllTransactions', putBack);
  };
}
