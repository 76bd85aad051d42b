import mongoose, { Schema } from 'mongoose';
import { StoreUnavailableError } from '../errors.js';
import type { BackupRepository, BackupRun } from '../ports/backups.js';
import { isConnectionError } from './connection.js';

interface RunDoc {
  _id: string;
  createdAt: Date;
  completedAt: Date | null;
  source: string;
  counts: Record<string, number> | null;
}

interface ChunkDoc {
  runId: string;
  seq: number;
  text: string;
}

/**
 * The backup repository in its own MongoDB database (`backupRuns`, `backupChunks`). Opened for
 * one backup or restore and closed after it, so the server never depends on the backup database
 * being up. Connection failures become StoreUnavailableError.
 */
export async function openMongoBackupRepository(uri: string, serverSelectionTimeoutMS = 5_000): Promise<BackupRepository> {
  const conn = mongoose.createConnection(uri, { serverSelectionTimeoutMS, autoIndex: false, autoCreate: false });
  const wrap = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (error) {
      if (isConnectionError(error)) throw new StoreUnavailableError('the backup database (MONGODB_BACKUP_URI) is unreachable', { cause: error });
      throw error;
    }
  };
  await wrap(() => conn.asPromise());
  const runs = conn.model<RunDoc>(
    'BackupRun',
    new Schema<RunDoc>({ _id: String, createdAt: Date, completedAt: { type: Date, default: null }, source: String, counts: { type: Schema.Types.Mixed, default: null } }, { collection: 'backupRuns', versionKey: false }),
  );
  const chunkSchema = new Schema<ChunkDoc>({ runId: String, seq: Number, text: String }, { collection: 'backupChunks', versionKey: false });
  chunkSchema.index({ runId: 1, seq: 1 }, { unique: true });
  const chunks = conn.model<ChunkDoc>('BackupChunk', chunkSchema);
  await wrap(async () => {
    await runs.createCollection().catch(() => undefined);
    await chunks.createCollection().catch(() => undefined);
    await chunks.syncIndexes();
  });
  const toRun = (d: RunDoc): BackupRun => ({ id: d._id, createdAt: d.createdAt, completedAt: d.completedAt, source: d.source, counts: d.counts });

  return {
    begin: (run) => wrap(async () => void (await runs.create({ _id: run.id, createdAt: run.createdAt, completedAt: null, source: run.source, counts: null }))),
    appendChunk: (id, seq, text) => wrap(async () => void (await chunks.create({ runId: id, seq, text }))),
    complete: (id, completedAt, counts) => wrap(async () => void (await runs.updateOne({ _id: id }, { $set: { completedAt, counts } }))),
    list: () => wrap(async () => (await runs.find().sort({ createdAt: -1, _id: -1 }).lean<RunDoc[]>()).map(toRun)),
    async *readChunks(id) {
      // One chunk in memory at a time: a page by `seq` rather than one cursor held open.
      for (let seq = 0; ; seq++) {
        const chunk = await wrap(() => chunks.findOne({ runId: id, seq }).lean<ChunkDoc>());
        if (!chunk) return;
        yield chunk.text;
      }
    },
    remove: (id) =>
      wrap(async () => {
        await chunks.deleteMany({ runId: id });
        await runs.deleteOne({ _id: id });
      }),
    close: () => conn.close(),
  };
}
