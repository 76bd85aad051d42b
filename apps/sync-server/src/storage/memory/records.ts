import type { RecordCollection, RecordPage, RecordStore, StoreRecord } from '../ports.js';
import { clampLimit } from '../shared.js';
import { clone, copyBytes, eventKey, type MemoryDb } from './connection.js';
import { seqPage } from './paging.js';
import { publicItem, restoreQueueItem } from './sync-queue.js';
import { insertEvent } from './telemetry.js';

export function memoryRecords(db: MemoryDb): RecordStore {
  const { op, updates, snapshots, events, queue, logs, auditLog } = db;
  return {
    scan: op(async (collection: RecordCollection, after: string | null, limit: number): Promise<RecordPage> => {
      switch (collection) {
        case 'snapshots': {
          const n = clampLimit(limit, 10_000);
          const names = [...snapshots.keys()].filter((k) => k > (after ?? '')).sort().slice(0, n);
          return {
            records: names.map((docName) => {
              const s = snapshots.get(docName)!;
              return { type: 'snapshot', docName, state: copyBytes(s.state), createdAt: s.createdAt };
            }),
            next: names.length === n ? (names.at(-1) ?? null) : null,
          };
        }
        case 'updates':
          return seqPage(updates, after, limit, (u) => Number(u.id), (u) => ({ type: 'update', docName: u.docName, update: copyBytes(u.update), author: u.author, createdAt: u.createdAt }));
        case 'events':
          return seqPage([...events.values()], after, limit, (e) => e.seq, (e) => ({ type: 'event', event: clone(e.record) }));
        case 'queue':
          return seqPage([...queue.values()], after, limit, (q) => Number(q.id), (q) => ({ type: 'queueItem', item: publicItem(q) }));
        case 'batchLogs':
          return seqPage(logs, after, limit, (l) => l.seq, (l) => ({ type: 'batchLog', log: clone(l.log) }));
        case 'audit':
          return seqPage(auditLog, after, limit, (a) => a.seq, (a) => ({ type: 'audit', entry: clone(a.entry) }));
      }
    }),
    insert: op(async (list: readonly StoreRecord[]) => {
      for (const r of list) {
        switch (r.type) {
          case 'snapshot':
            snapshots.set(r.docName, { state: copyBytes(r.state), createdAt: r.createdAt });
            break;
          case 'update':
            updates.push({ docName: r.docName, update: copyBytes(r.update), author: r.author, createdAt: r.createdAt, id: String(db.nextSeq()) });
            break;
          case 'event':
            insertEvent(db, r.event);
            break;
          case 'queueItem':
            restoreQueueItem(db, r.item);
            break;
          case 'batchLog':
            logs.push({ seq: db.nextSeq(), log: clone(r.log) });
            break;
          case 'audit':
            auditLog.push({ seq: db.nextSeq(), entry: clone(r.entry) });
            break;
        }
      }
    }),
    replaceEventData: op(async (userId: string, eventId: string, eventData: Record<string, unknown>) => {
      const key = eventKey(userId, eventId);
      const stored = events.get(key);
      if (stored === undefined) return false;
      events.set(key, { seq: stored.seq, record: { ...stored.record, eventData: clone(eventData) } });
      return true;
    }),
  };
}
