import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpTransport, importSigningKey, signBatchBody, type WireItem } from '../src/outbox/transport.js';
import { signBatch } from '../../../apps/sync-server/src/security/batch-signature.js';
import { startTestServer, type TestServer } from './server-helper.js';

const SECRET = 'a-signing-secret-of-the-mobile-app';

const event = (id: string): WireItem => ({
  itemType: 'event',
  itemData: { eventId: id, eventType: 'interview_completed', eventData: { score: 80 }, metadata: { clientTimestamp: new Date().toISOString() } },
});

describe('signed batches against the real server (BATCH_SIGNING_KEYS)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ BATCH_SIGNING_KEYS: `mobile:${SECRET}`, BATCH_SIGNING_REQUIRED: 'true' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const transportFor = (userId: string, signing?: { clientId: string; secret: string }) =>
    createHttpTransport({
      apiBaseUrl: server.url,
      getToken: () => server.token(userId),
      batchId: () => `batch_${Math.random().toString(36).slice(2)}`,
      nowIso: () => new Date().toISOString(),
      ...(signing ? { signing: { ...signing, userId } } : {}),
    });

  it('when the SDK signs with the configured key, then the batch is stored', async () => {
    const outcome = await transportFor('signer', { clientId: 'mobile', secret: SECRET }).send([event('evt_signed_1'), event('evt_signed_2')]);
    expect(outcome).toEqual({ kind: 'results', results: [expect.objectContaining({ status: 'stored' }), expect.objectContaining({ status: 'stored' })] });
    expect((await server.listEventIds('signer')).sort()).toEqual(['evt_signed_1', 'evt_signed_2']);
  });

  it('when the SDK signs with a wrong secret or does not sign, then nothing is stored and it will retry', async () => {
    const wrong = await transportFor('forger', { clientId: 'mobile', secret: 'not-the-secret-of-the-mobile-app' }).send([event('evt_forged')]);
    expect(wrong).toMatchObject({ kind: 'retry', status: 401 });
    const unsigned = await transportFor('forger').send([event('evt_unsigned')]);
    expect(unsigned).toMatchObject({ kind: 'retry', status: 401 });
    expect(await server.listEventIds('forger')).toEqual([]);
  });

  it('when a signing client unloads, then it makes no unsigned keepalive send', async () => {
    const transport = transportFor('unloader', { clientId: 'mobile', secret: SECRET });
    await transport.send([event('evt_warm')]); // caches the token
    expect(transport.sendNow?.([event('evt_unload')])).toBeNull();
  });

  it('when signed with WebCrypto, then the signature equals signBatch of the server for the same body, time and learner', async () => {
    const body = JSON.stringify({ batchId: 'b', items: [] });
    const expected = signBatch(body, 1_700_000_000, 'alice', SECRET);
    const key = await importSigningKey(SECRET);
    expect(await signBatchBody(body, 1_700_000_000, 'alice', key)).toBe(expected);
    expect(await signBatchBody(body, 1_700_000_000, 'bob', key)).not.toBe(expected);
  });

  it('when a signed batch is replayed under another learner\'s token, then it is refused and nothing is stored for that learner', async () => {
    const replayed: { headers: Record<string, string>; body: string }[] = [];
    const capture = createHttpTransport({
      apiBaseUrl: server.url,
      getToken: () => server.token('victim-signer'),
      batchId: () => 'batch_replayed',
      nowIso: () => new Date().toISOString(),
      compress: false,
      signing: { clientId: 'mobile', secret: SECRET, userId: 'victim-signer' },
      fetch: async (input, init) => {
        replayed.push({ headers: { ...(init?.headers as Record<string, string>) }, body: String(init?.body) });
        return globalThis.fetch(input, init);
      },
    });
    expect(await capture.send([event('evt_replay_1')])).toMatchObject({ kind: 'results' });
    const { headers, body } = replayed[0]!;
    const res = await fetch(`${server.url}/api/telemetry/batch`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${await server.token('replayer')}` }, body });
    expect(res.status).toBe(401);
    expect(await server.listEventIds('replayer')).toEqual([]);
  });
});
