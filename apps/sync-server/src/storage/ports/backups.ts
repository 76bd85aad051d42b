/** The backups port: a second database that keeps whole copies of the store (MONGODB_BACKUP_URI). */

/** One backup in the repository. */
export interface BackupRun {
  readonly id: string;
  readonly createdAt: Date;
  /** Set once every chunk and the end line are written; a run without it is unusable. */
  readonly completedAt: Date | null;
  /** The kind of store it was taken from (`mongodb`, `sqlite`). */
  readonly source: string;
  /** Records per collection, from the backup's end line (null until complete). */
  readonly counts: Readonly<Record<string, number>> | null;
}

/**
 * Runs of the backup format (JSON lines, backup/format.ts) stored as ordered text chunks, so a
 * line of any length (a large snapshot) fits in documents of bounded size.
 */
export interface BackupRepository {
  begin(run: { readonly id: string; readonly createdAt: Date; readonly source: string }): Promise<void>;
  /** Appends chunk `seq` (0, 1, …) of a run's text. */
  appendChunk(id: string, seq: number, text: string): Promise<void>;
  complete(id: string, completedAt: Date, counts: Readonly<Record<string, number>>): Promise<void>;
  /** Every run, newest first. */
  list(): Promise<BackupRun[]>;
  /** The chunks of a run in order. */
  readChunks(id: string): AsyncIterable<string>;
  /** Deletes a run and its chunks. */
  remove(id: string): Promise<void>;
  close(): Promise<void>;
}
