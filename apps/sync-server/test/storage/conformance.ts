import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/storage/errors.js';
import { InvalidCursorError } from '../../src/storage/errors.js';
import { RECORD_COLLECTIONS, type AuditEntry, type RecordCollection, type Store, type StoreRecord, type TelemetryEventRecord, type UpdateRecord } from '../../src/storage/ports.js';
import { eventually } from '../helpers/stores.js';

export interface StoreUnderTest {
  readonly store: Store;
  cleanup(): Promise<void>;
}

const base = new Date('2026-03-01T12:00:00.000Z').getTime();
const at = (offsetMs: number): Date => new Date(base + offsetMs);
const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function update(docName: string, n: number, author = 'alice'): UpdateRecord {
  return { docName, update: bytes(n % 256, (n >> 8) % 256, 7), author, createdAt: at(n) };
}

function event(userId: string, eventId: string, overrides: Partial<TelemetryEventRecord> = {}): TelemetryEventRecord {
  return {
    userId,
    eventType: 'interview_completed',
    eventData: { score: 80, tags: ['a', 'b'], nested: { ok: true } },
    metadata: {
      eventId,
      clientTimestamp: at(-1000),
      serverTimestamp: at(0),
      userAgent: 'vitest',
      ipAddress: '10.0.0.0',
      extra: { locale: 'en' },
      flags: [],
    },
    status: 'completed',
    retryCount: 0,
    batchId: null,
    createdAt: at(0),
    updatedAt: at(0),
    ...overrides,
  };
}

/**
 * The one suite every Store adapter passes. `setup` runs before each test and must return an
 * empty store; `cleanup` closes it and removes its data.
 */
export function runStoreConformance(name: string, setup: () => Promise<StoreUnderTest>): void {
  describe(`Store conformance: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: Store;
    beforeEach(async () => {
      subject = await setup();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('documents', () => {
      it('when one append mixes documents, authors and update sizes, then every update is stored byte for byte with its own document, author and time', async () => {
        const backing = randomBytes(4096);
        const records: UpdateRecord[] = [
          { docName: 'alice', update: backing.subarray(10, 13), author: 'alice', createdAt: at(1) },
          { docName: 'bob', update: backing.subarray(100, 2100), author: 'bob', createdAt: at(2) },
          { docName: 'alice', update: new Uint8Array(backing.buffer, backing.byteOffset + 3000, 1), author: 'service:insights', createdAt: at(3) },
          { docName: 'alice', update: backing.subarray(2100, 2600), author: 'alice', createdAt: at(4) },
        ];
        await store.documents.appendUpdates(records);
        const alice = (await store.documents.loadDocument('alice')).updates;
        const bob = (await store.documents.loadDocument('bob')).updates;
        const stored = [alice[0], bob[0], alice[1], alice[2]];
        expect(alice).toHaveLength(3);
        expect(bob).toHaveLength(1);
        stored.forEach((u, i) => {
          const r = records[i]!;
          expect([u!.docName, u!.author, u!.createdAt.getTime()]).toEqual([r.docName, r.author, r.createdAt.getTime()]);
          expect(same(u!.update, r.update)).toBe(true);
        });
      });

      it('when updates are appended in groups, then loadDocument returns them in append order with author and time', async () => {
        await store.documents.appendUpdates([update('alice', 1), update('alice', 2), update('bob', 3, 'bob')]);
        await store.documents.appendUpdates([update('alice', 4, 'service:insights')]);
        await store.documents.appendUpdates([]);
        const loaded = await store.documents.loadDocument('alice');
        expect(loaded.snapshot).toBeNull();
        expect(loaded.updates.map((u) => u.createdAt.getTime() - base)).toEqual([1, 2, 4]);
        expect(loaded.updates.map((u) => u.author)).toEqual(['alice', 'alice', 'service:insights']);
        expect(loaded.updates.every((u) => u.docName === 'alice')).toBe(true);
        expect(same(loaded.updates[2]!.update, update('alice', 4).update)).toBe(true);
        expect(new Set(loaded.updates.map((u) => u.id)).size).toBe(3);
        expect((await store.documents.loadDocument('nobody')).updates).toEqual([]);
      });

      it('when a document is compacted, then exactly the covered ids are deleted and entries appended after are kept', async () => {
        await store.documents.appendUpdates([1, 2, 3, 4].map((n) => update('alice', n)));
        await store.documents.appendUpdates([update('bob', 9, 'bob')]);
        const before = await store.documents.loadDocument('alice');
        const covered = before.updates.slice(0, 3).map((u) => u.id);
        await store.documents.appendUpdates([update('alice', 5)]); // arrives while the snapshot is built
        await store.documents.compact('alice', bytes(42, 43), covered);

        const after = await store.documents.loadDocument('alice');
        expect(after.snapshot).not.toBeNull();
        expect(same(after.snapshot!.state, bytes(42, 43))).toBe(true);
        expect(after.snapshot!.createdAt).toBeInstanceOf(Date);
        expect(after.updates.map((u) => u.createdAt.getTime() - base)).toEqual([4, 5]);
        expect(after.updates.map((u) => u.id)).toEqual([before.updates[3]!.id, expect.any(String)]);
        expect((await store.documents.loadDocument('bob')).updates).toHaveLength(1);
        // Ids of another document are never deleted through this one.
        await store.documents.compact('alice', bytes(44), (await store.documents.loadDocument('bob')).updates.map((u) => u.id));
        expect((await store.documents.loadDocument('bob')).updates).toHaveLength(1);
      });

      it('when a document is compacted twice, then the newest snapshot is loaded', async () => {
        await store.documents.compact('alice', bytes(1), []);
        await store.documents.compact('alice', bytes(2, 2), []);
        const loaded = await store.documents.loadDocument('alice');
        expect(same(loaded.snapshot!.state, bytes(2, 2))).toBe(true);
      });

      it('when a 30 MiB snapshot is written, then it loads back byte for byte and a later small one replaces it', async () => {
        const big = new Uint8Array(randomBytes(30 * 1024 * 1024));
        await store.documents.appendUpdates([update('alice', 1)]);
        const { updates } = await store.documents.loadDocument('alice');
        await store.documents.compact('alice', big, updates.map((u) => u.id));
        const loaded = await store.documents.loadDocument('alice');
        expect(loaded.snapshot!.state.byteLength).toBe(big.byteLength);
        expect(same(loaded.snapshot!.state, big)).toBe(true);
        expect(loaded.updates).toEqual([]);

        await store.documents.compact('alice', bytes(5), []);
        expect(same((await store.documents.loadDocument('alice')).snapshot!.state, bytes(5))).toBe(true);
      }, 120_000);

      it('when listing documents of alice, then alice and alice/… match but alice2 and alic do not', async () => {
        await store.documents.appendUpdates(['alice', 'alice/notes', 'alice2', 'alice2/x', 'alic', 'alice_x'].map((d, i) => update(d, i)));
        await store.documents.compact('alice/plan', bytes(1), []);
        expect(await store.documents.listUserDocuments('alice')).toEqual(['alice', 'alice/notes', 'alice/plan']);
        expect(await store.documents.listUserDocuments('alice2')).toEqual(['alice2', 'alice2/x']);
        expect(await store.documents.listUserDocuments('carol')).toEqual([]);
      });

      it('when logs exist, then listDocumentsWithLog names each such document once, up to the limit', async () => {
        await store.documents.appendUpdates([update('a', 1), update('b', 2), update('a', 3), update('c', 4)]);
        await store.documents.compact('snap-only', bytes(1), []);
        expect((await store.documents.listDocumentsWithLog(10)).sort()).toEqual(['a', 'b', 'c']);
        expect(await store.documents.listDocumentsWithLog(2)).toHaveLength(2);
        const b = await store.documents.loadDocument('b');
        await store.documents.compact('b', bytes(1), b.updates.map((u) => u.id));
        expect((await store.documents.listDocumentsWithLog(10)).sort()).toEqual(['a', 'c']);
      });

      it('when listing updates, then they come oldest first up to the limit', async () => {
        await store.documents.appendUpdates([1, 2, 3].map((n) => update('alice', n)));
        const listed = await store.documents.listUpdates('alice', 2);
        expect(listed.map((u) => u.createdAt.getTime() - base)).toEqual([1, 2]);
      });

      it('when a document is deleted, then its snapshot and log are gone and other documents stay', async () => {
        await store.documents.appendUpdates([update('alice', 1), update('alice/notes', 2)]);
        await store.documents.compact('alice', bytes(1), []);
        await store.documents.deleteDocument('alice');
        expect(await store.documents.loadDocument('alice')).toEqual({ snapshot: null, updates: [] });
        expect((await store.documents.loadDocument('alice/notes')).updates).toHaveLength(1);
      });
    });

    describe('telemetry', () => {
      it('when an event is stored, then it reads back with every field', async () => {
        const e = event('alice', 'evt_1', { batchId: 'batch_1', metadata: { ...event('alice', 'evt_1').metadata, sentAt: at(-500), correctedTimestamp: at(-400), flags: ['clock_skew'] } });
        await store.telemetry.insertEvents([e]);
        const page = await store.telemetry.listEvents('alice', { limit: 10 });
        expect(page.events).toEqual([e]);
        expect(page.nextCursor).toBeNull();
      });

      it('when an event is looked up by id, then the stored record of that learner comes back, and null for others', async () => {
        const e = event('alice', 'evt_find', { metadata: { ...event('alice', 'evt_find').metadata, flags: ['future_timestamp'] } });
        await store.telemetry.insertEvents([e]);
        // A repeat with another server time must not change what is stored.
        await store.telemetry.insertEvents([event('alice', 'evt_find', { metadata: { ...e.metadata, serverTimestamp: at(60_000) } })]);
        expect(await store.telemetry.findEvent('alice', 'evt_find')).toEqual(e);
        expect(await store.telemetry.findEvent('bob', 'evt_find')).toBeNull();
        expect(await store.telemetry.findEvent('alice', 'evt_missing')).toBeNull();
      });

      it('when one insert holds events that share some fields and differ in others, then each reads back with its own fields', async () => {
        // Each per-batch field is the same for the first rows and differs from some row on: the
        // SQLite store sends a field the same for every row as one value.
        const same = (i: number): TelemetryEventRecord => event('alice', `mix${i}`, { batchId: 'batch_mix', createdAt: at(5), updatedAt: at(5) });
        const events = [
          same(0),
          same(1),
          { ...same(2), userId: 'bob' },
          { ...same(3), status: 'retrying' as const, retryCount: 2 },
          { ...same(4), batchId: null },
          { ...same(5), createdAt: at(7) },
          { ...same(6), updatedAt: at(9) },
          same(7),
        ];
        const result = await store.telemetry.insertEvents(events);
        expect(result.inserted).toHaveLength(events.length);
        for (const e of events) expect(await store.telemetry.findEvent(e.userId, e.metadata.eventId), e.metadata.eventId).toEqual(e);
      });

      it('when the same events are inserted twice, then each is stored once and the repeat reports duplicates', async () => {
        const first = await store.telemetry.insertEvents([event('alice', 'e1'), event('alice', 'e2'), event('bob', 'e1')]);
        expect([...first.inserted].sort()).toEqual(['e1', 'e1', 'e2']);
        expect(first.duplicates).toEqual([]);
        const second = await store.telemetry.insertEvents([event('alice', 'e2'), event('alice', 'e3'), event('alice', 'e3')]);
        expect(second.inserted).toEqual(['e3']);
        expect([...second.duplicates].sort()).toEqual(['e2', 'e3']);
        expect(await store.telemetry.countEvents('alice')).toBe(3);
        expect(await store.telemetry.countEvents('bob')).toBe(1);
      });

      it('when events are inserted with their batch log, then the log counts the new ones as successes and the stored ones as duplicates', async () => {
        await store.telemetry.insertEvents([event('alice', 'e1')]);
        const draft = { batchId: 'b1', userId: 'alice', itemCount: 4, successCount: 0, failureCount: 1, conflictCount: 0, duplicateCount: 0, startTime: at(0), status: 'partial', kind: 'telemetry' } as const;
        const result = await store.telemetry.insertEventsWithLog([event('alice', 'e1'), event('alice', 'e2'), event('alice', 'e3')], draft);
        expect([...result.inserted].sort()).toEqual(['e2', 'e3']);
        expect(result.duplicates).toEqual(['e1']);
        expect(await store.telemetry.countEvents('alice')).toBe(3);
        const [log] = await store.batchLogs.listForUser('alice', 10);
        expect(log).toMatchObject({ ...draft, successCount: 2, duplicateCount: 1 });
        expect(log!.endTime.getTime()).toBeGreaterThanOrEqual(at(0).getTime());
        expect(log!.duration).toBe(log!.endTime.getTime() - at(0).getTime());
        // A replay of the whole batch: nothing new, every event a duplicate, one more log.
        const replay = await store.telemetry.insertEventsWithLog([event('alice', 'e2'), event('alice', 'e3')], { ...draft, batchId: 'b2', itemCount: 2, failureCount: 0, status: 'completed' });
        expect(replay.inserted).toEqual([]);
        expect(await store.telemetry.countEvents('alice')).toBe(3);
        expect((await store.batchLogs.listForUser('alice', 10)).find((l) => l.batchId === 'b2')).toMatchObject({ successCount: 0, duplicateCount: 2, failureCount: 0, status: 'completed' });
      });

      it('when 10 callers insert the same 500 events concurrently, then each event is stored exactly once', async () => {
        const events = Array.from({ length: 500 }, (_, i) => event('alice', `evt_${i}`, { createdAt: at(i), updatedAt: at(i) }));
        const results = await Promise.all(Array.from({ length: 10 }, () => store.telemetry.insertEvents(events)));
        const inserted = results.flatMap((r) => r.inserted);
        expect(inserted).toHaveLength(500);
        expect(new Set(inserted).size).toBe(500);
        for (const r of results) expect(r.inserted.length + r.duplicates.length).toBe(500);
        expect(await store.telemetry.countEvents('alice')).toBe(500);
      }, 120_000);

      it('when paging with the cursor, then every event comes once, newest first, with no gaps', async () => {
        // Pairs share a createdAt, so the cursor must break ties.
        const events = Array.from({ length: 25 }, (_, i) => event('alice', `e${i}`, { createdAt: at(Math.floor(i / 2) * 1000) }));
        await store.telemetry.insertEvents(events);
        await store.telemetry.insertEvents([event('bob', 'b1')]);
        const seen: TelemetryEventRecord[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.telemetry.listEvents('alice', { limit: 7, ...(cursor ? { cursor } : {}) });
          seen.push(...page.events);
          if (page.nextCursor === null) break;
          cursor = page.nextCursor;
        }
        expect(seen).toHaveLength(25);
        expect(new Set(seen.map((e) => e.metadata.eventId)).size).toBe(25);
        const times = seen.map((e) => e.createdAt.getTime());
        expect(times).toEqual([...times].sort((a, b) => b - a));
      });

      it('when filtering by since and eventType, then only matching events are listed', async () => {
        await store.telemetry.insertEvents([
          event('alice', 'old', { createdAt: at(-10_000) }),
          event('alice', 'new', { createdAt: at(10_000) }),
          event('alice', 'newer', { createdAt: at(20_000), eventType: 'topic_viewed' }),
        ]);
        const since = await store.telemetry.listEvents('alice', { limit: 10, since: at(0) });
        expect(since.events.map((e) => e.metadata.eventId)).toEqual(['newer', 'new']);
        const typed = await store.telemetry.listEvents('alice', { limit: 10, eventType: 'topic_viewed' });
        expect(typed.events.map((e) => e.metadata.eventId)).toEqual(['newer']);
        const both = await store.telemetry.listEvents('alice', { limit: 10, eventType: 'interview_completed', since: at(0) });
        expect(both.events.map((e) => e.metadata.eventId)).toEqual(['new']);
      });

      it('when the cursor is not one the store made, then listing rejects with InvalidCursorError (the HTTP layer answers 400)', async () => {
        await expect(store.telemetry.listEvents('alice', { limit: 10, cursor: 'not-a-cursor' })).rejects.toThrow(InvalidCursorError);
        await expect(store.audit.list({ limit: 10, cursor: 'not-a-cursor' })).rejects.toThrow(InvalidCursorError);
      });

      it('when learners have events around a time, then listActiveUsers names those with events since then, each once, in userId order', async () => {
        await store.telemetry.insertEvents([
          event('old-only', 'o1', { createdAt: at(-60_000) }),
          event('alice', 'a1', { createdAt: at(-60_000) }),
          event('alice', 'a2', { createdAt: at(5_000) }),
          event('alice', 'a3', { createdAt: at(1_000) }),
          event('bob', 'b1', { createdAt: at(30_000) }),
          event('carol', 'c1', { createdAt: at(5_000) }),
          event('dave', 'd1', { createdAt: at(0) }),
        ]);
        expect(await store.telemetry.listActiveUsers(at(0), 100)).toEqual(['alice', 'bob', 'carol', 'dave']);
        expect(await store.telemetry.listActiveUsers(at(0), 2)).toEqual(['alice', 'bob']);
        expect(await store.telemetry.listActiveUsers(at(60_000), 100)).toEqual([]);
      });

      it('when recent events are read again from a position, then the events stored since (older times included) merged with the kept ones equal a complete read, and after any deletion the answer is complete', async () => {
        const ids = (events: readonly TelemetryEventRecord[]): string[] => events.map((e) => e.metadata.eventId);
        const complete = async (limit: number): Promise<string[]> => ids((await store.telemetry.listEvents('alice', { limit })).events);
        // Ties on createdAt (pairs), so the store's sequence must order them as listEvents does.
        await store.telemetry.insertEvents(Array.from({ length: 10 }, (_, i) => event('alice', `a${i}`, { createdAt: at(Math.floor(i / 2) * 1000) })));
        await store.telemetry.insertEvents([event('bob', 'b0')]);
        const first = await store.telemetry.recentEvents('alice', { limit: 5 });
        expect(first.incremental).toBe(false);
        expect(ids(first.events)).toEqual(await complete(5));
        // Stored later: one above every kept event, one at the oldest kept one's time (so above it by
        // sequence, yet not among the 5 most recent), one older than all (a late client batch).
        await store.telemetry.insertEvents([
          event('alice', 'late-new', { createdAt: at(9_000) }),
          event('alice', 'late-tie', { createdAt: at(2_000) }),
          event('alice', 'late-old', { createdAt: at(-5_000) }),
        ]);
        const position = first.resume?.position ?? 'no-position';
        const kept = { events: first.events, keys: first.resume?.keys ?? [] };
        const second = await store.telemetry.recentEvents('alice', { limit: 5, after: { position, oldest: kept.keys[4] ?? null } });
        const merge = (page: typeof second): string[] => {
          if (!page.incremental) return ids(page.events);
          const newKeys = page.resume?.keys ?? [];
          const all = [...page.events.map((e, i) => ({ id: e.metadata.eventId, key: newKeys[i]! })), ...kept.events.map((e, i) => ({ id: e.metadata.eventId, key: kept.keys[i]! }))];
          return all
            .sort((a, b) => b.key.createdAt - a.key.createdAt || b.key.seq - a.key.seq)
            .slice(0, 5)
            .map((x) => x.id);
        };
        expect(merge(second)).toEqual(await complete(5));
        expect(await complete(5)).toEqual(['late-new', 'a9', 'a8', 'a7', 'a6']);
        // A store with a position answers incrementally with only what ranks above the kept oldest; one without answers completely.
        if (first.resume !== null) {
          expect(second.incremental).toBe(true);
          expect(ids(second.events)).toEqual(['late-new', 'late-tie']);
        } else expect(second.incremental).toBe(false);
        // Another learner's events deleted: a position from before proves nothing any more.
        const third = await store.telemetry.recentEvents('alice', { limit: 5, after: { position: second.resume?.position ?? position, oldest: null } });
        expect(third.incremental).toBe(first.resume !== null);
        await store.telemetry.deleteUserEvents('bob');
        const fourth = await store.telemetry.recentEvents('alice', { limit: 5, after: { position: third.resume?.position ?? position, oldest: null } });
        expect(fourth.incremental).toBe(false);
        expect(ids(fourth.events)).toEqual(await complete(5));
        const unknown = await store.telemetry.recentEvents('alice', { limit: 5, after: { position: 'not-a-position', oldest: null } });
        expect(unknown.incremental).toBe(false);
        expect(ids(unknown.events)).toEqual(await complete(5));
        // A position beyond anything stored (the file was replaced by an older one) proves nothing either.
        const beyond = (fourth.resume?.position ?? '0:0').replace(/:\d+$/, ':999999999');
        const replaced = await store.telemetry.recentEvents('alice', { limit: 5, after: { position: beyond, oldest: null } });
        expect(replaced.incremental).toBe(false);
        expect(ids(replaced.events)).toEqual(await complete(5));
      });

      it('when retention runs, then only events older than the cutoff are deleted', async () => {
        await store.telemetry.insertEvents([event('alice', 'a', { createdAt: at(-2) }), event('bob', 'b', { createdAt: at(-1) }), event('alice', 'c', { createdAt: at(0) })]);
        expect(await store.telemetry.deleteEventsOlderThan(at(0))).toBe(2);
        expect((await store.telemetry.listEvents('alice', { limit: 10 })).events.map((e) => e.metadata.eventId)).toEqual(['c']);
        expect(await store.telemetry.countEvents('bob')).toBe(0);
      });
    });

    describe('sync queue', () => {
      const item = (userId: string, itemKey: string, priority = 0) => ({ userId, itemKey, itemType: 'progress' as const, itemData: { topicId: itemKey }, priority });

      it('when the same key is enqueued twice for a user, then it is stored once; another user may use the key', async () => {
        const first = await store.syncQueue.enqueue([item('alice', 'k1'), item('alice', 'k2')]);
        expect(first.inserted.map((i) => i.itemKey)).toEqual(['k1', 'k2']);
        expect(first.inserted[0]).toMatchObject({ status: 'pending', attempts: 0, syncedAt: null, nextAttemptAt: null, errors: [], conflictResolution: null, itemData: { topicId: 'k1' } });
        const second = await store.syncQueue.enqueue([item('alice', 'k1'), item('bob', 'k1')]);
        expect(second.duplicates).toEqual(['k1']);
        expect(second.inserted.map((i) => i.userId)).toEqual(['bob']);
        expect((await store.syncQueue.countByStatus('alice')).pending).toBe(2);
      });

      it('when two workers claim concurrently, then no item is given to both', async () => {
        await store.syncQueue.enqueue(Array.from({ length: 20 }, (_, i) => item(`u${i % 3}`, `k${i}`)));
        const now = new Date();
        const [a, b] = await Promise.all([store.syncQueue.claim(15, now, 3, 60_000), store.syncQueue.claim(15, now, 3, 60_000)]);
        const ids = [...a, ...b].map((i) => i.id);
        expect(new Set(ids).size).toBe(ids.length);
        const rest = await store.syncQueue.claim(20, now, 3, 60_000);
        expect(new Set([...ids, ...rest.map((i) => i.id)]).size).toBe(20);
        expect(ids.length + rest.length).toBe(20);
        expect([...a, ...b, ...rest].every((i) => i.status === 'syncing')).toBe(true);
      });

      it('when items have priorities, then claim takes the highest first', async () => {
        await store.syncQueue.enqueue([item('alice', 'low', 0), item('alice', 'high', 5), item('alice', 'mid', 1)]);
        const claimed = await store.syncQueue.claim(2, new Date(), 3, 60_000);
        expect(claimed.map((i) => i.itemKey)).toEqual(['high', 'mid']);
      });

      it('when a worker crashed mid-sync, then its item is claimable again only after the stale limit', async () => {
        await store.syncQueue.enqueue([item('alice', 'k1')]);
        const t0 = Date.now();
        expect(await store.syncQueue.claim(10, new Date(t0), 3, 60_000)).toHaveLength(1);
        expect(await store.syncQueue.claim(10, new Date(t0 + 1_000), 3, 60_000)).toHaveLength(0);
        const again = await store.syncQueue.claim(10, new Date(t0 + 61_000), 3, 60_000);
        expect(again.map((i) => i.itemKey)).toEqual(['k1']);
      });

      it('when an item fails, then it is retried after its backoff and not after maxAttempts', async () => {
        const [queued] = (await store.syncQueue.enqueue([item('alice', 'k1')])).inserted;
        const t0 = Date.now();
        await store.syncQueue.claim(10, new Date(t0), 2, 60_000);
        await store.syncQueue.markFailed(queued!.id, { at: new Date(t0), message: 'boom 1' }, new Date(t0 + 5_000));
        expect(await store.syncQueue.claim(10, new Date(t0 + 4_999), 2, 60_000)).toHaveLength(0);
        const retried = await store.syncQueue.claim(10, new Date(t0 + 5_000), 2, 60_000);
        expect(retried).toHaveLength(1);
        expect(retried[0]).toMatchObject({ attempts: 1, errors: [{ at: new Date(t0), message: 'boom 1' }] });
        await store.syncQueue.markFailed(queued!.id, { at: new Date(t0 + 5_000), message: 'boom 2' }, new Date(t0 + 6_000));
        expect(await store.syncQueue.claim(10, new Date(t0 + 100_000), 2, 60_000)).toHaveLength(0);
        const [listed] = await store.syncQueue.listForUser('alice', 10);
        expect(listed).toMatchObject({ status: 'error', attempts: 2 });
        expect(listed!.errors.map((e) => e.message)).toEqual(['boom 1', 'boom 2']);
        expect((await store.syncQueue.countByStatus('alice')).error).toBe(1);
      });

      it('when items are marked synced, then they are counted, timed and never claimed again', async () => {
        const { inserted } = await store.syncQueue.enqueue([item('alice', 'k1'), item('alice', 'k2'), item('alice', 'k3')]);
        await store.syncQueue.claim(10, new Date(), 3, 60_000);
        expect(await store.syncQueue.lastSyncedAt('alice')).toBeNull();
        await store.syncQueue.markSynced([inserted[0]!.id], at(1_000));
        await store.syncQueue.markSynced([inserted[1]!.id], at(2_000), { strategy: 'crdt-merge' });
        expect(await store.syncQueue.countByStatus('alice')).toEqual({ pending: 0, syncing: 1, synced: 2, error: 0 });
        expect(await store.syncQueue.lastSyncedAt('alice')).toEqual(at(2_000));
        const listed = await store.syncQueue.listForUser('alice', 10);
        expect(listed.find((i) => i.itemKey === 'k2')).toMatchObject({ status: 'synced', syncedAt: at(2_000), conflictResolution: { strategy: 'crdt-merge' } });
        expect(await store.syncQueue.claim(10, new Date(Date.now() + 3_600_000), 3, 60_000)).toHaveLength(1); // only the stale k3
      });
    });

    describe('batch logs', () => {
      const log = (userId: string, batchId: string, start: number) => ({
        batchId,
        userId,
        itemCount: 3,
        successCount: 2,
        failureCount: 1,
        conflictCount: 0,
        duplicateCount: 1,
        startTime: at(start),
        endTime: at(start + 12),
        duration: 12,
        status: 'partial' as const,
        kind: 'telemetry' as const,
      });

      it('when batch logs are written, then they list newest first per user and since a time', async () => {
        await store.batchLogs.insert(log('alice', 'b1', 0));
        await store.batchLogs.insert(log('alice', 'b2', 1_000));
        await store.batchLogs.insert(log('bob', 'b3', 2_000));
        expect(await store.batchLogs.listForUser('alice', 10)).toEqual([log('alice', 'b2', 1_000), log('alice', 'b1', 0)]);
        expect((await store.batchLogs.listForUser('alice', 1)).map((l) => l.batchId)).toEqual(['b2']);
        expect((await store.batchLogs.listSince(at(1_000), 10)).map((l) => l.batchId)).toEqual(['b3', 'b2']);
      });
    });

    describe('leases', () => {
      it('when one owner holds a lease, then another cannot take it and the holder can renew it', async () => {
        expect(await store.leases.tryAcquire('compact:alice', 'a', 60_000)).toBe(true);
        expect(await store.leases.tryAcquire('compact:alice', 'b', 60_000)).toBe(false);
        expect(await store.leases.tryAcquire('compact:alice', 'a', 60_000)).toBe(true);
        expect(await store.leases.tryAcquire('compact:bob', 'b', 60_000)).toBe(true);
      });

      it('when a lease expires, then another owner can take it', async () => {
        expect(await store.leases.tryAcquire('k', 'a', 50)).toBe(true);
        await eventually(() => store.leases.tryAcquire('k', 'b', 60_000), { timeoutMs: 5_000 });
        expect(await store.leases.tryAcquire('k', 'a', 60_000)).toBe(false);
      });

      it('when a non-owner releases, then nothing changes; when the owner releases, then it is free', async () => {
        await store.leases.tryAcquire('k', 'a', 60_000);
        await store.leases.release('k', 'b');
        expect(await store.leases.tryAcquire('k', 'b', 60_000)).toBe(false);
        await store.leases.release('k', 'a');
        expect(await store.leases.tryAcquire('k', 'b', 60_000)).toBe(true);
      });

      it('when expired leases are purged, then held ones stay and the purged keys can be taken again', async () => {
        expect(await store.leases.tryAcquire('held', 'a', 60_000)).toBe(true);
        expect(await store.leases.tryAcquire('expired', 'a', 1)).toBe(true);
        expect(await store.leases.tryAcquire('released', 'a', 60_000)).toBe(true);
        await store.leases.release('released', 'a');
        await store.leases.purgeExpired(new Date(Date.now() + 1000));
        expect(await store.leases.tryAcquire('held', 'b', 60_000)).toBe(false);
        expect(await store.leases.tryAcquire('expired', 'b', 60_000)).toBe(true);
        expect(await store.leases.tryAcquire('released', 'b', 60_000)).toBe(true);
      });

      it('when many owners race for a free lease, then exactly one gets it', async () => {
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.leases.tryAcquire('race', `o${i}`, 60_000)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('audit', () => {
      const entry = (n: number, overrides: Partial<AuditEntry> = {}): AuditEntry => ({
        at: at(n),
        actor: 'alice',
        actorRole: 'learner',
        action: 'event.ingest',
        subjectUserId: 'alice',
        target: `batch_${n}`,
        from: '10.0.0.0',
        details: { inserted: n, nested: { ok: true } },
        ...overrides,
      });

      it('when entries are appended, then they list oldest first with every field, filtered by user, since and action', async () => {
        await store.audit.append([entry(3), entry(1, { actor: 'service:ops', actorRole: 'service', action: 'user.export' }), entry(2, { subjectUserId: 'bob', actor: 'bob' })]);
        await store.audit.append([]);
        const all = await store.audit.list({ limit: 10 });
        expect(all.entries.map((e) => e.at.getTime() - base)).toEqual([1, 2, 3]);
        const { id, ...first } = all.entries[0]!;
        expect(typeof id).toBe('string');
        expect(first).toEqual(entry(1, { actor: 'service:ops', actorRole: 'service', action: 'user.export' }));
        expect((await store.audit.list({ userId: 'alice', limit: 10 })).entries.map((e) => e.target)).toEqual(['batch_1', 'batch_3']);
        expect((await store.audit.list({ since: at(2), limit: 10 })).entries).toHaveLength(2);
        expect((await store.audit.list({ action: 'user.export', limit: 10 })).entries).toHaveLength(1);
      });

      it('when paging with the cursor, then every entry comes once in order', async () => {
        await store.audit.append(Array.from({ length: 25 }, (_, i) => entry(i % 5)));
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.audit.list({ limit: 7, ...(cursor ? { cursor } : {}) });
          seen.push(...page.entries.map((e) => e.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(new Set(seen).size).toBe(25);
      });

      it('when a user is pseudonymised, then their entries keep the facts but lose every identifying field; others are untouched', async () => {
        await store.audit.append([entry(1), entry(2, { actor: 'service:ops', actorRole: 'service' }), entry(3, { actor: 'alice', subjectUserId: 'bob', target: 'bob' }), entry(4, { actor: 'bob', subjectUserId: 'bob' })]);
        expect(await store.audit.pseudonymiseUser('alice', 'erased:xyz')).toBe(3);
        const all = (await store.audit.list({ limit: 10 })).entries;
        expect(JSON.stringify(all)).not.toContain('"alice"');
        expect(all[0]).toMatchObject({ actor: 'erased:xyz', subjectUserId: 'erased:xyz', action: 'event.ingest', target: null, from: null, details: null });
        expect(all[1]).toMatchObject({ actor: 'service:ops', subjectUserId: 'erased:xyz', target: null });
        expect(all[2]).toMatchObject({ actor: 'erased:xyz', subjectUserId: 'bob', target: null });
        expect(all[3]).toMatchObject({ actor: 'bob', target: 'batch_4', from: '10.0.0.0' });
        expect((await store.audit.list({ userId: 'alice', limit: 10 })).entries).toEqual([]);
      });

      it('when retention runs, then only entries older than the cutoff are deleted', async () => {
        await store.audit.append([entry(1), entry(2), entry(3)]);
        expect(await store.audit.deleteOlderThan(at(2))).toBe(1);
        expect((await store.audit.list({ limit: 10 })).entries.map((e) => e.at.getTime() - base)).toEqual([2, 3]);
      });
    });

    describe('records (backup, restore, rotation)', () => {
      async function scanAll(s: Store, collection: RecordCollection, pageSize = 2): Promise<StoreRecord[]> {
        const out: StoreRecord[] = [];
        let after: string | null = null;
        for (let i = 0; i < 1000; i++) {
          const page = await s.records.scan(collection, after, pageSize);
          out.push(...page.records);
          if (page.next === null) break;
          after = page.next;
        }
        return out;
      }

      async function fill(s: Store): Promise<void> {
        await s.documents.appendUpdates([update('alice', 1), update('alice', 2), update('bob', 3, 'bob')]);
        const loaded = await s.documents.loadDocument('alice');
        await s.documents.compact('alice', bytes(42, 43), loaded.updates.slice(0, 1).map((u) => u.id));
        await s.documents.compact('carol/notes', bytes(9), []);
        await s.telemetry.insertEvents([event('alice', 'e1'), event('alice', 'e2', { eventData: { answers: { text: 'secret' } } }), event('bob', 'e1')]);
        const { inserted } = await s.syncQueue.enqueue([
          { userId: 'alice', itemKey: 'k1', itemType: 'progress', itemData: { topicId: 't' }, priority: 5 },
          { userId: 'alice', itemKey: 'k2', itemType: 'assessment', itemData: { score: 1 }, priority: 10 },
        ]);
        await s.syncQueue.markFailed(inserted[1]!.id, { at: at(5), message: 'boom' }, at(60_000));
        await s.batchLogs.insert({ batchId: 'b', userId: 'alice', itemCount: 1, successCount: 1, failureCount: 0, conflictCount: 0, duplicateCount: 0, startTime: at(0), endTime: at(1), duration: 1, status: 'completed', kind: 'telemetry' });
        await s.audit.append([{ at: at(7), actor: 'alice', actorRole: 'learner', action: 'user.export', subjectUserId: 'alice', target: null, from: null, details: { n: 1 } }]);
      }

      /** Comparable form: ids and store-assigned values dropped, order normalised. */
      function normalise(records: readonly StoreRecord[]): unknown[] {
        return records
          .map((r) => {
            switch (r.type) {
              case 'snapshot':
              case 'update':
                return { ...r, ...('state' in r ? { state: [...r.state] } : {}), ...('update' in r ? { update: [...r.update] } : {}), createdAt: r.type === 'snapshot' ? null : r.createdAt.getTime() };
              case 'queueItem': {
                const { id: _id, createdAt: _c, ...item } = r.item;
                return { type: r.type, item };
              }
              default:
                return JSON.parse(JSON.stringify(r)) as unknown;
            }
          })
          .map((r) => JSON.stringify(r))
          .sort();
      }

      it('when every collection is scanned page by page, then each record comes once', async () => {
        await fill(store);
        const counts = Object.fromEntries(await Promise.all(RECORD_COLLECTIONS.map(async (c) => [c, (await scanAll(store, c)).length] as const)));
        expect(counts).toEqual({ snapshots: 2, updates: 2, events: 3, queue: 2, batchLogs: 1, audit: 1 });
        const snapshots = await scanAll(store, 'snapshots', 1);
        expect(snapshots.map((r) => (r.type === 'snapshot' ? [r.docName, [...r.state]] : null))).toEqual([['alice', [42, 43]], ['carol/notes', [9]]]);
      });

      it('when the records of one store are inserted into an empty one, then scanning it gives the same records and the documents load the same', async () => {
        await fill(store);
        const target = await setup();
        try {
          for (const c of RECORD_COLLECTIONS) await target.store.records.insert(await scanAll(store, c));
          for (const c of RECORD_COLLECTIONS) expect(normalise(await scanAll(target.store, c)), c).toEqual(normalise(await scanAll(store, c)));
          const a = await target.store.documents.loadDocument('alice');
          expect([...a.snapshot!.state]).toEqual([42, 43]);
          expect(a.updates.map((u) => [u.author, u.createdAt.getTime() - base])).toEqual([['alice', 2]]);
          expect((await target.store.telemetry.listEvents('alice', { limit: 10 })).events).toHaveLength(2);
          expect(await target.store.syncQueue.countByStatus('alice')).toMatchObject({ pending: 1, error: 1 });
          // Unique keys still hold after a restore: a second insert adds no events or queue items.
          await target.store.records.insert(await scanAll(store, 'events'));
          await target.store.records.insert(await scanAll(store, 'queue'));
          expect(await target.store.telemetry.countEvents('alice')).toBe(2);
          expect(await target.store.syncQueue.listForUser('alice', 10)).toHaveLength(2);
        } finally {
          await target.cleanup();
        }
      });

      it("when an event's data is replaced, then only that event changes", async () => {
        await fill(store);
        expect(await store.records.replaceEventData('alice', 'e2', { answers: { text: 'other' } })).toBe(true);
        expect(await store.records.replaceEventData('alice', 'nope', {})).toBe(false);
        const events = (await store.telemetry.listEvents('alice', { limit: 10 })).events;
        expect(events.find((e) => e.metadata.eventId === 'e2')?.eventData).toEqual({ answers: { text: 'other' } });
        expect(events.find((e) => e.metadata.eventId === 'e1')?.eventData).toEqual(event('alice', 'e1').eventData);
        expect((await store.telemetry.listEvents('bob', { limit: 10 })).events[0]?.eventData).toEqual(event('bob', 'e1').eventData);
      });
    });

    describe('per-user deletion and health', () => {
      it("when a user's data is deleted, then another user's data is untouched", async () => {
        for (const u of ['alice', 'alice2']) {
          await store.telemetry.insertEvents([event(u, 'e1'), event(u, 'e2')]);
          await store.syncQueue.enqueue([{ userId: u, itemKey: 'k', itemType: 'event', itemData: {}, priority: 0 }]);
          await store.batchLogs.insert({ batchId: 'b', userId: u, itemCount: 1, successCount: 1, failureCount: 0, conflictCount: 0, duplicateCount: 0, startTime: at(0), endTime: at(1), duration: 1, status: 'completed', kind: 'telemetry' });
          await store.documents.appendUpdates([update(u, 1), update(`${u}/notes`, 2)]);
        }
        expect(await store.telemetry.deleteUserEvents('alice')).toBe(2);
        expect(await store.syncQueue.deleteUser('alice')).toBe(1);
        expect(await store.batchLogs.deleteUser('alice')).toBe(1);
        for (const d of await store.documents.listUserDocuments('alice')) await store.documents.deleteDocument(d);

        expect(await store.telemetry.countEvents('alice')).toBe(0);
        expect(await store.documents.listUserDocuments('alice')).toEqual([]);
        expect(await store.syncQueue.listForUser('alice', 10)).toEqual([]);
        expect(await store.batchLogs.listForUser('alice', 10)).toEqual([]);
        expect(await store.telemetry.countEvents('alice2')).toBe(2);
        expect(await store.syncQueue.listForUser('alice2', 10)).toHaveLength(1);
        expect(await store.batchLogs.listForUser('alice2', 10)).toHaveLength(1);
        expect(await store.documents.listUserDocuments('alice2')).toEqual(['alice2', 'alice2/notes']);
      });

      it('when the store is open, then ping resolves; when it is closed, then calls reject with StoreUnavailableError', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        await store.close();
        await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.telemetry.countEvents('alice')).rejects.toBeInstanceOf(StoreUnavailableError);
      });
    });
  });
}
