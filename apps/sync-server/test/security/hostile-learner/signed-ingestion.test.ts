import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBatch } from '../../../src/security/index.js';
import { eventItem, trackBody, uid } from '../../api/fixtures.js';
import { openDatabase, start, type Client, type TestDatabase } from '../harness.js';

const SECRET = 'hostile-signing-secret-0123456789';
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** With BATCH_SIGNING_REQUIRED, no ingestion route takes unsigned events, and a signature is good for one learner only. */
describe('hostile learner: signed ingestion cannot be bypassed or replayed', () => {
  let db: TestDatabase;
  let client: Client;
  beforeAll(async () => {
    db = await openDatabase('sqlite');
    client = await start(db, { BATCH_SIGNING_KEYS: `mobile:${SECRET}`, BATCH_SIGNING_REQUIRED: 'true' });
  });
  afterAll(async () => {
    await client?.stop();
    await db?.dispose();
  });

  const eventIdsOf = async (userId: string): Promise<string[]> => {
    const res = await client.request('GET', '/api/telemetry/events', { token: await client.token(userId) });
    return (res.json.data.events as { eventId: string }[]).map((e) => e.eventId);
  };
  const signed = (raw: string, userId: string, ts = nowSeconds()): Record<string, string> => ({
    'x-client-id': 'mobile',
    'x-batch-timestamp': String(ts),
    'x-batch-signature': signBatch(raw, ts, userId, SECRET),
  });

  it('when an unsigned event is posted to /track, then it is 401 and nothing is stored; signed, it is stored', async () => {
    const mallory = uid('mallory');
    const token = await client.token(mallory);
    const unsigned = await client.request('POST', '/api/telemetry/track', { token, body: trackBody(uid('evt')) });
    expect(unsigned.status).toBe(401);
    expect(unsigned.json).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
    expect(await eventIdsOf(mallory)).toEqual([]);

    const eventId = uid('evt');
    const raw = JSON.stringify(trackBody(eventId));
    expect((await client.request('POST', '/api/telemetry/track', { token, raw, headers: signed(raw, mallory) })).status).toBe(200);
    expect(await eventIdsOf(mallory)).toEqual([eventId]);
  });

  it("when a signed batch is replayed within the window under another learner's token, then it is 401 and nothing is stored for that learner", async () => {
    const alice = uid('alice');
    const mallory = uid('mallory');
    const eventId = uid('evt');
    const raw = JSON.stringify({ batchId: uid('b'), items: [eventItem(eventId)] });
    const headers = signed(raw, alice);
    expect((await client.request('POST', '/api/telemetry/batch', { token: await client.token(alice), raw, headers })).status).toBe(200);

    const replay = await client.request('POST', '/api/telemetry/batch', { token: await client.token(mallory), raw, headers });
    expect(replay.status).toBe(401);
    expect(await eventIdsOf(mallory)).toEqual([]);
    // The same for /track.
    const trackRaw = JSON.stringify(trackBody(uid('evt')));
    expect((await client.request('POST', '/api/telemetry/track', { token: await client.token(mallory), raw: trackRaw, headers: signed(trackRaw, alice) })).status).toBe(401);
    expect(await eventIdsOf(mallory)).toEqual([]);
  });

  it('when a service token signs for a learner named in the query, then the signature must name that learner', async () => {
    const service = await client.token('ingest-service', 'service');
    const bob = uid('bob');
    const carol = uid('carol');
    const raw = JSON.stringify(trackBody(uid('evt')));
    expect((await client.request('POST', `/api/telemetry/track?userId=${carol}`, { token: service, raw, headers: signed(raw, bob) })).status).toBe(401);
    expect((await client.request('POST', `/api/telemetry/track?userId=${bob}`, { token: service, raw, headers: signed(raw, bob) })).status).toBe(200);
    expect(await eventIdsOf(carol)).toEqual([]);
    expect(await eventIdsOf(bob)).toHaveLength(1);
  });
});
