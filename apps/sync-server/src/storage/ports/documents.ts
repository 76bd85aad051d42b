/** The documents port: the durable update log and its compacted snapshots, per Yjs document. */

/** One Yjs update as it enters the durable log. */
export interface UpdateRecord {
  readonly docName: string;
  readonly update: Uint8Array;
  /** userId of the connection (or `service:<name>`) that produced it. */
  readonly author: string;
  readonly createdAt: Date;
}

/** A log entry read back; `id` comes from the store's unique key, never from "max + 1". */
export interface StoredUpdate extends UpdateRecord {
  readonly id: string;
}

export interface StoredSnapshot {
  /** A full Yjs state (`Y.encodeStateAsUpdate`). */
  readonly state: Uint8Array;
  readonly createdAt: Date;
}

export interface LoadedDocument {
  readonly snapshot: StoredSnapshot | null;
  /** Entries not yet compacted into the snapshot, in append order. */
  readonly updates: readonly StoredUpdate[];
}

export interface DocumentStore {
  /** Appends every record in one write (group commit): all are durable when it resolves. */
  appendUpdates(records: readonly UpdateRecord[]): Promise<void>;
  /** The newest complete snapshot and the log entries after it. */
  loadDocument(docName: string): Promise<LoadedDocument>;
  /**
   * Writes `state` as the document's snapshot (split into parts when large: MongoDB's 16 MB
   * document limit), and only then deletes exactly the log entries `coveredIds`. A crash in
   * between leaves entries that are already in the snapshot, which Yjs applies idempotently.
   */
  compact(docName: string, state: Uint8Array, coveredIds: readonly string[]): Promise<void>;
  /** Names of documents that have log entries (candidates for compaction), up to `limit`. */
  listDocumentsWithLog(limit: number): Promise<string[]>;
  /** Names of documents equal to `userId` or starting with `userId/`. */
  listUserDocuments(userId: string): Promise<string[]>;
  /** Log entries of one document with author and time, oldest first (history, audit). */
  listUpdates(docName: string, limit: number): Promise<StoredUpdate[]>;
  /** Removes the snapshot and every log entry of the document. */
  deleteDocument(docName: string): Promise<void>;
}
