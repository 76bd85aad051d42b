import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import type { StoreLogger } from '../logger.js';
import { SCHEMA_SQL } from './schema.js';
import { MAIN_PRAGMAS } from './statements.js';

type Stmt = Database.Statement<unknown[], unknown>;

/** SQLite result codes (primary, before the `_EXTENDED` suffix) that mean "the file cannot be used now". */
const unavailableCodes = ['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_PERM'];

export function sqliteCode(err: unknown): string | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return null;
}

export function isUnavailable(err: unknown): boolean {
  const code = sqliteCode(err);
  if (code === null) return false;
  return unavailableCodes.some((c) => code === c || code.startsWith(`${c}_`)) || ['EACCES', 'EROFS', 'ENOSPC', 'EPERM', 'ENOTDIR', 'EISDIR'].includes(code);
}

/** One open database plus its prepared statements, so a reopen after an I/O error starts clean. */
export class Connection {
  private readonly statements = new Map<string, Stmt>();
  constructor(readonly db: Database.Database) {}
  /** Prepared once per connection, reused for every call. */
  prep(sql: string): Stmt {
    let stmt = this.statements.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}

/**
 * The data directory is the owner's alone (0700) and the database file too (0600): learners'
 * documents and events must not be readable by other accounts on the machine. SQLite creates
 * the `-wal` and `-shm` files with the database file's mode; existing ones are tightened too.
 */
function restrictPermissions(file: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

function open(file: string, busyTimeoutMs: number): Connection {
  restrictPermissions(file);
  const db = new Database(file, { timeout: busyTimeoutMs });
  try {
    for (const pragma of MAIN_PRAGMAS) db.pragma(pragma);
    db.exec(SCHEMA_SQL);
  } catch (err) {
    db.close();
    throw err;
  }
  return new Connection(db);
}

/** What every concern's adapter gets: one way to run work on the (re)opened connection. */
export interface SqliteDb {
  readonly file: string;
  /**
   * Runs one operation; maps file-level failures to StoreUnavailableError. After such a failure
   * the connection is dropped and reopened on the next call, so a disk that was full or a file
   * that was read-only works again without restarting the process.
   */
  run<T>(fn: (c: Connection) => T): Promise<T>;
  /** Maps a file-level failure (from here or the appender) to StoreUnavailableError and logs it. */
  unavailable(err: unknown): StoreUnavailableError;
  readonly closed: boolean;
  close(): void;
}

export function openSqliteDb(file: string, busyTimeoutMs: number, logger: StoreLogger): SqliteDb {
  let conn: Connection | null = null;
  let closed = false;

  const toUnavailable = (err: unknown): StoreUnavailableError =>
    new StoreUnavailableError(`SQLite database ${file} is unavailable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });

  function connection(): Connection {
    if (closed) throw new StoreUnavailableError('SQLite store is closed');
    if (conn === null) {
      try {
        conn = open(file, busyTimeoutMs);
      } catch (err) {
        throw isUnavailable(err) ? toUnavailable(err) : err;
      }
    }
    return conn;
  }

  return {
    file,
    get closed() {
      return closed;
    },
    async run<T>(fn: (c: Connection) => T): Promise<T> {
      const c = connection();
      try {
        return fn(c);
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        const code = sqliteCode(err);
        logger.warn({ err, code, file }, 'sqlite store unavailable');
        if (code !== null && !code.startsWith('SQLITE_BUSY') && conn === c) {
          conn = null;
          try {
            c.db.close();
          } catch {
            // Closing a broken handle may fail too; it is dropped either way.
          }
        }
        throw toUnavailable(err);
      }
    },
    unavailable(err) {
      logger.warn({ err, code: sqliteCode(err), file }, 'sqlite store unavailable');
      return toUnavailable(err);
    },
    close() {
      closed = true;
      const c = conn;
      conn = null;
      c?.db.close();
    },
  };
}

export const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
export const fromBuffer = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** Ids arrive as strings through the port; anything that is not one of ours matches nothing. */
export function parseIds(ids: readonly string[]): number[] {
  return ids.filter((id) => /^[0-9]{1,15}$/.test(id)).map(Number);
}
