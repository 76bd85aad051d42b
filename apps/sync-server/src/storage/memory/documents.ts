import type { DocumentStore, LoadedDocument, UpdateRecord } from '../ports.js';
import { clampLimit } from '../shared.js';
import { copyBytes, spliceWhere, type MemoryDb } from './connection.js';

export function memoryDocuments(db: MemoryDb): DocumentStore {
  const { op, updates, snapshots } = db;
  return {
    appendUpdates: op(async (records: readonly UpdateRecord[]) => {
      for (const r of records) updates.push({ ...r, update: copyBytes(r.update), id: String(db.nextSeq()) });
    }),
    loadDocument: op(async (docName: string): Promise<LoadedDocument> => {
      const snap = snapshots.get(docName);
      return {
        snapshot: snap === undefined ? null : { state: copyBytes(snap.state), createdAt: snap.createdAt },
        updates: updates.filter((u) => u.docName === docName).map((u) => ({ ...u, update: copyBytes(u.update) })),
      };
    }),
    compact: op(async (docName: string, state: Uint8Array, coveredIds: readonly string[]) => {
      snapshots.set(docName, { state: copyBytes(state), createdAt: new Date() });
      const covered = new Set(coveredIds);
      spliceWhere(updates, (u) => u.docName === docName && covered.has(u.id));
    }),
    listDocumentsWithLog: op(async (limit: number) => [...new Set(updates.map((u) => u.docName))].slice(0, clampLimit(limit, 100_000))),
    listUserDocuments: op(async (userId: string) => {
      const names = new Set([...updates.map((u) => u.docName), ...snapshots.keys()]);
      return [...names].filter((n) => n === userId || n.startsWith(`${userId}/`)).sort();
    }),
    listUpdates: op(async (docName: string, limit: number) =>
      updates
        .filter((u) => u.docName === docName)
        .slice(0, clampLimit(limit, 100_000))
        .map((u) => ({ ...u, update: copyBytes(u.update) })),
    ),
    deleteDocument: op(async (docName: string) => {
      snapshots.delete(docName);
      spliceWhere(updates, (u) => u.docName === docName);
    }),
  };
}
