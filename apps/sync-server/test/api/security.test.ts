import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.js';
import { describeEachStore, faultyStore, openStore, startApi, type ApiHarness, type FaultyStore, type OpenedStore } from '../helpers/api.js';
import { assessmentItem, eventItem, iso, progressItem, trackBody, uid } from './fixtures.js';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Every authenticated route with a body that would succeed for the right caller. */
function authenticatedRoutes(): { method: string; path: string; body?: () => unknown }[] {
  return [
    { method: 'POST', path: '/api/telemetry/track', body: () => trackBody(uid('e')) },
    { method: 'POST', path: '/api/telemetry/batch', body: () => ({ batchId: uid('b'), items: [eventItem(uid('e'))] }) },
    { method: 'GET', path: '/api/telemetry/status' },
    { method: 'GET', path: '/api/telemetry/events' },
    { method: 'GET', path: '/api/progress' },
    { method: 'GET', path: '/api/users/me/export' },
    { method: 'DELETE', path: '/api/users/me' },
  ];
}

describeEachStore('REST API security', (kind) => {
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

  it('when tokens are missing, expired, forged, alg:none, for another learner or a service, then each route answers 401, 403 or 200', async () => {
    const learner = uid('u');
    const other = uid('u');
    const valid = await api.token(learner);
    const expired = await api.token(learner, { expiresInSeconds: -60 });
    const forged = await createTokenService('another-secret-that-is-long-enough-0000').sign(learner);
    const algNone = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: learner, exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    // Same payload, signature of a different algorithm family: must not be accepted either.
    const hs512 = await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject(learner).setExpirationTime('10m').sign(new TextEncoder().encode(api.config.JWT_SECRET));
    const service = await api.token('backoffice', { role: 'service' });

    for (const route of authenticatedRoutes()) {
      const call = (token: string | null, query = '', headers: Record<string, string> = {}) =>
        api.request(route.method, route.path + query, { token, headers, ...(route.body ? { body: route.body() } : {}) });
      const label = `${route.method} ${route.path}`;
      for (const [name, token] of [['none', null], ['expired', expired], ['forged', forged], ['alg none', algNone], ['HS512', hs512]] as const) {
        const res = await call(token);
        expect(res.status, `${label} with ${name}`).toBe(401);
        expect(res.json).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
      }
      const basic = await call(null, '', { authorization: 'Basic Zm9vOmJhcg==' });
      expect(basic.status, `${label} with Basic auth`).toBe(401);
      const foreign = await call(valid, `?userId=${other}`);
      expect(foreign.status, `${label} for another learner`).toBe(403);
      expect(foreign.json.error.code).toBe('FORBIDDEN');
      const own = await call(valid);
      expect(own.status, `${label} as the learner`).toBe(200);
      const asService = await call(service, `?userId=${other}`);
      expect(asService.status, `${label} as a service for another learner`).toBe(200);
    }
    const expiredMessage = await api.request('GET', '/api/progress', { token: expired });
    expect(expiredMessage.json.error.message).toMatch(/expired/);
    const metrics = await api.request('GET', '/api/metrics', { token: valid });
    expect(metrics.status).toBe(403);
  });

  it('when 200 malformed bodies (seeded) are posted, then no answer is a 5xx and every error has the API error shape', async () => {
    const token = await api.token(uid('u'));
    const seed = 20261128;
    const validBatch = { batchId: 'fuzz', items: [eventItem('f1'), assessmentItem('fa1'), progressItem('ft1')] };
    const validTrack = trackBody('ft');
    /** Replaces one value somewhere in `base` (by a path of random choices) with `value`. */
    const mutate = (base: unknown, choices: number[], value: unknown): unknown => {
      const copy = JSON.parse(JSON.stringify(base)) as unknown;
      let node = copy as Record<string, unknown>;
      for (const choice of choices) {
        const keys = Object.keys(node);
        if (keys.length === 0) break;
        const key = keys[choice % keys.length]!;
        const child = node[key];
        if (child === null || typeof child !== 'object' || choice % 3 === 0) {
          node[key] = value;
          return copy;
        }
        node = child as Record<string, unknown>;
      }
      node['__extra'] = value;
      return copy;
    };
    const hostile = fc.constantFrom<unknown>(
      null, -1, 1e308, '', '💥'.repeat(50), [], {}, true, 'a'.repeat(10_000),
      { __proto__: { polluted: true } }, { constructor: { prototype: { polluted: true } } },
      '2024-13-45T99:99:99Z', Number.MAX_SAFE_INTEGER,
    );
    const value = fc.oneof(fc.jsonValue({ maxDepth: 4 }), hostile);
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
      fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), value).map(([path, v]) => JSON.stringify(mutate(validBatch, path, v))),
      fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), value).map(([path, v]) => JSON.stringify(mutate(validTrack, path, v))),
      fc.string({ maxLength: 200 }),
      fc.nat({ max: 400 }).map((n) => JSON.stringify(validBatch).slice(0, n)),
      fc.nat({ max: 120 }).map((depth) => '['.repeat(depth * 10) + ']'.repeat(depth * 10)),
    );
    const cases = fc.sample(fc.tuple(fc.boolean(), body), { seed, numRuns: 200 });
    const statuses = new Map<number, number>();
    for (const [toBatch, text] of cases) {
      const path = toBatch ? '/api/telemetry/batch' : '/api/telemetry/track';
      const res = await api.request('POST', path, { token, body: text });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `seed ${seed}: ${path} ${text.slice(0, 200)}`).toBeLessThan(500);
      if (res.status >= 400) {
        expect(res.json).toMatchObject({ success: false, error: { code: expect.any(String), message: expect.any(String), details: expect.any(Array) } });
      } else {
        expect(res.json.success).toBe(true);
      }
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // The generator must reach past the parser into validation, not only produce JSON errors.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(5);
  });

  it('when bodies are gzip-encoded, then they are accepted; a zip bomb beyond MAX_BODY_BYTES is 413', async () => {
    const token = await api.token(uid('u'));
    const ok = await api.request('POST', '/api/telemetry/batch', { token, gzip: true, body: { batchId: uid('b'), items: [eventItem(uid('e'))] } });
    expect(ok.status).toBe(200);
    expect(ok.json.data.processed).toBe(1);

    // 64 MiB of JSON that gzips to well under 100 KiB.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"batchId":"b","pad":"'), Buffer.alloc(64 * 1024 * 1024, 0x30), Buffer.from('"}')]));
    expect(bomb.byteLength).toBeLessThan(api.config.MAX_BODY_BYTES);
    const res = await api.request('POST', '/api/telemetry/batch', { token, body: bomb, headers: { 'content-encoding': 'gzip' } });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('PAYLOAD_TOO_LARGE');

    const plainTooLarge = await api.request('POST', '/api/telemetry/batch', { token, body: `{"batchId":"b","pad":"${'x'.repeat(api.config.MAX_BODY_BYTES)}"}` });
    expect(plainTooLarge.status).toBe(413);
    const notGzip = await api.request('POST', '/api/telemetry/batch', { token, body: '{"batchId":"b"}', headers: { 'content-encoding': 'gzip' } });
    expect(notGzip.status).toBe(400);
    const unknownEncoding = await api.request('POST', '/api/telemetry/batch', { token, body: '{}', headers: { 'content-encoding': 'compress' } });
    expect(unknownEncoding.status).toBe(415);
    const notJson = await api.request('POST', '/api/telemetry/track', { token, body: 'eventType=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(notJson.status).toBe(415);
    expect(notJson.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('when a route does not exist, then 404 in the API error shape', async () => {
    const res = await api.request('GET', '/api/nope');
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
  });
});

describe('rate limit', () => {
  it('when one learner floods, then they get 429 with Retry-After and another learner is unaffected', async () => {
    const opened = await openStore('sqlite');
    const api = await startApi({ store: opened.store, env: { RATE_LIMIT_PER_MINUTE: '5' } });
    try {
      const flooder = await api.token(uid('u'));
      const calm = await api.token(uid('u'));
      const answers = await Promise.all(Array.from({ length: 12 }, () => api.request('GET', '/api/telemetry/status', { token: flooder })));
      expect(answers.filter((r) => r.status === 200)).toHaveLength(5);
      const limited = answers.filter((r) => r.status === 429);
      expect(limited).toHaveLength(7);
      expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited[0]!.json.error.code).toBe('RATE_LIMITED');
      const other = await api.request('GET', '/api/telemetry/status', { token: calm });
      expect(other.status).toBe(200);
      expect(other.headers.get('ratelimit-remaining')).toBe('4');
    } finally {
      await api.close();
      await opened.dispose();
    }
  });
});

describeEachStore('store outage', (kind) => {
  let opened: OpenedStore;
  let faulty: FaultyStore;
  let api: ApiHarness;

  beforeAll(async () => {
    opened = await openStore(kind);
    faulty = faultyStore(opened.store);
    api = await startApi({ store: faulty, env: { RETRY_DELAY_MS: '3000' } });
  });
  afterAll(async () => {
    await api?.close();
    await opened?.dispose();
  });

  it('when the store is unreachable, then ingestion and reads answer 503 with Retry-After and health is unhealthy', async () => {
    const token = await api.token(uid('u'));
    faulty.failing = true;
    try {
      for (const [method, path, body] of [
        ['POST', '/api/telemetry/batch', { batchId: uid('b'), items: [eventItem(uid('e'))] }],
        ['POST', '/api/telemetry/track', trackBody(uid('e'))],
        ['GET', '/api/telemetry/events', undefined],
      ] as const) {
        const res = await api.request(method, path, { token, ...(body ? { body } : {}) });
        expect(res.status, path).toBe(503);
        expect(res.headers.get('retry-after')).toBe('3');
        expect(res.json.error.code).toBe('STORE_UNAVAILABLE');
      }
      const health = await api.request('GET', '/api/health');
      expect(health.status).toBe(503);
      expect(health.json).toMatchObject({ status: 'unhealthy', services: { database: 'disconnected' } });
    } finally {
      faulty.failing = false;
    }
    const healthy = await api.request('GET', '/api/health');
    expect(healthy.status).toBe(200);
  });

  it('when the store fails at every point of a batch, then every item answered stored, merged or duplicate is in the store', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const acknowledgedEvents = new Set<string>();
    const acknowledgedAssessments = new Set<string>();
    let outages = 0;
    // Fail after k successful store calls, for each k along a batch's sequence of calls; the
    // client retries each batch (as the SDK does) until it is answered 200.
    for (let k = 0; k < 8; k++) {
      const batchId = uid('b');
      const items = [eventItem(uid('e')), eventItem(uid('e')), assessmentItem(uid('a')), progressItem(uid('t'))];
      faulty.failAfter(k);
      const first = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId, items } });
      faulty.failing = false;
      if (first.status === 503) outages += 1;
      else expect(first.status).toBe(200);
      const answers = first.status === 200 ? [first] : [first, await api.request('POST', '/api/telemetry/batch', { token, body: { batchId, items } })];
      const final = answers.at(-1)!;
      expect(final.status).toBe(200);
      for (const answer of answers.filter((a) => a.status === 200)) {
        (answer.json.data.results as { index: number; status: string }[]).forEach((r) => {
          expect(r.status).not.toBe('rejected');
          const item = items[r.index]!;
          if (item.itemType === 'event') acknowledgedEvents.add(item.itemData.eventId as string);
          if (item.itemType === 'assessment') acknowledgedAssessments.add(item.itemData.assessmentId as string);
        });
      }
    }
    expect(outages).toBeGreaterThan(3);
    const stored = await opened.store.telemetry.listEvents(user, { limit: 1000 });
    const storedIds = new Set(stored.events.map((e) => e.metadata.eventId));
    for (const id of acknowledgedEvents) expect(storedIds.has(id), id).toBe(true);
    expect(stored.events).toHaveLength(acknowledgedEvents.size);
    const queue = await opened.store.syncQueue.listForUser(user, 1000);
    for (const id of acknowledgedAssessments) expect(queue.some((q) => q.itemKey === `assessment:${id}`), id).toBe(true);
  });
});

describe('token edge cases', () => {
  it('when a token subject is not a valid userId, then 401', async () => {
    const opened = await openStore('sqlite');
    const api = await startApi({ store: opened.store });
    try {
      const bad = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('not valid!').setExpirationTime('10m').sign(new TextEncoder().encode(api.config.JWT_SECRET));
      const res = await api.request('GET', '/api/progress', { token: bad });
      expect(res.status).toBe(401);
      const clock = await api.request('POST', '/api/telemetry/track', { token: await api.token('u1'), body: trackBody(uid('e'), { metadata: { clientTimestamp: iso() } }) });
      expect(clock.status).toBe(200);
    } finally {
      await api.close();
      await opened.dispose();
    }
  });
});
