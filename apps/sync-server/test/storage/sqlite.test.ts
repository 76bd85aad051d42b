import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/storage/errors.js';
import type { AuditEntry, TelemetryEventRecord } from '../../src/storage/ports.js';
import { createStore } from '../../src/storage/index.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';
import { tempSqliteDir } from '../helpers/stores.js';
import { runStoreConformance } from './conformance.js';

runStoreConformance('sqlite', async () => {
  const tmp = await tempSqliteDir();
  const store = await createSqliteStore({ dir: tmp.dir });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await tmp.remove();
    },
  };
});

/** Another connection (as another process would) takes the write lock until `release()`. */
function holdWriteLock(dir: string): { release(): void } {
  const other = new Database(join(dir, 'prepmate.sqlite'));
  other.exec('BEGIN IMMEDIATE');
  return {
    release() {
      other.exec('ROLLBACK');
      other.close();
    },
  };
}

describe('sqlite store', () => {
  it('when the database cannot be created, then opening rejects with StoreUnavailableError', async () => {
    const tmp = await tempSqliteDir();
    const notADir = join(tmp.dir, 'file');
    await writeFile(notADir, 'x');
    await expect(createSqliteStore({ dir: join(notADir, 'data') })).rejects.toBeInstanceOf(StoreUnavailableError);
    // A directory where the file should be.
    await expect(createSqliteStore({ file: tmp.dir })).rejects.toBeInstanceOf(StoreUnavailableError);
    await tmp.remove();
  });

  it('when the process restarts, then the log, snapshot and events are still there', async () => {
    const tmp = await tempSqliteDir();
    const first = await createSqliteStore({ dir: tmp.dir });
    await first.documents.appendUpdates([{ docName: 'alice', update: new Uint8Array([1]), author: 'alice', createdAt: new Date() }]);
    await first.documents.compact('alice', new Uint8Array([9]), []);
    await first.close();
    const second = await createStore({ DATA_DIR: tmp.dir });
    expect(second.kind).toBe('sqlite');
    const loaded = await second.documents.loadDocument('alice');
    expect(loaded.updates).toHaveLength(1);
    expect([...loaded.snapshot!.state]).toEqual([9]);
    await second.close();
    await tmp.remove();
  });

  it('when opened, then the file is in WAL mode (synchronous is per connection and set at open)', async () => {
    const tmp = await tempSqliteDir();
    const store = await createSqliteStore({ dir: tmp.dir });
    const db = new Database(join(tmp.dir, 'prepmate.sqlite'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    await store.close();
    await tmp.remove();
  });

  it('when another process holds the write lock past the busy timeout, then writes reject with StoreUnavailableError and succeed after', async () => {
    const tmp = await tempSqliteDir();
    const store = await createSqliteStore({ dir: tmp.dir, busyTimeoutMs: 50 });
    const lock = holdWriteLock(tmp.dir);
    await expect(store.batchLogs.insert({ batchId: 'b', userId: 'u', itemCount: 0, successCount: 0, failureCount: 0, conflictCount: 0, duplicateCount: 0, startTime: new Date(), endTime: new Date(), duration: 0, status: 'completed', kind: 'queue' })).rejects.toBeInstanceOf(StoreUnavailableError);
    lock.release();
    await expect(store.leases.tryAcquire('k', 'a', 1000)).resolves.toBe(true);
    await store.close();
    await tmp.remove();
  });

  it('when the update log appends while another connection holds the write lock, then the event loop keeps running and the append lands once the lock is released', async () => {
    const tmp = await tempSqliteDir();
    const store = await createSqliteStore({ dir: tmp.dir, busyTimeoutMs: 10_000 });
    const lock = holdWriteLock(tmp.dir);
    let landed = false;
    const append = store.documents.appendUpdates([{ docName: 'bob', update: new Uint8Array([7]), author: 'bob', createdAt: new Date() }]).then(() => (landed = true));
    // The event loop turns while the append waits for the lock: the wait is not on this thread.
    await new Promise((resolve) => setImmediate(resolve));
    expect(landed).toBe(false);
    lock.release();
    await append;
    expect((await store.documents.loadDocument('bob')).updates.map((u) => [...u.update])).toEqual([[7]]);
    await store.close();
    await tmp.remove();
  });

  it('when an update log append cannot get the lock within the busy timeout, then it rejects with StoreUnavailableError and the next append succeeds', async () => {
    const tmp = await tempSqliteDir();
    const store = await createSqliteStore({ dir: tmp.dir, busyTimeoutMs: 50 });
    const lock = holdWriteLock(tmp.dir);
    const record = { docName: 'carol', update: new Uint8Array([1]), author: 'carol', createdAt: new Date() };
    await expect(store.documents.appendUpdates([record])).rejects.toBeInstanceOf(StoreUnavailableError);
    lock.release();
    await store.documents.appendUpdates([{ ...record, update: new Uint8Array([2]) }]);
    expect((await store.documents.loadDocument('carol')).updates.map((u) => [...u.update])).toEqual([[2]]);
    await store.close();
    await expect(store.documents.appendUpdates([record])).rejects.toBeInstanceOf(StoreUnavailableError);
    await tmp.remove();
  });
  it('when the audit trail appends while another connection holds the write lock, then the event loop keeps running, the entries land in order once the lock is released, and a lock held past the busy timeout rejects with StoreUnavailableError', async () => {
    const tmp = await tempSqliteDir();
    const store = await createSqliteStore({ dir: tmp.dir, busyTimeoutMs: 10_000 });
    const entry = (target: string): AuditEntry => ({ at: new Date(), actor: 'frank', actorRole: 'learner', action: 'event.ingest', subjectUserId: 'frank', target, from: null, details: { events: 1 } });
    let lock = holdWriteLock(tmp.dir);
    let landed = false;
    const append = store.audit.append([entry('b1'), entry('b2')]).then(() => (landed = true));
    // The event loop turns while the append waits for the lock: the wait is not on this thread.
    await new Promise((resolve) => setImmediate(resolve));
    expect(landed).toBe(false);
    lock.release();
    await append;
    expect((await store.audit.list({ userId: 'frank', limit: 10 })).entries.map((e) => e.target)).toEqual(['b1', 'b2']);
    await store.close();

    const impatient = await createSqliteStore({ dir: tmp.dir, busyTimeoutMs: 50 });
    lock = holdWriteLock(tmp.dir);
    await expect(impatient.audit.append([entry('b3')])).rejects.toBeInstanceOf(StoreUnavailableError);
    lock.release();
    await impatient.audit.append([entry('b4')]);
    expect((await impatient.audit.list({ userId: 'frank', limit: 10 })).entries.map((e) => e.target)).toEqual(['b1', 'b2', 'b4']);
    await impatient.close();
    await expect(impatient.audit.append([entry('b5')])).rejects.toBeInstanceOf(StoreUnavailableError);
    await tmp.remove();
  });

  it('when writes reach the writer thread together and one of them fails, then only that one fails and the others are stored', async () => {
    const tmp = await tempSqliteDir();
    const store = await createSqliteStore({ dir: tmp.dir });
    const event = (eventId: string, eventType: string | null): TelemetryEventRecord => scoredEvent('dana', eventId, eventType);
    // Sent in one turn, so the writer thread receives them together (one group commit).
    const [first, bad, last, repeat] = await Promise.allSettled([
      store.telemetry.insertEvents([event('e1', 'quiz'), event('e2', 'quiz')]),
      // A NULL event type breaks the table's NOT NULL constraint.
      store.telemetry.insertEvents([event('e3', null)]),
      store.telemetry.insertEvents([event('e4', 'quiz')]),
      store.telemetry.insertEvents([event('e2', 'quiz'), event('e5', 'quiz')]),
    ]);
    expect(first).toEqual({ status: 'fulfilled', value: { inserted: ['e1', 'e2'], duplicates: [] } });
    expect(bad.status).toBe('rejected');
    expect(last).toEqual({ status: 'fulfilled', value: { inserted: ['e4'], duplicates: [] } });
    expect(repeat).toEqual({ status: 'fulfilled', value: { inserted: ['e5'], duplicates: ['e2'] } });
    expect(await store.telemetry.countEvents('dana')).toBe(4);
    await store.close();
    await tmp.remove();
  });

  it('when a batch log cannot be written with its events, then neither is stored (one transaction), and the same batch stores both afterwards', async () => {
    const tmp = await tempSqliteDir();
    const store = await createSqliteStore({ dir: tmp.dir });
    const event = (eventId: string): TelemetryEventRecord => scoredEvent('erin', eventId);
    const draft = { batchId: 'b1', userId: 'erin', itemCount: 2, successCount: 0, failureCount: 0, conflictCount: 0, duplicateCount: 0, startTime: new Date(), status: 'completed', kind: 'telemetry' } as const;
    // A NULL kind breaks the log table's NOT NULL constraint, after the events were inserted.
    await expect(store.telemetry.insertEventsWithLog([event('e1'), event('e2')], { ...draft, kind: null as unknown as 'telemetry' })).rejects.toThrow();
    expect(await store.telemetry.countEvents('erin')).toBe(0);
    expect(await store.batchLogs.listForUser('erin', 10)).toEqual([]);
    // Nothing half-written stands in the way of the retry.
    expect(await store.telemetry.insertEventsWithLog([event('e1'), event('e2')], draft)).toEqual({ inserted: ['e1', 'e2'], duplicates: [] });
    expect(await store.telemetry.countEvents('erin')).toBe(2);
    expect(await store.batchLogs.listForUser('erin', 10)).toMatchObject([{ batchId: 'b1', successCount: 2, duplicateCount: 0 }]);
    await store.close();
    await tmp.remove();
  });
});

/** A scored event of batch `b1`; a `null` type breaks the table's NOT NULL constraint. */
function scoredEvent(userId: string, eventId: string, eventType: string | null = 'quiz'): TelemetryEventRecord {
  return {
    userId,
    eventType,
    eventData: { score: 1 },
    metadata: { eventId, clientTimestamp: new Date(), serverTimestamp: new Date(), flags: [] },
    status: 'completed',
    retryCount: 0,
    batchId: 'b1',
    createdAt: new Date(),
    updatedAt: new Date(),
  } as TelemetryEventRecord;
}
