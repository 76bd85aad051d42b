import { IndexeddbPersistence } from 'y-indexeddb';
import type * as Y from 'yjs';

/**
 * Local persistence of the learner document (the port; y-indexeddb in browsers, an update
 * journal file in Node, none at all where neither exists).
 */
export interface DocPersistence {
  /** The transaction origin of updates it applies while loading, so they are not counted as new local changes. */
  readonly origin: unknown;
  /** Resolves once stored state is applied to the document. */
  readonly whenLoaded: Promise<void>;
  destroy(): Promise<void>;
}

/** Creates a persistence for a document; `report` is told about write failures (they surface as `lastError`). */
export type DocPersistenceFactory = (docName: string, doc: Y.Doc, report: (message: string) => void) => DocPersistence;

/**
 * y-indexeddb, which uses the global `indexedDB` (browsers; in Node tests, `fake-indexeddb/auto`).
 * The database is named `prepmate-doc:<docName>` so that it never collides with the outbox.
 */
export const indexedDbDocPersistence: DocPersistenceFactory = (docName, doc) => {
  const idb = new IndexeddbPersistence(`prepmate-doc:${docName}`, doc);
  return {
    origin: idb,
    whenLoaded: idb.whenSynced.then(() => undefined),
    destroy: () => idb.destroy(),
  };
};
