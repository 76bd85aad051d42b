import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EventId } from '../ids.js';
import { createMemoryOutboxStorage } from '../outbox/memory-storage.js';
import { QuotaError, type OutboxStorage } from '../outbox/storage.js';
import type { AppendResult, OutboxItem, OutboxLimits, OutboxStats } from '../outbox/types.js';

/**
 * When the journal reaches the disk.
 * - `always` (default): every append/remove is `fdatasync`ed before its promise resolves; writes
 *   made in the same tick share one sync (group commit). Survives power loss.
 * - `never`: written to the OS page cache only; survives a crash of the process, not of the machine.
 */
export type FsyncPolicy = 'always' | 'never';

/** Options of {@link createFileOutboxStorage}. */
export interface FileOutboxOptions {
  /** Journal path, e.g. `./data/outbox.jsonl`. A `<path>.lock` beside it holds the owner's pid. */
  readonly path: string;
  /** Default `always`. */
  readonly fsync?: FsyncPolicy;
  /** The journal is rewritten when it is larger than this many bytes… Default 1 MiB. */
  readonly compactMinBytes?: number;
  /** …and more than this many times the live data. Default 2. */
  readonly compactRatio?: number;
}

/** One journal line: items added (`a`) and/or ids deleted (`d`), applied in that order. */
interface JournalRecord {
  a?: OutboxItem[];
  d?: EventId[];
}

/**
 * Outbox storage in an append-only JSON-lines journal, for Node services and CLI tools.
 *
 * The live items are held in memory (the memory adapter) and every change is appended to the
 * journal as one line before the call resolves. On open the journal is replayed; a torn last line
 * (a crash mid-write) is ignored and cut off. When the journal is mostly dead records it is
 * rewritten to `<path>.tmp`, fsynced, and renamed over the old one (atomic on POSIX), then the
 * directory is fsynced so the rename itself is durable.
 *
 * One process owns a journal: a second opener (another process or another instance in this
 * one) gets an error instead of silently interleaving writes. A lock left by a dead process is taken over.
 */
export async function createFileOutboxStorage(options: FileOutboxOptions): Promise<OutboxStorage> {
  const { path } = options;
  const fsyncPolicy = options.fsync ?? 'always';
  const compactMinBytes = options.compactMinBytes ?? 1024 * 1024;
  const compactRatio = options.compactRatio ?? 2;
  await mkdir(dirname(path), { recursive: true });
  const lockPath = `${path}.lock`;
  await acquireLock(lockPath);

  const mem = createMemoryOutboxStorage();
  const unlimited: OutboxLimits = { maxItems: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER };
  let fileSize = 0;
  let handle: FileHandle;
  try {
    fileSize = await replay(path, async (rec) => {
      if (rec.a) await mem.append(rec.a, unlimited);
      if (rec.d) await mem.remove(rec.d);
    });
    handle = await open(path, 'a');
  } catch (err) {
    await unlink(lockPath).catch(() => undefined);
    throw err;
  }
  // If the last line was torn, cut it off so the next record starts on a fresh line.
  await handle.truncate(fileSize);

  // Serialises every journal write and compaction; mutations of `mem` happen in the same order.
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new Error('outbox storage is closed'));
    const next = chain.then(fn);
    chain = next.catch(() => undefined);
    return next;
  };

  async function write(rec: JournalRecord): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(rec)}\n`, 'utf8');
    try {
      await handle.write(line, 0, line.length);
      if (fsyncPolicy === 'always') await handle.datasync();
      fileSize += line.length;
    } catch (err) {
      // Leave no half-written line behind: the journal stays a sequence of whole records.
      await handle.truncate(fileSize).catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC' || (err as NodeJS.ErrnoException).code === 'EDQUOT') {
        throw new QuotaError('disk full while writing the outbox journal', { cause: err });
      }
      throw err;
    }
  }

  async function maybeCompact(): Promise<void> {
    const live = (await mem.stats()).bytes;
    if (fileSize < compactMinBytes || fileSize < compactRatio * (live + 1)) return;
    const tmp = `${path}.tmp`;
    const out = await open(tmp, 'w');
    let size = 0;
    try {
      // Chunks of items per line keep each line (and the memory to build it) bounded.
      let batch = await mem.peek(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      for (let i = 0; i < batch.length; i += 1000) {
        const line = Buffer.from(`${JSON.stringify({ a: batch.slice(i, i + 1000) })}\n`, 'utf8');
        await out.write(line, 0, line.length);
        size += line.length;
      }
      batch = [];
      await out.sync();
    } finally {
      await out.close();
    }
    await handle.close();
    await rename(tmp, path);
    await syncDir(dirname(path));
    handle = await open(path, 'a');
    fileSize = size;
  }

  return {
    append(items: readonly OutboxItem[], limits: OutboxLimits): Promise<AppendResult> {
      return serial(async () => {
        const fresh = [...items];
        const result = await mem.append(fresh, limits);
        try {
          await write(result.dropped.length > 0 ? { a: fresh, d: [...result.dropped] } : { a: fresh });
        } catch (err) {
          // Undo in memory what the journal does not have (dropped items are restored on restart).
          await mem.remove(fresh.map((i) => i.id));
          throw err;
        }
        await maybeCompact();
        return result;
      });
    },
    peek: (maxItems, maxBytes) => serial(() => mem.peek(maxItems, maxBytes)),
    remove(ids: readonly EventId[]): Promise<void> {
      return serial(async () => {
        if (ids.length === 0) return;
        await write({ d: [...ids] });
        await mem.remove(ids);
        await maybeCompact();
      });
    },
    removeExpired(createdBefore: number): Promise<EventId[]> {
      return serial(async () => {
        const expired = (await mem.peek(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).filter((i) => i.createdAt < createdBefore).map((i) => i.id);
        if (expired.length === 0) return [];
        await write({ d: expired });
        await mem.remove(expired);
        return expired;
      });
    },
    removeOldest(count: number): Promise<EventId[]> {
      return serial(async () => {
        const oldest = (await mem.peek(Math.max(0, count), Number.MAX_SAFE_INTEGER)).map((i) => i.id);
        if (count <= 0 || oldest.length === 0) return [];
        await write({ d: oldest });
        await mem.remove(oldest);
        return oldest;
      });
    },
    stats: (): Promise<OutboxStats> => serial(() => mem.stats()),
    close(): Promise<void> {
      const done = serial(async () => {
        await handle.close();
        await mem.close();
        await unlink(lockPath).catch(() => undefined);
      });
      closed = true;
      return done;
    },
  };
}

/** Replays the journal; returns the byte length of its whole lines (a torn tail is excluded). */
async function replay(path: string, apply: (rec: JournalRecord) => Promise<void>): Promise<number> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let start = 0;
  let good = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    if (nl === -1) break; // torn tail: no newline was written
    const text = buf.toString('utf8', start, nl);
    start = nl + 1;
    let rec: JournalRecord;
    try {
      rec = JSON.parse(text) as JournalRecord;
    } catch {
      // A corrupt line in the middle (not produced by this code): stop here rather than guess.
      break;
    }
    await apply(rec);
    good = start;
  }
  return good;
}

async function syncDir(dir: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await open(dir, constants.O_RDONLY);
    await h.sync();
  } catch {
    // Some platforms (Windows) cannot fsync a directory; the rename is still atomic there.
  } finally {
    await h?.close();
  }
}

async function acquireLock(lockPath: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await open(lockPath, 'wx');
      await h.writeFile(String(process.pid));
      await h.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new Error(`outbox journal is in use by process ${pid} (${lockPath}); one process (and one client) per journal`);
      }
      await unlink(lockPath).catch(() => undefined);
    }
  }
  throw new Error(`cannot take the outbox lock ${lockPath}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
