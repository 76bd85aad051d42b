import { randomUUID } from 'node:crypto';
import type { DocumentStore, LoadedDocument, StoredUpdate, UpdateRecord } from '../ports.js';
import { clampLimit, joinParts, newestCompleteVersion, splitSnapshot, userDocumentRange } from '../shared.js';
import { ID_CHUNK, bytesOf, chunks, isDuplicateKey, toBuffer, toObjectIds } from './connection.js';
import { ObjectId, type DocSnapshotDoc, type DocUpdateDoc, type Models } from './models.js';

export const toUpdate = (d: DocUpdateDoc): StoredUpdate => ({
  id: d._id.toHexString(),
  docName: d.docName,
  update: bytesOf(d.update),
  author: d.author,
  createdAt: d.createdAt,
});

export const updateDoc = (r: UpdateRecord): DocUpdateDoc => ({ _id: new ObjectId(), docName: r.docName, update: toBuffer(r.update), author: r.author, createdAt: r.createdAt });

export async function readSnapshot(m: Models, docName: string): Promise<LoadedDocument['snapshot']> {
  // A compaction may delete the version we picked between our two reads; then pick again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const metas = await m.docSnapshots.find({ docName }, { version: 1, token: 1, part: 1, partCount: 1 }).lean<Pick<DocSnapshotDoc, 'version' | 'token' | 'part' | 'partCount'>[]>();
    const newest = newestCompleteVersion(metas);
    if (newest === null) return null;
    const parts = await m.docSnapshots.find({ docName, version: newest.version, token: newest.token }).sort({ part: 1 }).lean<DocSnapshotDoc[]>();
    const first = parts[0];
    if (first !== undefined && parts.length === first.partCount) return { state: joinParts(parts.map((p) => bytesOf(p.data))), createdAt: first.createdAt };
  }
  throw new Error(`snapshot of ${docName} kept changing while being read`);
}

/**
 * Writes `state` as the document's next snapshot version (compaction and restore) and returns
 * that version. A snapshot version, not a log id: the unique (docName, version, part) index
 * refuses a second writer of the same version, and the random token keeps a mixed set from
 * looking complete. The caller drops the older versions once this one is complete.
 */
export async function writeSnapshot(m: Models, docName: string, state: Uint8Array, createdAt: Date): Promise<number> {
  const metas = await m.docSnapshots.find({ docName }, { version: 1 }).sort({ version: -1 }).limit(1).lean<Pick<DocSnapshotDoc, 'version'>[]>();
  const version = (metas[0]?.version ?? 0) + 1;
  const token = randomUUID();
  const parts = splitSnapshot(state);
  try {
    // One part per insert: each is up to 12 MiB, and a batch would approach the 48 MB message limit.
    for (const [part, data] of parts.entries()) {
      await m.docSnapshots.insertMany([{ _id: new ObjectId(), docName, version, token, part, partCount: parts.length, data: toBuffer(data), createdAt }], { lean: true });
    }
  } catch (err) {
    await m.docSnapshots.deleteMany({ docName, version, token }).catch(() => undefined);
    if (isDuplicateKey(err)) throw new Error(`another writer is compacting ${docName} (snapshot version ${version} exists)`, { cause: err });
    throw err;
  }
  // The new version is complete, so it is what readers now load; only then drop the old ones.
  await m.docSnapshots.deleteMany({ docName, version: { $lt: version } });
  return version;
}

export function mongoDocuments(m: Models): DocumentStore {
  return {
    async appendUpdates(records: readonly UpdateRecord[]) {
      if (records.length === 0) return;
      // Ordered: ObjectIds made in this order sort in this order, which is the log order.
      await m.docUpdates.insertMany(records.map(updateDoc), { ordered: true, lean: true });
    },

    async loadDocument(docName: string) {
      // Log before snapshot: a compaction in between then at worst gives entries the snapshot
      // already contains (applied idempotently), never a snapshot missing deleted entries.
      const updates = (await m.docUpdates.find({ docName }).sort({ _id: 1 }).lean<DocUpdateDoc[]>()).map(toUpdate);
      return { snapshot: await readSnapshot(m, docName), updates };
    },

    async compact(docName: string, state: Uint8Array, coveredIds: readonly string[]) {
      await writeSnapshot(m, docName, state, new Date());
      for (const ids of chunks(toObjectIds(coveredIds), ID_CHUNK)) await m.docUpdates.deleteMany({ docName, _id: { $in: ids } });
    },

    async listDocumentsWithLog(limit: number) {
      // `$group` with only `_id`: FerretDB 1.24 implements neither `$min` nor `$first` accumulators.
      const rows = await m.docUpdates.aggregate<{ _id: string }>([{ $group: { _id: '$docName' } }, { $sort: { _id: 1 } }, { $limit: clampLimit(limit, 100_000) }]);
      return rows.map((r) => r._id);
    },

    async listUserDocuments(userId: string) {
      const { gte, lt } = userDocumentRange(userId);
      // A range, not a regex: no escaping, and it uses the docName index on both MongoDB and FerretDB.
      const filter = { $or: [{ docName: userId }, { docName: { $gte: gte, $lt: lt } }] };
      const [a, b] = await Promise.all([m.docUpdates.distinct('docName', filter), m.docSnapshots.distinct('docName', filter)]);
      return [...new Set<string>([...a, ...b])].sort();
    },

    async listUpdates(docName: string, limit: number) {
      return (await m.docUpdates.find({ docName }).sort({ _id: 1 }).limit(clampLimit(limit, 100_000)).lean<DocUpdateDoc[]>()).map(toUpdate);
    },

    async deleteDocument(docName: string) {
      // Snapshot first: a crash in between leaves log entries, which still load as the document.
      await m.docSnapshots.deleteMany({ docName });
      await m.docUpdates.deleteMany({ docName });
    },
  };
}
