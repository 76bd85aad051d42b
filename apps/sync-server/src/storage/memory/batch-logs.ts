import type { BatchLog, BatchLogStore } from '../ports.js';
import { clampLimit } from '../shared.js';
import { clone, spliceWhere, type MemoryDb } from './connection.js';

export function memoryBatchLogs(db: MemoryDb): BatchLogStore {
  const { op, logs } = db;
  const newest = (match: (l: BatchLog) => boolean, limit: number): BatchLog[] =>
    logs
      .filter((l) => match(l.log))
      .sort((a, b) => b.log.startTime.getTime() - a.log.startTime.getTime() || b.seq - a.seq)
      .slice(0, clampLimit(limit))
      .map((l) => clone(l.log));
  return {
    insert: op(async (log: BatchLog) => {
      logs.push({ seq: db.nextSeq(), log: clone(log) });
    }),
    listForUser: op(async (userId: string, limit: number) => newest((l) => l.userId === userId, limit)),
    listSince: op(async (since: Date, limit: number) => newest((l) => l.startTime >= since, limit)),
    deleteUser: op(async (userId: string) => spliceWhere(logs, (l) => l.log.userId === userId)),
  };
}
