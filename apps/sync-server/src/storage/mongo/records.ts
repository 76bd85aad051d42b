import type { RecordCollection, RecordPage, RecordStore, StoreRecord } from '../ports.js';
import { clampLimit } from '../shared.js';
import { auditDoc, toAuditEntry } from './audit.js';
import { insertBatchLog, toBatchLog } from './batch-logs.js';
import { readSnapshot, toUpdate, updateDoc, writeSnapshot } from './documents.js';
import type { AuditDoc, BatchLogDoc, DocUpdateDoc, Models, SyncQueueDoc, TelemetryDoc } from './models.js';
import { idPage } from './paging.js';
import { restoreQueueItem, toQueueItem } from './sync-queue.js';
import { insertEventDocs, toEvent } from './telemetry.js';

export function mongoRecords(m: Models): RecordStore {
  return {
    async scan(collection: RecordCollection, after: string | null, limit: number): Promise<RecordPage> {
      switch (collection) {
        case 'snapshots': {
          const n = clampLimit(limit, 10_000);
          const names = (await m.docSnapshots.distinct('docName', after === null ? {} : { docName: { $gt: after } })).sort().slice(0, n);
          const out: StoreRecord[] = [];
          for (const docName of names) {
            const snap = await readSnapshot(m, docName);
            if (snap !== null) out.push({ type: 'snapshot', docName, state: snap.state, createdAt: snap.createdAt });
          }
          return { records: out, next: names.length === n ? (names.at(-1) ?? null) : null };
        }
        case 'updates':
          return idPage<DocUpdateDoc>(m.docUpdates, after, limit, (d) => {
            const u = toUpdate(d);
            return { type: 'update', docName: u.docName, update: u.update, author: u.author, createdAt: u.createdAt };
          });
        case 'events':
          return idPage<TelemetryDoc>(m.telemetry, after, limit, (d) => ({ type: 'event', event: toEvent(d) }));
        case 'queue':
          return idPage<SyncQueueDoc>(m.syncQueue, after, limit, (d) => ({ type: 'queueItem', item: toQueueItem(d) }));
        case 'batchLogs':
          return idPage<BatchLogDoc>(m.batchLogs, after, limit, (d) => ({ type: 'batchLog', log: toBatchLog(d) }));
        case 'audit':
          return idPage<AuditDoc>(m.auditLog, after, limit, (d) => ({ type: 'audit', entry: toAuditEntry(d) }));
      }
    },

    async insert(list: readonly StoreRecord[]) {
      // In record order, one kind at a time: a backup lists snapshots before the log entries that follow them.
      const updates: DocUpdateDoc[] = [];
      const flushUpdates = async (): Promise<void> => {
        if (updates.length === 0) return;
        await m.docUpdates.insertMany(updates.splice(0), { ordered: true, lean: true });
      };
      for (const r of list) {
        if (r.type !== 'update') await flushUpdates();
        switch (r.type) {
          case 'snapshot':
            await writeSnapshot(m, r.docName, r.state, r.createdAt);
            break;
          case 'update':
            updates.push(updateDoc(r));
            break;
          case 'event':
            await insertEventDocs(m, [r.event]);
            break;
          case 'queueItem':
            await restoreQueueItem(m, r.item);
            break;
          case 'batchLog':
            await insertBatchLog(m, r.log);
            break;
          case 'audit':
            await m.auditLog.insertMany([auditDoc(r.entry)], { lean: true });
            break;
        }
      }
      await flushUpdates();
    },

    async replaceEventData(userId: string, eventId: string, eventData: Record<string, unknown>) {
      const { matchedCount } = await m.telemetry.updateOne({ userId, 'metadata.eventId': eventId }, { $set: { eventData } });
      return matchedCount === 1;
    },
  };
}
