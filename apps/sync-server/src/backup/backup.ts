import { RECORD_COLLECTIONS, type Store } from '../storage/ports.js';
import { BACKUP_FORMAT, BACKUP_VERSION, BackupFormatError, decodeLine, encodeLine, type BackupHeader } from './format.js';

/** Records read or written per store call. */
const PAGE = 500;

export type RecordCounts = Record<(typeof RECORD_COLLECTIONS)[number], number>;

const zeroCounts = (): RecordCounts => ({ snapshots: 0, updates: 0, events: 0, queue: 0, batchLogs: 0, audit: 0 });

/**
 * Writes every record of the store as JSON lines through `write` (which should wait for the
 * stream to drain, so memory stays bounded by one page). Collections in restore order: snapshots
 * before the log entries that follow them. Leases are not backed up: they are seconds-long locks.
 *
 * The store is read live, page by page, not as one consistent snapshot: run it while the server
 * is stopped, or accept that writes made during the backup may be half in it (Yjs updates and
 * events are idempotent, so a restore of such a file is still loadable; see docs/operations.md).
 */
export async function backupStore(store: Store, write: (line: string) => Promise<void>, now: () => Date = () => new Date()): Promise<RecordCounts> {
  const header: BackupHeader = { type: 'header', format: BACKUP_FORMAT, version: BACKUP_VERSION, store: store.kind, createdAt: now().toISOString() };
  await write(JSON.stringify(header));
  const counts = zeroCounts();
  for (const collection of RECORD_COLLECTIONS) {
    let after: string | null = null;
    do {
      const page = await store.records.scan(collection, after, PAGE);
      for (const record of page.records) await write(encodeLine(record));
      counts[collection] += page.records.length;
      after = page.next;
    } while (after !== null);
  }
  await write(encodeLine({ type: 'end', counts }));
  return counts;
}

export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
}

/** Collections that already hold records (empty array: the store is empty). */
export async function nonEmptyCollections(store: Store): Promise<string[]> {
  const out: string[] = [];
  for (const c of RECORD_COLLECTIONS) if ((await store.records.scan(c, null, 1)).records.length > 0) out.push(c);
  return out;
}

const collectionOf = { snapshot: 'snapshots', update: 'updates', event: 'events', queueItem: 'queue', batchLog: 'batchLogs', audit: 'audit' } as const;

/**
 * Restores a backup into `store`. Refuses a store that holds any record unless `force` (then
 * records are added: events and queue items already there are kept once, documents gain the
 * backup's snapshot as their newest state and the log entries on top, which Yjs merges).
 * Throws BackupFormatError for a file that is not a complete backup — after inserting what came
 * before the problem, so run it again with `--force` once the file is fixed.
 */
export async function restoreStore(store: Store, lines: AsyncIterable<string>, options: { force?: boolean } = {}): Promise<RecordCounts> {
  if (!options.force) {
    const full = await nonEmptyCollections(store);
    if (full.length > 0) throw new RestoreRefusedError(`the target store is not empty (${full.join(', ')}); restore into an empty database, or pass --force to add to it`);
  }
  const counts = zeroCounts();
  let header = false;
  let trailer: Record<string, number> | null = null;
  let batch: Parameters<Store['records']['insert']>[0][number][] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await store.records.insert(batch);
    batch = [];
  };
  let lineNo = 0;
  for await (const text of lines) {
    lineNo += 1;
    if (text.trim() === '') continue;
    let line;
    try {
      line = decodeLine(text);
    } catch (error) {
      throw new BackupFormatError(`line ${lineNo}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!header) {
      if (line.type !== 'header') throw new BackupFormatError('line 1 is not a backup header');
      header = true;
      continue;
    }
    if (line.type === 'header') throw new BackupFormatError(`line ${lineNo}: a second header`);
    if (trailer !== null) throw new BackupFormatError(`line ${lineNo}: records after the end line`);
    if (line.type === 'end') {
      trailer = line.counts;
      continue;
    }
    batch.push(line);
    counts[collectionOf[line.type]] += 1;
    if (batch.length >= PAGE) await flush();
  }
  await flush();
  if (!header) throw new BackupFormatError('the file is empty');
  if (trailer === null) throw new BackupFormatError('the file ends without its end line: it is truncated');
  for (const [k, v] of Object.entries(counts)) {
    if ((trailer[k] ?? 0) !== v) throw new BackupFormatError(`the end line counts ${trailer[k] ?? 0} ${k} but the file holds ${v}`);
  }
  return counts;
}
