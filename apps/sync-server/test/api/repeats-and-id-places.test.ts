import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createWorkerValidator, type ItemValidator } from '../../src/telemetry/item-validator.js';
import { describeEachStore, openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { assessmentItem, iso, trackBody, uid } from './fixtures.js';

/** An event item with its id where `/track` takes it: `itemData.metadata.eventId`. */
function metadataIdItem(eventId: string, topLevel?: string) {
  return {
    itemType: 'event' as const,
    itemData: {
      ...(topLevel !== undefined ? { eventId: topLevel } : {}),
      eventType: 'interview_completed',
      eventData: { interviewId: '12345', score: 85 },
      metadata: { clientTimestamp: iso(), eventId },
    },
  };
}

describeEachStore('repeats and event id places', (kind) => {
  let opened: OpenedStore;
  let api: ApiHarness;
  let workers: ItemValidator;
  let workerApi: ApiHarness;
  // Each request sees a later server clock, so a second receipt time would differ from the first.
  let clock = Date.parse('2026-01-20T10:30:00.000Z');
  const now = (): Date => new Date((clock += 1000));

  beforeAll(async () => {
    opened = await openStore(kind);
    api = await startApi({ store: opened.store, now });
    workers = createWorkerValidator({ logger: pino({ level: 'silent' }), threads: 1, minItems: 1 });
    workerApi = await startApi({ store: opened.store, validator: workers });
  });
  afterAll(async () => {
    await workerApi?.close();
    await workers?.close();
    await api?.close();
    await opened?.dispose();
  });

  const storedIds = async (token: string): Promise<string[]> =>
    (await api.request('GET', '/api/telemetry/events', { token })).json.data.events.map((e: { eventId: string }) => e.eventId);

  it('when a batch event has its id only in metadata (inline or in a worker), then it is stored under that id and a replay is a duplicate', async () => {
    for (const target of [api, workerApi]) {
      const token = await target.token(uid('u'));
      const eventId = uid('e');
      const first = await target.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [metadataIdItem(eventId)] } });
      expect(first.status).toBe(200);
      expect(first.json.data.results).toEqual([{ index: 0, status: 'stored' }]);
      const replay = await target.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [metadataIdItem(eventId)] } });
      expect(replay.json.data.results).toEqual([{ index: 0, status: 'duplicate' }]);
      expect(await storedIds(token)).toEqual([eventId]);
    }
  });

  it('when a batch event gives its id in both places, then equal ids are accepted and different ones rejected with a clear error', async () => {
    const token = await api.token(uid('u'));
    const same = uid('e');
    const res = await api.request('POST', '/api/telemetry/batch', {
      token,
      body: { batchId: uid('b'), items: [metadataIdItem(same, same), metadataIdItem(uid('e'), uid('other'))] },
    });
    expect(res.status).toBe(200);
    expect(res.json.data.results[0]).toEqual({ index: 0, status: 'stored' });
    expect(res.json.data.results[1]).toMatchObject({
      index: 1,
      status: 'rejected',
      error: { code: 'VALIDATION_FAILED', details: [{ path: 'itemData.metadata.eventId', message: expect.stringMatching(/differs from itemData\.eventId/) }] },
    });
    expect(res.json.data).toMatchObject({ processed: 1, failed: 1 });
    expect(await storedIds(token)).toEqual([same]);
  });

  it('when /track is repeated with the same eventId, then the answer carries the stored serverTimestamp', async () => {
    const token = await api.token(uid('u'));
    const eventId = uid('e');
    const first = await api.request('POST', '/api/telemetry/track', { token, body: trackBody(eventId) });
    const again = await api.request('POST', '/api/telemetry/track', { token, body: trackBody(eventId) });
    expect(first.json.data.duplicate).toBe(false);
    expect(again.json.data).toEqual({ ...first.json.data, duplicate: true });
    const [stored] = (await api.request('GET', '/api/telemetry/events', { token })).json.data.events;
    expect(stored.metadata.serverTimestamp).toBe(first.json.data.serverTimestamp);
  });

  it('when an assessment is re-sent with other values, then it is a first-write-wins conflict; the same values are a plain replay', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const id = uid('a');
    const send = (items: unknown[]) => api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items } });
    const completedAt = iso();
    const original = assessmentItem(id, { score: 55, completedAt });
    const first = await send([original]);
    expect(first.json.data).toMatchObject({ processed: 1, conflicts: 0 });
    const replay = await send([original]);
    expect(replay.json.data).toMatchObject({ duplicates: 1, conflicts: 0, results: [{ index: 0, status: 'duplicate' }] });

    const changed = await send([assessmentItem(id, { score: 90, completedAt })]);
    expect(changed.json.data).toMatchObject({ processed: 0, duplicates: 1, conflicts: 1, results: [{ index: 0, status: 'duplicate' }] });
    const other = uid('a');
    const inOneBatch = await send([assessmentItem(other, { score: 40, completedAt }), assessmentItem(other, { score: 41, completedAt })]);
    expect(inOneBatch.json.data).toMatchObject({ processed: 1, duplicates: 1, conflicts: 1 });

    const progress = await api.request('GET', '/api/progress', { token });
    expect(progress.json.data.assessments[id].score).toBe(55);
    expect(progress.json.data.assessments[other].score).toBe(40);
    const logs = await opened.store.batchLogs.listForUser(user, 10);
    expect(logs.map((l) => l.conflictCount).sort()).toEqual([0, 0, 1, 1]);
  });
});
