import { afterEach, beforeEach, expect, it } from 'vitest';
import { rotateKeys } from '../../../src/backup/rotate.js';
import { loadConfig } from '../../../src/config.js';
import { fieldCipherOf } from '../../../src/security/index.js';
import { trackBody, uid } from '../../api/fixtures.js';
import { describeEachKind, newKey, openDatabase, openRawStore, start, type Client, type TestDatabase } from '../harness.js';

/** What the attacker sends: a value shaped exactly like the server's ciphertext envelope, and the escape's own spellings. */
const lookalikeData = {
  a: { __enc: 'v1', kid: 'attacker', iv: 'AAAAAAAAAAAAAAAA', tag: 'AAAAAAAAAAAAAAAAAAAAAA==', ct: 'AAAA' },
  deeper: [{ ___enc: 'three underscores', ____enc: { __enc: 'v1', kid: 'x', iv: 'y', tag: 'z', ct: 'w' } }],
  score: 42,
};

async function eventDataOf(client: Client, token: string, eventId: string): Promise<unknown> {
  const res = await client.request('GET', '/api/telemetry/events', { token });
  expect(res.status).toBe(200);
  return (res.json.data.events as { eventId: string; eventData: unknown }[]).find((e) => e.eventId === eventId)?.eventData;
}

/** A learner's data shaped like ciphertext is the learner's data: it cannot stop a restart, enabling encryption, or a key rotation. */
describeEachKind('hostile learner: learner data shaped like a ciphertext envelope', (kind) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await openDatabase(kind);
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('when an event holds an envelope lookalike on a server without encryption, then the next start succeeds and the learner reads back exactly what was sent', async () => {
    const first = await start(db);
    const userId = uid('mallory');
    const eventId = uid('evt');
    const tracked = await first.request('POST', '/api/telemetry/track', { token: await first.token(userId), body: trackBody(eventId, { eventData: lookalikeData }) });
    expect(tracked.status).toBe(200);
    await first.stop();

    const second = await start(db);
    try {
      const token = await second.token(userId);
      expect(await eventDataOf(second, token, eventId)).toEqual(lookalikeData);
      const exported = await second.request('GET', '/api/users/me/export', { token });
      expect(exported.json.data.events.find((e: { eventId: string }) => e.eventId === eventId).eventData).toEqual(lookalikeData);
    } finally {
      await second.stop();
    }
  });

  it('when encryption is enabled later and keys are rotated, then both succeed and the lookalike still reads back as sent', async () => {
    const first = await start(db);
    const userId = uid('mallory');
    const eventId = uid('evt');
    expect((await first.request('POST', '/api/telemetry/track', { token: await first.token(userId), body: trackBody(eventId, { eventData: lookalikeData }) })).status).toBe(200);
    await first.stop();

    const k1 = newKey('k1');
    const k2 = newKey('k2');
    // Enabling encryption: the start-up check passes, rotate-keys encrypts the configured path.
    const encrypted = await start(db, { ENCRYPTED_FIELDS: 'a', FIELD_ENCRYPTION_KEY: k1 });
    await encrypted.stop();
    const store = await openRawStore(db);
    try {
      const withK1 = loadConfig({ DATA_DIR: '/unused', ENCRYPTED_FIELDS: 'a', FIELD_ENCRYPTION_KEY: k1 });
      expect(await rotateKeys(store, fieldCipherOf(withK1)!.cipher)).toMatchObject({ scanned: 1, reencrypted: 1, kid: 'k1' });
      const withK2 = loadConfig({ DATA_DIR: '/unused', ENCRYPTED_FIELDS: 'a', FIELD_ENCRYPTION_KEY: `${k2},${k1}` });
      expect(await rotateKeys(store, fieldCipherOf(withK2)!.cipher)).toMatchObject({ scanned: 1, reencrypted: 1, kid: 'k2' });
      expect((await rotateKeys(store, fieldCipherOf(withK2)!.cipher)).reencrypted).toBe(0);
    } finally {
      await store.close();
    }
    const rows = [...(await db.dump()).values()].flat().join('\n');
    expect(rows).not.toContain('attacker');

    const rotated = await start(db, { ENCRYPTED_FIELDS: 'a', FIELD_ENCRYPTION_KEY: k2 });
    try {
      expect(await eventDataOf(rotated, await rotated.token(userId), eventId)).toEqual(lookalikeData);
    } finally {
      await rotated.stop();
    }
  });
});
