import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { signBatch } from '../../src/security/index.js';
import { eventItem, uid } from '../api/fixtures.js';
import { openDatabase, start, type Client, type TestDatabase } from './harness.js';

const SECRET = 'client-a-secret-0123456789abcdef';
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('signed telemetry batches', () => {
  let db: TestDatabase;
  let client: Client;
  let token: string;
  const signer = uid('signer');

  beforeAll(async () => {
    db = await openDatabase('sqlite');
    client = await start(db, { BATCH_SIGNING_KEYS: `client-a:${SECRET},client-b:another-secret-of-16+` });
    token = await client.token(signer);
  });
  afterAll(async () => {
    await client?.stop();
    await db?.dispose();
  });

  const body = (): string => JSON.stringify({ batchId: uid('b'), items: [eventItem(uid('e'))] });
  const send = (raw: string, headers: Record<string, string>, gzip = false) => client.request('POST', '/api/telemetry/batch', { token, raw, headers, gzip });

  it('when signBatch signs, then it is HMAC-SHA256 of "<timestamp>.<userId>.<body>" in hex with the sha256= prefix', () => {
    const expected = createHmac('sha256', SECRET).update('1700000000.alice.{"a":1}').digest('hex');
    expect(signBatch('{"a":1}', 1700000000, 'alice', SECRET)).toBe(`sha256=${expected}`);
    expect(signBatch(Buffer.from('{"a":1}'), 1700000000, 'alice', SECRET)).toBe(`sha256=${expected}`);
  });

  it('when a client with a key sends no signature, a bad one, a stale or future timestamp, or another client\'s signature, then each is 401 in the API error shape', async () => {
    const raw = body();
    const ts = nowSeconds();
    const cases: [string, Record<string, string>][] = [
      ['no signature', { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts) }],
      ['no timestamp', { 'x-client-id': 'client-a', 'x-batch-signature': signBatch(raw, ts, signer, SECRET) }],
      ['bad signature', { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts), 'x-batch-signature': signBatch(raw, ts, signer, 'wrong-secret-0123456789') }],
      ['malformed signature', { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts), 'x-batch-signature': 'sha256=xyz' }],
      ['stale timestamp', { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts - 400), 'x-batch-signature': signBatch(raw, ts - 400, signer, SECRET) }],
      ['future timestamp', { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts + 400), 'x-batch-signature': signBatch(raw, ts + 400, signer, SECRET) }],
      ['body signed with another timestamp', { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts), 'x-batch-signature': signBatch(raw, ts - 1, signer, SECRET) }],
      ["client b's key for client a", { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts), 'x-batch-signature': signBatch(raw, ts, signer, 'another-secret-of-16+') }],
    ];
    for (const [name, headers] of cases) {
      const res = await send(raw, headers);
      expect(res.status, name).toBe(401);
      expect(res.json, name).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
    }
    // A signature of a different body (one byte changed) does not carry over.
    const tampered = raw.replace('"batchId":"', '"batchId":"x');
    expect((await send(tampered, { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts), 'x-batch-signature': signBatch(raw, ts, signer, SECRET) })).status).toBe(401);
  });

  it('when the signature is good (plain or gzip-encoded body, timestamp within 5 minutes), then the batch is stored', async () => {
    for (const [skew, gzip] of [[0, false], [-290, false], [290, true]] as const) {
      const raw = body();
      const ts = nowSeconds() + skew;
      const res = await send(raw, { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts), 'x-batch-signature': signBatch(raw, ts, signer, SECRET) }, gzip);
      expect(res.status, `skew ${skew} gzip ${gzip}`).toBe(200);
      expect(res.json.data.processed).toBe(1);
    }
  });

  it('when a batch names no client or a client without a key, then it is accepted unsigned (signing is optional per client)', async () => {
    expect((await send(body(), {})).status).toBe(200);
    expect((await send(body(), { 'x-client-id': 'legacy-app' })).status).toBe(200);
  });

  it('when batches are refused, then the rejections are counted by reason in the metrics', async () => {
    const metrics = await client.request('GET', '/api/metrics', { token: await client.token('prometheus', 'service') });
    expect(String(metrics.json)).toMatch(/prepmate_batch_signature_rejections_total\{reason="mismatch"[^}]*\} [1-9]/);
  });
});

describe('signed batches required', () => {
  it('when BATCH_SIGNING_REQUIRED=true, then an unsigned batch or an unknown client is 401 and a signed one passes', async () => {
    const db = await openDatabase('sqlite');
    const client = await start(db, { BATCH_SIGNING_KEYS: `client-a:${SECRET}`, BATCH_SIGNING_REQUIRED: 'true' });
    try {
      const learner = uid('u');
      const token = await client.token(learner);
      const raw = JSON.stringify({ batchId: uid('b'), items: [eventItem(uid('e'))] });
      const ts = nowSeconds();
      expect((await client.request('POST', '/api/telemetry/batch', { token, raw })).status).toBe(401);
      expect((await client.request('POST', '/api/telemetry/batch', { token, raw, headers: { 'x-client-id': 'stranger', 'x-batch-timestamp': String(ts), 'x-batch-signature': signBatch(raw, ts, learner, SECRET) } })).status).toBe(401);
      expect((await client.request('POST', '/api/telemetry/batch', { token, raw, headers: { 'x-client-id': 'client-a', 'x-batch-timestamp': String(ts), 'x-batch-signature': signBatch(raw, ts, learner, SECRET) } })).status).toBe(200);
      // /track is ingestion too: unsigned it is refused like a batch.
      expect((await client.request('POST', '/api/telemetry/track', { token, body: { eventType: 'x', eventData: {}, metadata: { clientTimestamp: new Date().toISOString() } } })).status).toBe(401);
    } finally {
      await client.stop();
      await db.dispose();
    }
  });

  it('when BATCH_SIGNING_REQUIRED=true without keys or a key is too short, then the configuration is refused', () => {
    expect(() => loadConfig({ BATCH_SIGNING_REQUIRED: 'true' })).toThrow(/BATCH_SIGNING_KEYS: required/);
    expect(() => loadConfig({ BATCH_SIGNING_KEYS: 'app:short' })).toThrow(/at least 16 characters/);
  });
});
