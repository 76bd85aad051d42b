import type { AuditEntry, AuditPage, AuditQuery, AuditStore, StoredAuditEntry } from '../ports.js';
import { StoreUnavailableError } from '../errors.js';
import type { AuditParams, SqliteAppender } from './appender.js';
import { isUnavailable, type Connection, type SqliteDb } from './connection.js';
import { keysetPage } from './paging.js';
import { INSERT_AUDIT } from './statements.js';

export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  actor_role: AuditEntry['actorRole'];
  action: string;
  subject_user_id: string | null;
  target: string | null;
  from_address: string | null;
  details: string | null;
}

export const toAudit = (r: AuditRow): StoredAuditEntry => ({
  id: String(r.id),
  at: new Date(r.at),
  actor: r.actor,
  actorRole: r.actor_role,
  action: r.action,
  subjectUserId: r.subject_user_id,
  target: r.target,
  from: r.from_address,
  details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
});

const paramsOf = (e: AuditEntry): AuditParams => [e.at.getTime(), e.actor, e.actorRole, e.action, e.subjectUserId, e.target, e.from, e.details === null ? null : JSON.stringify(e.details)];

/** Restore's insert, on the main connection inside its transaction. */
export function insertAudit(c: Connection, e: AuditEntry): void {
  c.prep(INSERT_AUDIT).run(...paramsOf(e));
}

/**
 * Appends go through the appender's worker (see `appender.ts`): the audit buffer writes once a
 * window during ingestion and document sync, and on the main connection that write's fsync, and
 * its wait for the worker's write lock, stalled the event loop. Reads, erasure and retention stay
 * on the main connection; a read that starts after `append` resolved sees the entries (WAL).
 */
export function sqliteAudit(db: SqliteDb, appender: SqliteAppender): AuditStore {
  return {
    async append(entries: readonly AuditEntry[]) {
      if (db.closed) throw new StoreUnavailableError('SQLite store is closed');
      if (entries.length === 0) return;
      try {
        await appender.insertAudit(entries.map(paramsOf));
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        throw db.unavailable(err);
      }
    },
    list: (query: AuditQuery) =>
      db.run((c): AuditPage => {
        const where: string[] = [];
        const params: Record<string, unknown> = {};
        if (query.userId !== undefined) {
          where.push('(subject_user_id = @userId OR actor = @userId)');
          params['userId'] = query.userId;
        }
        if (query.since !== undefined) {
          where.push('at >= @since');
          params['since'] = query.since.getTime();
        }
        if (query.action !== undefined) {
          where.push('action = @action');
          params['action'] = query.action;
        }
        const { rows, nextCursor } = keysetPage<AuditRow>(c, { table: 'audit_log', timeColumn: 'at', order: 'asc', where, params, limit: query.limit, cursor: query.cursor }, (r) => r.at);
        return { entries: rows.map(toAudit), nextCursor };
      }),
    pseudonymiseUser: (userId: string, pseudonym: string) =>
      db.run((c) =>
        c
          .prep(
            `UPDATE audit_log SET
               subject_user_id = CASE WHEN subject_user_id = @userId THEN @pseudonym ELSE subject_user_id END,
               actor = CASE WHEN actor = @userId THEN @pseudonym ELSE actor END,
               target = NULL, from_address = NULL, details = NULL
             WHERE subject_user_id = @userId OR actor = @userId`,
          )
          .run({ userId, pseudonym }).changes,
      ),
    deleteOlderThan: (cutoff: Date) => db.run((c) => c.prep('DELETE FROM audit_log WHERE at < ?').run(cutoff.getTime()).changes),
  };
}
