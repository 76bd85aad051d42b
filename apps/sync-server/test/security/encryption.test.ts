import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rotateKeys } from '../../src/backup/rotate.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createFieldCipher, fieldCipherOf, FieldDecryptionError, parseFieldKeys } from '../../src/security/index.js';
import { spawnMain } from '../helpers/process.js';
import { eventItem, iso, trackBody, uid } from '../api/fixtures.js';
import { describeEachKind, newKey, openDatabase, openRawStore, start, type TestDatabase } from './harness.js';

const SECRET_TEXT = 'my answer mentions my employer Initech';

describeEachKind('field encryption at rest', (kind) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await openDatabase(kind);
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('when ENCRYPTED_FIELDS names a path, then the database holds only ciphertext there and the owner reads plaintext through the API and the export', async () => {
    const k1 = newKey('k1');
    const client = await start(db, { ENCRYPTED_FIELDS: 'answers.text,notes', FIELD_ENCRYPTION_KEY: k1 });
    const userId = uid('enc');
    const token = await client.token(userId);
    const eventId = uid('e');
    const eventData = { answers: [{ text: SECRET_TEXT, q: 1 }, { text: 'second', q: 2 }], notes: { private: true }, score: 80 };
    const batch = await client.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(eventId, { eventData })] } });
    expect(batch.status).toBe(200);
    expect(batch.json.data.processed).toBe(1);
    const tracked = await client.request('POST', '/api/telemetry/track', { token, body: trackBody(uid('t'), { eventData: { answers: { text: SECRET_TEXT } } }) });
    expect(tracked.status).toBe(200);

    const events = await client.request('GET', '/api/telemetry/events', { token });
    expect(events.json.data.events.find((e: { eventId: string }) => e.eventId === eventId).eventData).toEqual(eventData);
    const exported = await client.request('GET', '/api/users/me/export', { token });
    expect(JSON.stringify(exported.json.data.events)).toContain(SECRET_TEXT);
    await client.stop();

    // SQLite keeps eventData as JSON text, so its quotes appear escaped in the dump.
    const rows = [...(await db.dump()).values()].flat().join('\n').replaceAll('\\"', '"');
    expect(rows).not.toContain('Initech');
    expect(rows).not.toContain('"private"');
    expect(rows).toContain('"__enc":"v1"');
    expect(rows).toContain('"kid":"k1"');
    // Fields not listed stay queryable in the clear.
    expect(rows).toContain('"score":80');
  });

  it('when the fields insights read are encrypted, then the plan from scored events is computed from their plaintext', async () => {
    const client = await start(db, { ENCRYPTED_FIELDS: 'score,weakAreas,topicId', FIELD_ENCRYPTION_KEY: newKey('k1') });
    const token = await client.token(uid('enc'));
    for (const [i, score] of [80, 60, 45].entries()) {
      const body = trackBody(uid('t'), { eventType: 'quiz_completed', eventData: { topicId: 'recursion', score, weakAreas: ['base cases'], notes: SECRET_TEXT }, metadata: { clientTimestamp: iso(Date.now() - (3 - i) * 86_400_000), eventId: uid('e') } });
      expect((await client.request('POST', '/api/telemetry/track', { token, body })).status).toBe(200);
    }
    const plan = (await client.request('GET', '/api/plan', { token })).json.data;
    expect(plan.basis).toBe('events');
    expect(plan.cards.map((c: { label: string }) => c.label)).toEqual(expect.arrayContaining(['recursion', 'base cases']));
    expect(plan.cards.find((c: { label: string }) => c.label === 'recursion').lastScore).toBe(45);
    await client.stop();
  });

  it('when an event with encrypted fields is tracked again, then the repeat answers with what was stored', async () => {
    const client = await start(db, { ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: newKey('k1') });
    const token = await client.token(uid('enc'));
    const body = trackBody(uid('t'), { eventData: { answers: { text: SECRET_TEXT } } });
    const first = await client.request('POST', '/api/telemetry/track', { token, body });
    const again = await client.request('POST', '/api/telemetry/track', { token, body });
    expect(again.status).toBe(200);
    expect(again.json.data).toEqual({ ...first.json.data, duplicate: true });
    await client.stop();
  });

  it('when the key is rotated and rotate-keys runs, then every stored value names the new key and a server with only the new key reads them', async () => {
    const k1 = newKey('k1');
    const k2 = newKey('k2');
    const first = await start(db, { ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: k1 });
    const userId = uid('rot');
    const token = await first.token(userId);
    const items = Array.from({ length: 5 }, (_, i) => eventItem(uid('e'), { eventData: { answers: { text: `${SECRET_TEXT} ${i}` } } }));
    expect((await first.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items } })).status).toBe(200);
    await first.stop();

    const store = await openRawStore(db);
    try {
      const config = loadConfig({ DATA_DIR: '/unused', ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: `${k2},${k1}` });
      const report = await rotateKeys(store, fieldCipherOf(config)!.cipher);
      expect(report).toEqual({ scanned: 5, reencrypted: 5, kid: 'k2' });
      // Repeating is a no-op: everything is under k2 already.
      expect((await rotateKeys(store, fieldCipherOf(config)!.cipher)).reencrypted).toBe(0);
      expect((await store.audit.list({ action: 'keys.rotate', limit: 10 })).entries).toHaveLength(2);
    } finally {
      await store.close();
    }
    const rows = [...(await db.dump()).values()].flat().join('\n').replaceAll('\\"', '"');
    expect(rows).toContain('"kid":"k2"');
    expect(rows).not.toContain('"kid":"k1"');
    expect(rows).not.toContain('Initech');

    const second = await start(db, { ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: k2 });
    const events = await second.request('GET', '/api/telemetry/events', { token: await second.token(userId) });
    expect(events.json.data.events.map((e: { eventData: { answers: { text: string } } }) => e.eventData.answers.text).sort()).toEqual(items.map((_, i) => `${SECRET_TEXT} ${i}`).sort());
    await second.stop();
  });

  it('when the stored ciphertext names a key the configuration lacks, or there is no key at all, then the server refuses to start', async () => {
    const k1 = newKey('k1');
    const first = await start(db, { ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: k1 });
    const token = await first.token(uid('u'));
    await first.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e'), { eventData: { answers: { text: SECRET_TEXT } } })] } });
    await first.stop();

    await expect(start(db, { ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: newKey('other') })).rejects.toThrow(/key id\(s\) k1/);
    await expect(start(db, {})).rejects.toBeInstanceOf(ConfigError);
    // The same key under its id still works.
    const again = await start(db, { FIELD_ENCRYPTION_KEY: k1 });
    await again.stop();
    // As a process (`npm start`): exit code 1 and the message, not a stack trace only.
    const child = spawnMain({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', JWT_SECRET: 'x'.repeat(40), ...db.env, FIELD_ENCRYPTION_KEY: newKey('k9') });
    expect(await child.exited).toBe(1);
    expect(child.output()).toMatch(/FIELD_ENCRYPTION_KEY: stored events are encrypted with key id\(s\) k1/);
  });
});

describe('field encryption configuration', () => {
  it('when ENCRYPTED_FIELDS is set without a key, or a key is malformed, then loadConfig refuses with a message naming the variable and not the secret', () => {
    expect(() => loadConfig({ ENCRYPTED_FIELDS: 'answers.text' })).toThrow(/FIELD_ENCRYPTION_KEY: required when ENCRYPTED_FIELDS is set/);
    expect(() => loadConfig({ FIELD_ENCRYPTION_KEY: 'k1:c2hvcnQ=' })).toThrow(/FIELD_ENCRYPTION_KEY: key 1 \(k1\): must decode to 32 bytes/);
    expect(() => loadConfig({ FIELD_ENCRYPTION_KEY: 'no-colon' })).toThrow(/FIELD_ENCRYPTION_KEY/);
    const k = newKey('a');
    expect(() => loadConfig({ FIELD_ENCRYPTION_KEY: `${k},${k}` })).toThrow(/appears twice/);
    expect(() => loadConfig({ ENCRYPTED_FIELDS: 'answers..text', FIELD_ENCRYPTION_KEY: k })).toThrow(/ENCRYPTED_FIELDS/);
    try {
      loadConfig({ FIELD_ENCRYPTION_KEY: 'k1:c2hvcnQ=' });
    } catch (error) {
      expect(String(error)).not.toContain('c2hvcnQ=');
    }
  });

  it('when npm start runs with ENCRYPTED_FIELDS and no key, then the process exits 1 with the message', async () => {
    const child = spawnMain({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: '/tmp/prepmate-never-created', ENCRYPTED_FIELDS: 'answers.text' });
    expect(await child.exited).toBe(1);
    expect(child.output()).toContain('FIELD_ENCRYPTION_KEY: required when ENCRYPTED_FIELDS is set');
  });

  it('when a ciphertext is moved to another learner, another event or another path, or altered, then it does not decrypt', () => {
    const cipher = createFieldCipher(parseFieldKeys(newKey('k')), ['a.b', 'c']);
    const ctx = { userId: 'ada', eventId: 'e1' };
    const sealed = cipher.encrypt({ a: { b: 'secret' }, c: 1 }, ctx);
    expect(cipher.decrypt(sealed, ctx)).toEqual({ a: { b: 'secret' }, c: 1 });
    expect(() => cipher.decrypt(sealed, { userId: 'bob', eventId: 'e1' })).toThrow(FieldDecryptionError);
    expect(() => cipher.decrypt(sealed, { userId: 'ada', eventId: 'e2' })).toThrow(FieldDecryptionError);
    expect(() => cipher.decrypt({ c: (sealed['a'] as Record<string, unknown>)['b'] }, ctx)).toThrow(FieldDecryptionError);
    const altered = { ...(sealed['a'] as { b: { ct: string } }).b, ct: Buffer.from('tampered').toString('base64') };
    expect(() => cipher.decrypt({ a: { b: altered } }, ctx)).toThrow(FieldDecryptionError);
  });

  it('when a client sends a value shaped like an envelope, then it is sealed too and reads back as sent', () => {
    const cipher = createFieldCipher(parseFieldKeys(newKey('k')), ['x']);
    const ctx = { userId: 'ada', eventId: 'e1' };
    const lookalike = { __enc: 'v1', kid: 'k', iv: 'AAAA', tag: 'AAAA', ct: 'AAAA' };
    const data = { other: lookalike, list: [1, 'two'], at: iso(0) };
    expect(cipher.decrypt(cipher.encrypt(data, ctx), ctx)).toEqual(data);
  });
});
