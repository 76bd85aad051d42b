/**
 * Backups into a second database (MONGODB_BACKUP_URI): the same JSON-lines format as
 * `npm run backup -- --out FILE`, written as ordered chunks of a run, so a restore from the
 * backup database and a restore from a file are one code path (restoreStore).
 */
import { randomBytes } from 'node:crypto';
import type { BackupRepository, BackupRun, Store } from '../storage/ports.js';
import { backupStore, restoreStore, type RecordCounts } from './backup.js';

/** Characters per stored chunk by default: well under MongoDB's 16 MB document limit. */
const CHUNK_CHARS = 4 * 1024 * 1024;

/** Complete runs kept by default; older ones are deleted after a new run completes. */
export const BACKUP_KEEP = 7;

export interface RepositoryBackupResult {
  readonly id: string;
  readonly counts: RecordCounts;
  /** Ids of the runs deleted afterwards (older than the `keep` newest, or left incomplete). */
  readonly removed: readonly string[];
}

/**
 * Copies every record of `store` into a new run of `repo`, marks it complete only after the
 * end line is written, then keeps the `keep` newest complete runs and deletes the rest (and any
 * incomplete run older than the new one: a crashed backup). A failure leaves an incomplete run
 * that no restore uses.
 */
export async function backupToRepository(
  store: Store,
  repo: BackupRepository,
  options: { readonly now?: () => Date; readonly keep?: number; readonly chunkChars?: number } = {},
): Promise<RepositoryBackupResult> {
  const now = options.now ?? (() => new Date());
  const chunkChars = options.chunkChars ?? CHUNK_CHARS;
  const createdAt = now();
  // Sortable by time, unique across instances.
  const id = `${createdAt.toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}`;
  await repo.begin({ id, createdAt, source: store.kind });
  let seq = 0;
  let buffer = '';
  const flush = async (): Promise<void> => {
    while (buffer.length > 0) {
      await repo.appendChunk(id, seq, buffer.slice(0, chunkChars));
      seq += 1;
      buffer = buffer.slice(chunkChars);
    }
  };
  const counts = await backupStore(
    store,
    async (line) => {
      buffer += `${line}\n`;
      if (buffer.length >= chunkChars) await flush();
    },
    now,
  );
  await flush();
  await repo.complete(id, now(), counts);

  const keep = Math.max(1, options.keep ?? BACKUP_KEEP);
  const runs = await repo.list();
  const complete = runs.filter((r) => r.completedAt !== null);
  const stale = [...complete.slice(keep), ...runs.filter((r) => r.completedAt === null && r.createdAt.getTime() <= createdAt.getTime() && r.id !== id)];
  for (const run of stale) await repo.remove(run.id);
  return { id, counts, removed: stale.map((r) => r.id) };
}

/** Lines of a run's chunks (a line may span chunks). */
async function* linesOf(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of chunks) {
    rest += chunk;
    let newline = rest.indexOf('\n');
    while (newline >= 0) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      newline = rest.indexOf('\n');
    }
  }
  if (rest !== '') yield rest;
}

export class NoBackupError extends Error {
  override readonly name = 'NoBackupError';
}

/**
 * Restores run `id` (default: the newest complete run) into `store`, with restoreStore's rules
 * (an empty store unless `force`; a truncated run is refused by its end line).
 */
export async function restoreFromRepository(
  repo: BackupRepository,
  store: Store,
  options: { readonly id?: string; readonly force?: boolean } = {},
): Promise<{ readonly run: BackupRun; readonly counts: RecordCounts }> {
  const runs = await repo.list();
  const run = options.id === undefined ? runs.find((r) => r.completedAt !== null) : runs.find((r) => r.id === options.id);
  if (!run) throw new NoBackupError(options.id === undefined ? 'the backup database holds no complete backup' : `no backup ${options.id} in the backup database`);
  if (run.completedAt === null) throw new NoBackupError(`backup ${run.id} is incomplete (its run was interrupted); pick a complete one`);
  const counts = await restoreStore(store, linesOf(repo.readChunks(run.id)), { force: options.force ?? false });
  return { run, counts };
}
