import * as Y from 'yjs';
import { LearnerDocument } from '@prepmate/crdt-model';
import type { LearnerDocuments, LearnerJson } from './ports.js';

export interface MemoryLearnerDocuments extends LearnerDocuments {
  /** The live Y.Doc of a learner (created on demand), for tests that observe merges. */
  doc(userId: string): Y.Doc;
  /** Every update applied through `apply`, with its author: what a real update log would hold. */
  readonly log: readonly { readonly docName: string; readonly author: string; readonly update: Uint8Array }[];
}

/**
 * The document port over plain in-memory Y.Docs: what the telemetry tests run against, and a
 * stand-in until the server's document service is wired. Not durable.
 */
export function createMemoryLearnerDocuments(): MemoryLearnerDocuments {
  const docs = new Map<string, Y.Doc>();
  const log: { docName: string; author: string; update: Uint8Array }[] = [];
  const docOf = (name: string): Y.Doc => {
    let doc = docs.get(name);
    if (!doc) {
      doc = new Y.Doc();
      docs.set(name, doc);
    }
    return doc;
  };
  return {
    log,
    doc: docOf,
    async read(userId): Promise<LearnerJson> {
      const doc = docs.get(userId);
      // Reading must not create a document: a GET is not a write.
      const json = new LearnerDocument(doc ?? new Y.Doc()).toJSON();
      return { userId, ...json };
    },
    async apply(userId, author, fn) {
      const doc = docOf(userId);
      const before = Y.encodeStateVector(doc);
      doc.transact(() => fn(doc), { kind: 'server' });
      const update = Y.encodeStateAsUpdate(doc, before);
      // An empty update is 2 bytes (no structs, empty delete set).
      if (update.byteLength > 2) log.push({ docName: userId, author, update });
    },
    async eraseAll(userId) {
      // Only the in-memory documents: this port owns no store (see `eraseUser`).
      for (const name of [...docs.keys()]) {
        if (name !== userId && !name.startsWith(`${userId}/`)) continue;
        docs.get(name)?.destroy();
        docs.delete(name);
      }
    },
  };
}
