import mongoose, { type Types } from 'mongoose';
import { StoreUnavailableError } from '../errors.js';
import type { StoreLogger } from '../logger.js';
import { ObjectId, buildModels, type Models } from './models.js';

const DUPLICATE_KEY = 11000;
/** Bounds the size of one `$in` list; FerretDB turns each into a SQL query. */
export const ID_CHUNK = 1000;

const connectionErrorNames = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoPoolClearedError',
  'MongoServerClosedError',
  'MongoWaitQueueTimeoutError',
  'MongoOperationTimeoutError',
]);

/**
 * Socket errors the driver can surface unwrapped: when the server dies while a pooled
 * connection is being written to, Node's "This socket has been ended by the other party"
 * (EPIPE) reaches the caller as is (seen with FerretDB killed mid-session).
 */
const socketErrorCodes = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof mongoose.mongo.MongoNetworkError || err instanceof mongoose.mongo.MongoServerSelectionError) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && socketErrorCodes.has(code)) return true;
  return connectionErrorNames.has(err.name) || (err.cause !== undefined && err.cause !== err && isConnectionError(err.cause));
}

interface WriteErrorLike {
  readonly index: number;
  readonly code: number;
}

/** The per-document errors of an unordered bulk insert, or null when `err` is something else. */
function writeErrorsOf(err: unknown): readonly WriteErrorLike[] | null {
  if (typeof err !== 'object' || err === null || !('writeErrors' in err)) return null;
  const raw = (err as { writeErrors: unknown }).writeErrors;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.filter((w): w is WriteErrorLike => typeof w === 'object' && w !== null && typeof (w as WriteErrorLike).index === 'number');
}

/**
 * Runs an unordered insert and returns the indexes rejected by a unique index. Any other write
 * error (or a failure of the whole command) is rethrown.
 */
export async function insertIgnoringDuplicates(insert: () => Promise<unknown>): Promise<Set<number>> {
  try {
    await insert();
    return new Set();
  } catch (err) {
    const writeErrors = writeErrorsOf(err);
    if (writeErrors === null || writeErrors.length === 0 || writeErrors.some((w) => w.code !== DUPLICATE_KEY)) throw err;
    return new Set(writeErrors.map((w) => w.index));
  }
}

export function isDuplicateKey(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { code?: unknown }).code === DUPLICATE_KEY) return true;
  const writeErrors = writeErrorsOf(err);
  return writeErrors !== null && writeErrors.length > 0 && writeErrors.every((w) => w.code === DUPLICATE_KEY);
}

export const toObjectIds = (ids: readonly string[]): Types.ObjectId[] => ids.filter((id) => /^[0-9a-f]{24}$/i.test(id)).map((id) => new ObjectId(id));

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** BSON has no `undefined`: drop such keys so they read back absent, not null. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Lean reads return BSON `Binary` for Buffer paths (or a Buffer, depending on the path); both become a Uint8Array. */
export function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof mongoose.mongo.Binary) return value.value();
  throw new TypeError('expected binary data');
}

export const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * Wraps every method so connection failures surface as StoreUnavailableError. The driver keeps
 * monitoring the server and reconnects by itself, so the next call after an outage just works.
 */
export function guarded<T extends object>(target: T, logger: StoreLogger): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(target)) {
    out[name] =
      typeof value === 'function'
        ? async (...args: unknown[]) => {
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>)(...args);
            } catch (err) {
              if (!isConnectionError(err)) throw err;
              logger.warn({ err }, 'mongodb store unavailable');
              throw new StoreUnavailableError(`MongoDB is unavailable: ${(err as Error).message}`, { cause: err });
            }
          }
        : value;
  }
  return out as T;
}

/**
 * Opens a dedicated connection (no state on the mongoose singleton, several stores per process
 * work) and builds the indexes before the first write.
 */
export async function connectMongo(uri: string, timeout: number): Promise<{ conn: mongoose.Connection; models: Models }> {
  const conn = mongoose.createConnection(uri, {
    serverSelectionTimeoutMS: timeout,
    connectTimeoutMS: timeout,
    // Fail at once instead of queueing operations for 10 s while disconnected.
    bufferCommands: false,
    autoIndex: false,
    autoCreate: false,
  });
  try {
    await conn.asPromise();
  } catch (err) {
    await conn.close(true).catch(() => undefined);
    throw new StoreUnavailableError(`cannot connect to MongoDB: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  const models = buildModels(conn);
  try {
    // Sequential: FerretDB creates the backing PostgreSQL tables on first use, and concurrent
    // DDL on one database can deadlock there. Awaited, so unique indexes exist before any write.
    for (const model of Object.values(models)) await model.createIndexes();
  } catch (err) {
    await conn.close(true).catch(() => undefined);
    if (isConnectionError(err)) throw new StoreUnavailableError(`MongoDB became unavailable while building indexes: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  return { conn, models };
}
