import type { RecordCollection, RecordPage, RecordStore, StoreRecord } from '../ports.js';
import { clampLimit } from '../shared.js';
import { insertAudit, toAudit, type AuditRow } from './audit.js';
import { insertBatchLog, toBatchLog, type BatchLogRow } from './batch-logs.js';
import { toBuffer, type SqliteDb } from './connection.js';
import { readSnapshot, toUpdate, writeSnapshot, type UpdateRow } from './documents.js';
import { idPage } from './paging.js';
import { INSERT_UPDATE } from './statements.js';
import { restoreQueueItem, toQueueItem, type QueueRow } from './sync-queue.js';
import { insertEvent, toEvent, type TelemetryRow } from './telemetry.js';

export function sqliteRecords(db: SqliteDb): RecordStore {
  return {
    scan: (collection: RecordCollection, after: string | null, limit: number) =>
      db.run((c): RecordPage => {
        switch (collection) {
          case 'snapshots': {
            const n = clampLimit(limit, 10_000);
            const names = (c.prep('SELECT DISTINCT doc_name FROM doc_snapshots WHERE doc_name > ? ORDER BY doc_name LIMIT ?').all(after ?? '', n) as { doc_name: string }[]).map((r) => r.doc_name);
            const out: StoreRecord[] = [];
            for (const docName of names) {
              const snap = readSnapshot(c, docName);
              if (snap !== null) out.push({ type: 'snapshot', docName, state: snap.state, createdAt: snap.createdAt });
            }
            return { records: out, next: names.length === n ? (names.at(-1) ?? null) : null };
          }
          case 'updates':
            return idPage<UpdateRow>(c, 'doc_updates', after, limit, (r) => {
              const u = toUpdate(r);
              return { type: 'update', docName: u.docName, update: u.update, author: u.author, createdAt: u.createdAt };
            });
          case 'events':
            return idPage<TelemetryRow>(c, 'telemetry', after, limit, (r) => ({ type: 'event', event: toEvent(r) }));
          case 'queue':
            return idPage<QueueRow>(c, 'sync_queue', after, limit, (r) => ({ type: 'queueItem', item: toQueueItem(r) }));
          case 'batchLogs':
            return idPage<BatchLogRow>(c, 'batch_logs', after, limit, (r) => ({ type: 'batchLog', log: toBatchLog(r) }));
          case 'audit':
            return idPage<AuditRow>(c, 'audit_log', after, limit, (r) => {
              const { id: _id, ...entry } = toAudit(r);
              return { type: 'audit', entry };
            });
        }
      }),

    insert: (list: readonly StoreRecord[]) =>
      db.run((c) => {
        c.db
          .transaction(() => {
            for (const r of list) {
              switch (r.type) {
                case 'snapshot':
                  writeSnapshot(c, r.docName, r.state, r.createdAt.getTime());
                  break;
                case 'update':
                  c.prep(INSERT_UPDATE).run(r.docName, toBuffer(r.update), r.author, r.createdAt.getTime());
                  break;
                case 'event':
                  insertEvent(c, r.event);
                  break;
                case 'queueItem':
                  restoreQueueItem(c, r.item);
                  break;
                case 'batchLog':
                  insertBatchLog(c, r.log);
                  break;
                case 'audit':
                  insertAudit(c, r.entry);
                  break;
              }
            }
          })
          .immediate();
      }),

    replaceEventData: (userId: string, eventId: string, eventData: Record<string, unknown>) =>
      db.run((c) => c.prep('UPDATE telemetry SET event_data = ? WHERE user_id = ? AND event_id = ?').run(JSON.stringify(eventData), userId, eventId).changes === 1),
  };
}
