import { StoreUnavailableError } from '../errors.js';
import type { Store } from '../ports.js';
import { silentLogger, type StoreLogger } from '../logger.js';
import { mongoAudit } from './audit.js';
import { mongoBatchLogs } from './batch-logs.js';
import { connectMongo, guarded } from './connection.js';
import { mongoDocuments } from './documents.js';
import { mongoLeases } from './leases.js';
import { mongoRecords } from './records.js';
import { mongoSyncQueue } from './sync-queue.js';
import { mongoTelemetry } from './telemetry.js';

export interface MongoStoreOptions {
  /** mongodb:// URI; its database name is the one used. */
  readonly uri: string;
  readonly logger?: StoreLogger;
  /**
   * How long an operation waits for a reachable server before failing with
   * StoreUnavailableError, ms. Default 2000: an outage is noticed fast and answered with 503.
   */
  readonly serverSelectionTimeoutMS?: number;
}

/**
 * The production store on MongoDB (and FerretDB 1.x, which the tests run against). FerretDB 1.x
 * has no multi-document transactions and, as measured, does not apply a conditional update
 * (`findOneAndUpdate`/`updateOne` with a status filter) atomically: concurrent callers all
 * "win". The only atomic primitive both share is a unique index, so every exclusive step here
 * (claims, leases, snapshot versions, event dedupe) is an insert that a unique key can refuse.
 */
export async function createMongoStore(options: MongoStoreOptions): Promise<Store> {
  const logger = options.logger ?? silentLogger;
  const { conn, models: m } = await connectMongo(options.uri, options.serverSelectionTimeoutMS ?? 2000);
  let closed = false;
  return {
    kind: 'mongodb',
    audit: guarded(mongoAudit(m), logger),
    records: guarded(mongoRecords(m), logger),
    documents: guarded(mongoDocuments(m), logger),
    telemetry: guarded(mongoTelemetry(m), logger),
    syncQueue: guarded(mongoSyncQueue(m), logger),
    batchLogs: guarded(mongoBatchLogs(m), logger),
    leases: guarded(mongoLeases(m), logger),
    ping: guarded(
      {
        ping: async () => {
          if (closed) throw new StoreUnavailableError('MongoDB store is closed');
          const db = conn.db;
          if (db === undefined) throw new StoreUnavailableError('MongoDB connection has no database');
          await db.command({ ping: 1 });
        },
      },
      logger,
    ).ping,
    async close() {
      if (closed) return;
      closed = true;
      await conn.close();
    },
  };
}
