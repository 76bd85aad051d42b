import * as Y from 'yjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MemoryLearnerDocuments } from '../helpers/memory-documents.js';
import { describeEachStore, openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { assessmentItem, eventItem, iso, progressItem, trackBody, uid } from './fixtures.js';

describeEachStore('REST API endpoints', (kind) => {
  let opened: OpenedStore;
  let api: ApiHarness;

  beforeAll(async () => {
    opened = await openStore(kind);
    api = await startApi({ store: opened.store });
  });
  afterAll(async () => {
    await api?.close();
    await opened?.dispose();
  });

  const docs = (): MemoryLearnerDocuments => api.documents as MemoryLearnerDocuments;

  it('when an event is tracked twice with the same eventId, then it is stored once and the repeat says duplicate', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const eventId = uid('e');
    const first = await api.request('POST', '/api/telemetry/track', { token, body: trackBody(eventId) });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ success: true, data: { eventId, duplicate: false } });
    expect(Date.parse(first.json.data.serverTimestamp)).not.toBeNaN();
    const again = await api.request('POST', '/api/telemetry/track', { token, body: trackBody(eventId) });
    expect(again.status).toBe(200);
    expect(again.json.data).toMatchObject({ eventId, duplicate: true });
    const list = await api.request('GET', '/api/telemetry/events', { token });
    expect(list.json.data.events).toHaveLength(1);
    const status = await api.request('GET', '/api/telemetry/status', { token });
    expect(status.json.syncStatus).toMatchObject({ lastSyncTime: first.json.data.serverTimestamp, totalItems: 1, syncHealth: 'good' });
  });

  it('when an event has no eventId, then the server makes an evt_ id', async () => {
    const token = await api.token(uid('u'));
    const res = await api.request('POST', '/api/telemetry/track', { token, body: trackBody() });
    expect(res.status).toBe(200);
    expect(res.json.data.eventId).toMatch(/^evt_[0-9a-f]{32}$/);
  });

  it('when an event carries sentAt and a future clientTimestamp, then it is enriched with corrected time, flags, anonymised IP and user agent', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const now = Date.now();
    // The device clock runs 2 days ahead: clientTimestamp and sentAt both on the device's clock.
    const ahead = 2 * 24 * 3600_000;
    const body = trackBody(uid('e'), { metadata: { clientTimestamp: iso(now + ahead - 60_000), sentAt: iso(now + ahead) } });
    const res = await api.request('POST', '/api/telemetry/track', { token, body, headers: { 'user-agent': 'PrepMate/1.0 (test)' } });
    expect(res.status).toBe(200);
    expect(res.json.data.flags).toEqual(expect.arrayContaining(['future_timestamp', 'clock_skew']));
    const list = await api.request('GET', '/api/telemetry/events', { token });
    const stored = list.json.data.events[0];
    expect(stored.metadata.ipAddress).toBe('127.0.0.0');
    expect(stored.metadata.userAgent).toBe('PrepMate/1.0 (test)');
    const corrected = Date.parse(stored.metadata.correctedTimestamp);
    const server = Date.parse(stored.metadata.serverTimestamp);
    // receivedAt − (sentAt − clientTimestamp) = serverTimestamp − 60 s.
    expect(server - corrected).toBe(60_000);
    expect(Date.parse(stored.metadata.clientTimestamp)).toBe(now + ahead - 60_000);
  });

  it('when batch events carry metadata fields of their own, then each event keeps them under extra and only those; one without keeps none, with no flags', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const [plain, tagged] = [uid('e'), uid('e')];
    const items = [
      eventItem(plain),
      eventItem(tagged, { metadata: { clientTimestamp: iso(), userAgent: 'vitest', screen: 'topic', appVersion: '1.2.3', sentAt: iso() } }),
    ];
    const res = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items } });
    expect(res.json.data.processed).toBe(2);
    const list = await api.request('GET', '/api/telemetry/events', { token });
    const byId = new Map<string, { metadata: Record<string, unknown> }>(list.json.data.events.map((e: { eventId: string; metadata: Record<string, unknown> }) => [e.eventId, e]));
    expect(byId.get(tagged)!.metadata['extra']).toEqual({ screen: 'topic', appVersion: '1.2.3' });
    expect(byId.get(plain)!.metadata).not.toHaveProperty('extra');
    for (const e of byId.values()) expect(e.metadata['flags']).toEqual([]);
  });

  it('when the event is invalid, then 400 names the failing fields', async () => {
    const token = await api.token(uid('u'));
    const res = await api.request('POST', '/api/telemetry/track', { token, body: { eventType: 'Bad Type!', eventData: [], metadata: {} } });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ success: false, error: { code: 'VALIDATION_FAILED' } });
    const paths = (res.json.error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['eventType', 'eventData', 'metadata.clientTimestamp']));
  });

  it('when a batch mixes events, an assessment, progress and an invalid item, then each gets its own result and the document is updated', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const batchId = uid('batch');
    const assessmentId = uid('a');
    const items = [eventItem(uid('e')), eventItem(uid('e')), assessmentItem(assessmentId), progressItem('arrays'), { itemType: 'assessment', itemData: { assessmentId: 'x', score: 101 } }, { itemType: 'nope' }];
    const res = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId, items } });
    expect(res.status).toBe(200);
    const data = res.json.data;
    expect(data).toMatchObject({ batchId, processed: 4, failed: 2, conflicts: 0, duplicates: 0 });
    expect(data.results.map((r: { status: string }) => r.status)).toEqual(['stored', 'stored', 'merged', 'merged', 'rejected', 'rejected']);
    expect(data.results[4].error.code).toBe('VALIDATION_FAILED');
    expect(data.results[4].error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['itemData.score', 'itemData.topicId']));

    const progress = await api.request('GET', '/api/progress', { token });
    expect(progress.status).toBe(200);
    expect(progress.json.data.userId).toBe(user);
    expect(progress.json.data.assessments[assessmentId]).toMatchObject({ score: 55, topicId: 'arrays' });
    expect(progress.json.data.topics.arrays).toMatchObject({ status: 'in_progress', goal: 'finish', mastery: 0.55 });

    const queue = await opened.store.syncQueue.listForUser(user, 10);
    expect(queue.map((q) => [q.itemKey, q.status]).sort()).toEqual([
      [`assessment:${assessmentId}`, 'synced'],
      [`progress:${batchId}:3`, 'synced'],
    ]);
    const logs = await opened.store.batchLogs.listForUser(user, 10);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ batchId, itemCount: 6, successCount: 4, failureCount: 2, status: 'partial', kind: 'telemetry' });
    expect(logs[0]!.duration).toBeGreaterThanOrEqual(0);

    // Replay: nothing stored twice, every valid item a duplicate.
    const replay = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId, items } });
    expect(replay.json.data).toMatchObject({ processed: 0, failed: 2, duplicates: 4 });
    expect(await opened.store.telemetry.countEvents(user)).toBe(2);
    expect(await opened.store.syncQueue.listForUser(user, 10)).toHaveLength(2);
    expect(await opened.store.batchLogs.listForUser(user, 10)).toHaveLength(2);
  });

  it('when an older progress patch arrives after a newer one, then the newer value is kept and the conflict is reported', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const newer = await api.request('POST', '/api/telemetry/batch', {
      token,
      body: { batchId: uid('b'), items: [progressItem('graphs', { status: 'completed', updatedAt: iso(Date.now()) })] },
    });
    expect(newer.json.data.results[0].status).toBe('merged');
    const older = await api.request('POST', '/api/telemetry/batch', {
      token,
      body: { batchId: uid('b'), items: [progressItem('graphs', { status: 'in_progress', updatedAt: iso(Date.now() - 3600_000) })] },
    });
    expect(older.json.data).toMatchObject({ conflicts: 1, processed: 1 });
    const progress = await api.request('GET', '/api/progress', { token });
    expect(progress.json.data.topics.graphs.status).toBe('completed');
    const queue = await opened.store.syncQueue.listForUser(user, 10);
    expect(queue.filter((q) => q.conflictResolution !== null)).toHaveLength(1);
  });

  it('when the batch envelope is invalid, then 400 names the field', async () => {
    const token = await api.token(uid('u'));
    const tooMany = Array.from({ length: api.config.MAX_BATCH_ITEMS + 1 }, (_, i) => eventItem(`e${i}`));
    for (const body of [{ items: [] }, { batchId: 'b', items: [] }, { batchId: 'b', items: tooMany }, { batchId: 'has space', items: [eventItem('e')] }, [1, 2]]) {
      const res = await api.request('POST', '/api/telemetry/batch', { token, body });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('when the caller asks for status, then it counts events and queue items, and ingestion refreshes the cached answer', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const empty = await api.request('GET', '/api/telemetry/status', { token });
    expect(empty.status).toBe(200);
    expect(empty.json.syncStatus).toEqual({ lastSyncTime: null, pendingItems: 0, totalItems: 0, syncHealth: 'good' });
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e')), assessmentItem(uid('a'))] } });
    const after = await api.request('GET', '/api/telemetry/status', { token });
    expect(after.json.syncStatus).toMatchObject({ pendingItems: 0, totalItems: 2, syncHealth: 'good' });
    expect(Date.parse(after.json.syncStatus.lastSyncTime)).not.toBeNaN();
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e')), { itemType: 'event', itemData: {} }] } });
    const partial = await api.request('GET', '/api/telemetry/status', { token });
    expect(partial.json.syncStatus).toMatchObject({ totalItems: 3, syncHealth: 'degraded' });
  });

  it('when events are listed, then they come newest first in cursor pages, filterable by type and time', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const items = Array.from({ length: 7 }, (_, i) => eventItem(`ev${i}`, { eventType: i % 2 === 0 ? 'even_event' : 'odd_event' }));
    // Distinct milliseconds on both sides of `between`; polling the clock, not sleeping.
    const tick = async (): Promise<void> => {
      const until = Date.now() + 2;
      while (Date.now() < until) await Promise.resolve();
    };
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: items.slice(0, 4) } });
    await tick();
    const between = new Date().toISOString();
    await tick();
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: items.slice(4) } });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<ApiHarness['request']>> = await api.request('GET', `/api/telemetry/events?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
      expect(page.status).toBe(200);
      expect(page.json.data.events.length).toBeLessThanOrEqual(3);
      seen.push(...page.json.data.events.map((e: { eventId: string }) => e.eventId));
      cursor = page.json.data.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(items.map((i) => i.itemData.eventId).sort());

    const even = await api.request('GET', '/api/telemetry/events?eventType=even_event', { token });
    expect(even.json.data.events).toHaveLength(4);
    const recent = await api.request('GET', `/api/telemetry/events?since=${encodeURIComponent(between)}`, { token });
    expect(recent.json.data.events.map((e: { eventId: string }) => e.eventId).sort()).toEqual(['ev4', 'ev5', 'ev6']);

    for (const bad of ['limit=0', 'limit=abc', 'since=yesterday', 'eventType=BAD%20TYPE', 'cursor=not-a-cursor']) {
      const res = await api.request('GET', `/api/telemetry/events?${bad}`, { token });
      expect(res.status, bad).toBe(400);
      expect(res.json.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('when a learner exports and then erases their data, then the export holds everything and the erasure removes it all', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const other = uid('u');
    const otherToken = await api.token(other);
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e')), assessmentItem(uid('a'))] } });
    await api.request('POST', '/api/telemetry/track', { token: otherToken, body: trackBody(uid('e')) });
    // Stored documents of the learner (as the WebSocket side would write them).
    const doc = new Y.Doc();
    doc.getMap('notes').set('k', 'v');
    const update = Y.encodeStateAsUpdate(doc);
    for (const name of [user, `${user}/notes`]) await opened.store.documents.appendUpdates([{ docName: name, update, author: user, createdAt: new Date() }]);
    // A loaded document whose updates never reached the store: erasure must drop it as well.
    docs().doc(`${user}/draft`).getMap('notes').set('unsaved', true);

    const exported = await api.request('GET', '/api/users/me/export', { token });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-disposition')).toContain('attachment');
    const data = exported.json.data;
    expect(data.userId).toBe(user);
    expect(data.events).toHaveLength(1);
    expect(data.syncQueue).toHaveLength(1);
    expect(data.batchLogs).toHaveLength(1);
    expect(Object.keys(data.progress.assessments)).toHaveLength(1);
    expect(data.documents.map((d: { name: string }) => d.name)).toEqual([user, `${user}/notes`]);
    const restored = new Y.Doc();
    Y.applyUpdate(restored, Buffer.from(data.documents[1].state, 'base64'));
    expect(restored.getMap('notes').get('k')).toBe('v');

    const erased = await api.request('DELETE', '/api/users/me', { token });
    expect(erased.status).toBe(200);
    expect(erased.json.data).toEqual({ userId: user, deleted: { events: 1, queueItems: 1, batchLogs: 1, documents: 2 } });
    expect(await opened.store.documents.listUserDocuments(user)).toEqual([]);
    expect(docs().doc(`${user}/draft`).getMap('notes').get('unsaved')).toBeUndefined();
    expect(await opened.store.telemetry.countEvents(user)).toBe(0);
    // A token issued before the erasure is refused from now on (410); the learner signs in again.
    const fresh = await api.token(user);
    const progress = await api.request('GET', '/api/progress', { token: fresh });
    expect(progress.json.data.assessments).toEqual({});
    expect(docs().log.length).toBeGreaterThan(0);
    const status = await api.request('GET', '/api/telemetry/status', { token: fresh });
    expect(status.json.syncStatus).toMatchObject({ totalItems: 0, lastSyncTime: null });
    // Someone else's data is untouched.
    expect(await opened.store.telemetry.countEvents(other)).toBe(1);
    const again = await api.request('DELETE', '/api/users/me', { token: fresh });
    expect(again.json.data.deleted).toEqual({ events: 0, queueItems: 0, batchLogs: 0, documents: 0 });
  });

  it('when a service token names a learner, then it acts for that learner; a learner naming someone else gets 403', async () => {
    const learner = uid('u');
    const other = uid('u');
    const learnerToken = await api.token(learner);
    const service = await api.token('analytics', { role: 'service' });
    const asService = await api.request('POST', `/api/telemetry/track?userId=${other}`, { token: service, body: trackBody(uid('e')) });
    expect(asService.status).toBe(200);
    expect(await opened.store.telemetry.countEvents(other)).toBe(1);
    const inBody = await api.request('POST', '/api/telemetry/track', { token: service, body: { ...trackBody(uid('e')), userId: other } });
    expect(inBody.status).toBe(200);
    expect(await opened.store.telemetry.countEvents(other)).toBe(2);
    const status = await api.request('GET', `/api/telemetry/status?userId=${other}`, { token: service });
    expect(status.json.syncStatus.totalItems).toBe(2);

    const denied = await api.request('GET', `/api/telemetry/events?userId=${other}`, { token: learnerToken });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('FORBIDDEN');
    const self = await api.request('GET', `/api/telemetry/events?userId=${learner}`, { token: learnerToken });
    expect(self.status).toBe(200);

    // Per-item userId: a service may spread a batch over learners; a learner may not.
    const items = [{ ...eventItem(uid('e')), userId: other }, eventItem(uid('e'))];
    const learnerBatch = await api.request('POST', '/api/telemetry/batch', { token: learnerToken, body: { batchId: uid('b'), items } });
    expect(learnerBatch.json.data.results.map((r: { status: string }) => r.status)).toEqual(['rejected', 'stored']);
    expect(learnerBatch.json.data.results[0].error.code).toBe('FORBIDDEN');
    const serviceBatch = await api.request('POST', `/api/telemetry/batch?userId=${learner}`, { token: service, body: { batchId: uid('b'), items } });
    expect(serviceBatch.json.data.results.map((r: { status: string }) => r.status)).toEqual(['stored', 'duplicate']);
    expect(await opened.store.telemetry.countEvents(other)).toBe(3);
    expect(await opened.store.telemetry.countEvents(learner)).toBe(1);
  });

  it('when bodies carry __proto__ or constructor keys, then they are refused and nothing is polluted', async () => {
    const token = await api.token(uid('u'));
    const raw = `{"eventType":"x","eventData":{"a":1,"__proto__":{"polluted":true}},"metadata":{"clientTimestamp":"${iso()}"}}`;
    const track = await api.request('POST', '/api/telemetry/track', { token, body: raw });
    expect(track.status).toBe(400);
    expect(track.json.error.details[0].path).toBe('eventData.__proto__');
    const batchRaw = `{"batchId":"b1","items":[{"itemType":"event","itemData":{"eventId":"p1","eventType":"x","eventData":{"nested":{"constructor":{"prototype":{"polluted":true}}}},"metadata":{"clientTimestamp":"${iso()}","__proto__":{"polluted":true}}}},{"itemType":"assessment","__proto__":{"polluted":true},"itemData":{"assessmentId":"a1","topicId":"t","score":1,"completedAt":"${iso()}"}}]}`;
    const batch = await api.request('POST', '/api/telemetry/batch', { token, body: batchRaw });
    expect(batch.status).toBe(200);
    expect(batch.json.data.results.map((r: { status: string }) => r.status)).toEqual(['rejected', 'rejected']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('when health, metrics and dev-token are called, then they answer as documented', async () => {
    const health = await api.request('GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: 'healthy', services: { database: 'connected', cache: 'in-process' } });
    const dev = await api.request('POST', '/api/auth/dev-token', { body: { userId: 'dev_user' } });
    expect(dev.status).toBe(200);
    const verified = await api.tokens.verify(dev.json.token);
    expect(verified).toEqual({ userId: 'dev_user', role: 'learner', expiresAt: expect.any(Number), issuedAt: expect.any(Number) });
    const service = await api.token('prometheus', { role: 'service' });
    const metrics = await api.request('GET', '/api/metrics', { token: service });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('prepmate_telemetry_items_total');
  });
});
