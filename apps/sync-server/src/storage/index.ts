import type { Store } from './ports.js';
import type { StoreLogger } from './logger.js';
import { createMongoStore } from './mongo/index.js';
import { createSqliteStore } from './sqlite/index.js';

export type * from './ports.js';
export type { StoreLogger } from './logger.js';
export { InvalidCursorError, StoreUnavailableError } from './errors.js';
export { createSqliteStore, type SqliteStoreOptions } from './sqlite/index.js';
export { createMongoStore, type MongoStoreOptions } from './mongo/index.js';
export { openMongoBackupRepository } from './mongo/backups.js';
export { createMemoryStore, type MemoryStore } from './memory/index.js';

/** The part of the configuration that picks the store (docs/operations.md). */
export interface StoreConfig {
  /** Set: MongoDB (or FerretDB) through mongoose. Unset: embedded SQLite. */
  readonly MONGODB_URI?: string | undefined;
  /** Directory of the embedded SQLite database. */
  readonly DATA_DIR: string;
}

/**
 * Opens the configured store: MongoDB when `MONGODB_URI` is set, otherwise SQLite in
 * `DATA_DIR`. Rejects with StoreUnavailableError when it cannot be reached or opened.
 */
export async function createStore(config: StoreConfig, logger?: StoreLogger): Promise<Store> {
  if (config.MONGODB_URI !== undefined && config.MONGODB_URI !== '') {
    const store = await createMongoStore({ uri: config.MONGODB_URI, ...(logger ? { logger } : {}) });
    logger?.info({ store: 'mongodb' }, 'store ready');
    return store;
  }
  const store = await createSqliteStore({ dir: config.DATA_DIR, ...(logger ? { logger } : {}) });
  logger?.info({ store: 'sqlite', dir: config.DATA_DIR }, 'store ready');
  return store;
}
