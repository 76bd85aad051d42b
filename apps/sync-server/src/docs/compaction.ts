import * as Y from 'yjs';
import type { DocumentStore } from '../storage/ports.js';

/** Applies stored updates in one transaction: linear, unlike Y.mergeUpdates over a long log. */
export function applyAll(doc: Y.Doc, updates: readonly Uint8Array[], origin: unknown): void {
  if (updates.length === 0) return;
  doc.transact(() => {
    for (const update of updates) Y.applyUpdate(doc, update);
  }, origin);
}

/**
 * Folds a document's log into its snapshot: load snapshot + log, merge (plus the in-memory state
 * when the document is loaded, which may hold updates another instance has not logged yet), write
 * the snapshot, then delete exactly the log entries that were read. Entries appended meanwhile are
 * not in `coveredIds`, so they survive. Returns how many entries were folded and the snapshot's
 * size (null when nothing was written).
 */
export async function compactDocument(store: DocumentStore, docName: string, inMemory?: Y.Doc): Promise<{ entries: number; snapshotBytes: number | null }> {
  const loaded = await store.loadDocument(docName);
  if (loaded.updates.length === 0 && !inMemory) return { entries: 0, snapshotBytes: null };
  // Applying to a Y.Doc (rather than Y.mergeUpdates) garbage-collects deleted content, so
  // snapshots stay small.
  const doc = new Y.Doc({ gc: true, guid: docName }); // fixed guid: no random uuid (~0.5 ms)
  try {
    const parts: Uint8Array[] = [];
    if (loaded.snapshot) parts.push(loaded.snapshot.state);
    for (const entry of loaded.updates) parts.push(entry.update);
    applyAll(doc, parts, null);
    if (inMemory) Y.applyUpdate(doc, Y.encodeStateAsUpdate(inMemory));
    const state = Y.encodeStateAsUpdate(doc);
    await store.compact(docName, state, loaded.updates.map((u) => u.id));
    return { entries: loaded.updates.length, snapshotBytes: state.byteLength };
  } finally {
    doc.destroy();
  }
}
