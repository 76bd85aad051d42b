import type { AuditEntry, AuditPage, AuditQuery, AuditStore } from '../ports.js';
import { clone, spliceWhere, type MemoryDb } from './connection.js';
import { keysetPage } from './paging.js';

export function memoryAudit(db: MemoryDb): AuditStore {
  const { op, auditLog } = db;
  return {
    append: op(async (entries: readonly AuditEntry[]) => {
      for (const entry of entries) auditLog.push({ seq: db.nextSeq(), entry: clone(entry) });
    }),
    list: op(async (query: AuditQuery): Promise<AuditPage> => {
      const matching = auditLog.filter(({ entry: e }) => {
        if (query.userId !== undefined && e.subjectUserId !== query.userId && e.actor !== query.userId) return false;
        if (query.since !== undefined && e.at < query.since) return false;
        if (query.action !== undefined && e.action !== query.action) return false;
        return true;
      });
      const { rows, nextCursor } = keysetPage(matching, { timeOf: (a) => a.entry.at, seqOf: (a) => a.seq, order: 'asc', limit: query.limit, cursor: query.cursor });
      return { entries: rows.map((a) => ({ ...clone(a.entry), id: String(a.seq) })), nextCursor };
    }),
    pseudonymiseUser: op(async (userId: string, pseudonym: string) => {
      let n = 0;
      for (const a of auditLog) {
        const e = a.entry;
        if (e.subjectUserId !== userId && e.actor !== userId) continue;
        a.entry = {
          ...e,
          subjectUserId: e.subjectUserId === userId ? pseudonym : e.subjectUserId,
          actor: e.actor === userId ? pseudonym : e.actor,
          target: null,
          from: null,
          details: null,
        };
        n++;
      }
      return n;
    }),
    deleteOlderThan: op(async (cutoff: Date) => spliceWhere(auditLog, (a) => a.entry.at < cutoff)),
  };
}
