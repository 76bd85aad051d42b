import type { BatchLog, BatchLogStore } from '../ports.js';
import { clampLimit } from '../shared.js';
import { ObjectId, type BatchLogDoc, type Models } from './models.js';

export const toBatchLog = ({ _id: _ignored, ...log }: BatchLogDoc): BatchLog => log;

export async function insertBatchLog(m: Models, log: BatchLog): Promise<void> {
  await m.batchLogs.insertMany([{ _id: new ObjectId(), ...log }], { lean: true });
}

export function mongoBatchLogs(m: Models): BatchLogStore {
  return {
    insert: (log: BatchLog) => insertBatchLog(m, log),
    async listForUser(userId: string, limit: number) {
      return (await m.batchLogs.find({ userId }).sort({ startTime: -1, _id: -1 }).limit(clampLimit(limit)).lean<BatchLogDoc[]>()).map(toBatchLog);
    },
    async listSince(since: Date, limit: number) {
      return (await m.batchLogs.find({ startTime: { $gte: since } }).sort({ startTime: -1, _id: -1 }).limit(clampLimit(limit)).lean<BatchLogDoc[]>()).map(toBatchLog);
    },
    async deleteUser(userId: string) {
      return (await m.batchLogs.deleteMany({ userId })).deletedCount;
    },
  };
}
