import { StoreUnavailableError } from '../errors.js';
import type { DocumentStore, LoadedDocument, StoredUpdate, UpdateRecord } from '../ports.js';
import { clampLimit, joinParts, newestCompleteVersion, splitSnapshot, userDocumentRange } from '../shared.js';
import type { SqliteAppender } from './appender.js';
import { fromBuffer, isUnavailable, parseIds, toBuffer, type Connection, type SqliteDb } from './connection.js';

export interface UpdateRow {
  id: number;
  doc_name: string;
  update_data: Buffer;
  author: string;
  created_at: number;
}

interface SnapshotMetaRow {
  version: number;
  part: number;
  part_count: number;
}

export const toUpdate = (r: UpdateRow): StoredUpdate => ({
  id: String(r.id),
  docName: r.doc_name,
  update: fromBuffer(r.update_data),
  author: r.author,
  createdAt: new Date(r.created_at),
});

/** The newest complete snapshot of a document; call inside a transaction when consistency with the log matters. */
export function readSnapshot(c: Connection, docName: string): LoadedDocument['snapshot'] {
  const metas = c.prep('SELECT version, part, part_count FROM doc_snapshots WHERE doc_name = ?').all(docName) as SnapshotMetaRow[];
  const newest = newestCompleteVersion(metas.map((m) => ({ version: m.version, part: m.part, partCount: m.part_count })));
  if (newest === null) return null;
  const rows = c.prep('SELECT data, created_at FROM doc_snapshots WHERE doc_name = ? AND version = ? ORDER BY part').all(docName, newest.version) as { data: Buffer; created_at: number }[];
  return { state: joinParts(rows.map((r) => fromBuffer(r.data))), createdAt: new Date(rows[0]?.created_at ?? 0) };
}

/** Writes `state` as the next snapshot version and drops older versions (compaction and restore). */
export function writeSnapshot(c: Connection, docName: string, state: Uint8Array, createdAt: number): void {
  const parts = splitSnapshot(state);
  const insertPart = c.prep('INSERT INTO doc_snapshots (doc_name, version, part, part_count, data, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  // A snapshot version number (not a log id): the write lock held by the caller makes max + 1 safe.
  const { next } = c.prep('SELECT COALESCE(MAX(version), 0) + 1 AS next FROM doc_snapshots WHERE doc_name = ?').get(docName) as { next: number };
  parts.forEach((p, i) => insertPart.run(docName, next, i, parts.length, toBuffer(p), createdAt));
  c.prep('DELETE FROM doc_snapshots WHERE doc_name = ? AND version < ?').run(docName, next);
}

/** Appends go through the worker-thread appender; everything else through the main connection. */
export function sqliteDocuments(db: SqliteDb, appender: SqliteAppender): DocumentStore {
  return {
    appendUpdates: async (records: readonly UpdateRecord[]) => {
      if (db.closed) throw new StoreUnavailableError('SQLite store is closed');
      try {
        await appender.append(records);
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        throw db.unavailable(err);
      }
    },

    loadDocument: (docName: string) =>
      db.run((c): LoadedDocument => {
        // One read transaction: snapshot and log seen at the same instant, so a concurrent compaction
        // cannot make us miss entries (deleted) that the snapshot we read does not contain.
        return c.db.transaction(() => {
          const snapshot = readSnapshot(c, docName);
          const updates = (c.prep('SELECT * FROM doc_updates WHERE doc_name = ? ORDER BY id').all(docName) as UpdateRow[]).map(toUpdate);
          return { snapshot, updates };
        })();
      }),

    compact: (docName: string, state: Uint8Array, coveredIds: readonly string[]) =>
      db.run((c) => {
        const now = Date.now();
        const deleteUpdate = c.prep('DELETE FROM doc_updates WHERE id = ? AND doc_name = ?');
        // One transaction, in the order the port describes (new parts, switch, drop old version,
        // then the covered log entries), so even a reader outside it never sees a gap.
        c.db
          .transaction(() => {
            writeSnapshot(c, docName, state, now);
            for (const id of parseIds(coveredIds)) deleteUpdate.run(id, docName);
          })
          .immediate();
      }),

    listDocumentsWithLog: (limit: number) =>
      db.run((c) =>
        (c.prep('SELECT doc_name FROM doc_updates GROUP BY doc_name ORDER BY MIN(id) LIMIT ?').all(clampLimit(limit, 100_000)) as { doc_name: string }[]).map((r) => r.doc_name),
      ),

    listUserDocuments: (userId: string) =>
      db.run((c) => {
        const { gte, lt } = userDocumentRange(userId);
        // Range instead of LIKE: `_` in a userId is a LIKE wildcard, and ranges use the index.
        const rows = c
          .prep(
            `SELECT doc_name FROM doc_updates WHERE doc_name = @userId OR (doc_name >= @gte AND doc_name < @lt)
             UNION SELECT doc_name FROM doc_snapshots WHERE doc_name = @userId OR (doc_name >= @gte AND doc_name < @lt)
             ORDER BY doc_name`,
          )
          .all({ userId, gte, lt }) as { doc_name: string }[];
        return rows.map((r) => r.doc_name);
      }),

    listUpdates: (docName: string, limit: number) =>
      db.run((c) => (c.prep('SELECT * FROM doc_updates WHERE doc_name = ? ORDER BY id LIMIT ?').all(docName, clampLimit(limit, 100_000)) as UpdateRow[]).map(toUpdate)),

    deleteDocument: (docName: string) =>
      db.run((c) => {
        c.db.transaction(() => {
          c.prep('DELETE FROM doc_updates WHERE doc_name = ?').run(docName);
          c.prep('DELETE FROM doc_snapshots WHERE doc_name = ?').run(docName);
        })();
      }),
  };
}
