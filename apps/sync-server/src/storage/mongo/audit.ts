import type { AuditEntry, AuditPage, AuditQuery, AuditStore } from '../ports.js';
import { ObjectId, type AuditDoc, type Models } from './models.js';
import { keysetPage } from './paging.js';

export const toAuditEntry = (d: AuditDoc): AuditEntry => ({
  at: d.at,
  actor: d.actor,
  actorRole: d.actorRole,
  action: d.action,
  subjectUserId: d.subjectUserId ?? null,
  target: d.target ?? null,
  from: d.from ?? null,
  details: d.details ?? null,
});

export const auditDoc = (e: AuditEntry): AuditDoc => ({ _id: new ObjectId(), ...e });

export function mongoAudit(m: Models): AuditStore {
  return {
    async append(entries: readonly AuditEntry[]) {
      if (entries.length === 0) return;
      await m.auditLog.insertMany(entries.map(auditDoc), { ordered: true, lean: true });
    },
    async list(query: AuditQuery): Promise<AuditPage> {
      const and: Record<string, unknown>[] = [];
      if (query.userId !== undefined) and.push({ $or: [{ subjectUserId: query.userId }, { actor: query.userId }] });
      if (query.since !== undefined) and.push({ at: { $gte: query.since } });
      if (query.action !== undefined) and.push({ action: query.action });
      const { rows, nextCursor } = await keysetPage<AuditDoc>(m.auditLog, { timeField: 'at', order: 'asc', and, limit: query.limit, cursor: query.cursor }, (d) => d.at);
      return { entries: rows.map((d) => ({ ...toAuditEntry(d), id: d._id.toHexString() })), nextCursor };
    },
    async pseudonymiseUser(userId: string, pseudonym: string) {
      const cleared = { target: null, from: null, details: null };
      // Counted first: an entry where the learner is both subject and actor is changed by both updates.
      const n = await m.auditLog.countDocuments({ $or: [{ subjectUserId: userId }, { actor: userId }] });
      await m.auditLog.updateMany({ subjectUserId: userId }, { $set: { subjectUserId: pseudonym, ...cleared } });
      await m.auditLog.updateMany({ actor: userId }, { $set: { actor: pseudonym, ...cleared } });
      return n;
    },
    async deleteOlderThan(cutoff: Date) {
      return (await m.auditLog.deleteMany({ at: { $lt: cutoff } })).deletedCount;
    },
  };
}
