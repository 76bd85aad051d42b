import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, startApi, type ApiHarness, type OpenedStore } from '../../helpers/api.js';
import { eventItem, trackBody, uid } from '../../api/fixtures.js';

/** Every route that takes a `userId`: query and, for writes, the body. */
const routes: { method: string; path: string; body?: () => Record<string, unknown> }[] = [
  { method: 'POST', path: '/api/telemetry/track', body: () => trackBody(uid('e')) },
  { method: 'POST', path: '/api/telemetry/batch', body: () => ({ batchId: uid('b'), items: [eventItem(uid('e'))] }) },
  { method: 'GET', path: '/api/telemetry/status' },
  { method: 'GET', path: '/api/telemetry/events' },
  { method: 'GET', path: '/api/progress' },
  { method: 'GET', path: '/api/users/me/export' },
  { method: 'DELETE', path: '/api/users/me' },
];

/** Who a request acts for is never ambiguous: no empty "myself", no query and body that disagree. */
describe('hostile learner: an empty or conflicting userId', () => {
  let opened: OpenedStore;
  let api: ApiHarness;
  beforeAll(async () => {
    opened = await openStore('sqlite');
    api = await startApi({ store: opened.store });
  });
  afterAll(async () => {
    await api?.close();
    await opened?.dispose();
  });

  it('when ?userId= is empty, then every route answers 400 for learners and services alike', async () => {
    const learner = await api.token(uid('u'));
    const service = await api.token('backoffice', { role: 'service' });
    for (const route of routes) {
      for (const token of [learner, service]) {
        const res = await api.request(route.method, `${route.path}?userId=`, { token, ...(route.body ? { body: route.body() } : {}) });
        expect(res.status, `${route.method} ${route.path}`).toBe(400);
        expect(res.json).toMatchObject({ success: false, error: { code: 'VALIDATION_FAILED' } });
      }
    }
  });

  it('when a service sends ?userId= and a body naming alice, then nothing is stored under the service or alice', async () => {
    const service = await api.token('backoffice', { role: 'service' });
    const alice = uid('alice');
    const eventId = uid('e');
    const res = await api.request('POST', '/api/telemetry/track?userId=', { token: service, body: { ...trackBody(eventId), userId: alice } });
    expect(res.status).toBe(400);
    for (const who of [alice, 'backoffice']) {
      const events = await api.request('GET', `/api/telemetry/events?userId=${who}`, { token: service });
      expect(events.status).toBe(200);
      expect(JSON.stringify(events.json)).not.toContain(eventId);
    }
  });

  it('when the query and the body name different learners, then it is 400; when they agree, the event is stored under that learner', async () => {
    const service = await api.token('backoffice', { role: 'service' });
    const alice = uid('alice');
    const bob = uid('bob');
    const conflicting = await api.request('POST', `/api/telemetry/track?userId=${alice}`, { token: service, body: { ...trackBody(uid('e')), userId: bob } });
    expect(conflicting.status).toBe(400);
    const batch = await api.request('POST', `/api/telemetry/batch?userId=${alice}`, { token: service, body: { batchId: uid('b'), userId: bob, items: [eventItem(uid('e'))] } });
    expect(batch.status).toBe(400);

    const eventId = uid('e');
    const agreeing = await api.request('POST', `/api/telemetry/track?userId=${alice}`, { token: service, body: { ...trackBody(eventId), userId: alice } });
    expect(agreeing.status).toBe(200);
    const events = await api.request('GET', `/api/telemetry/events?userId=${alice}`, { token: service });
    expect(JSON.stringify(events.json)).toContain(eventId);
  });

  it('when userId is repeated in the query, then it is 400', async () => {
    const service = await api.token('backoffice', { role: 'service' });
    const res = await api.request('GET', '/api/progress?userId=alice&userId=bob', { token: service });
    expect(res.status).toBe(400);
  });

  it('when a batch item names an empty userId, then that item is rejected, not stored as the caller', async () => {
    const service = await api.token('backoffice', { role: 'service' });
    const eventId = uid('e');
    const res = await api.request('POST', '/api/telemetry/batch', { token: service, body: { batchId: uid('b'), items: [{ ...eventItem(eventId), userId: '' }] } });
    const results = (res.json as { data?: { results?: { status: string }[] } }).data?.results ?? [];
    expect(res.status === 400 || results[0]?.status === 'rejected', JSON.stringify(res.json)).toBe(true);
    const events = await api.request('GET', '/api/telemetry/events', { token: service });
    expect(JSON.stringify(events.json)).not.toContain(eventId);
  });
});
