import { afterEach, beforeEach, expect, it } from 'vitest';
import { createPseudonymiser } from '../../src/audit/pseudonym.js';
import { assessmentItem, eventItem, progressItem, trackBody, uid } from '../api/fixtures.js';
import type { Store } from '../../src/storage/ports.js';
import { asDocName } from '../../src/ids.js';
import { describeEachKind, JWT_SECRET, newKey, openDatabase, openRawStore, start, until, type TestDatabase } from './harness.js';

/**
 * GDPR erasure, verified from the outside: after `DELETE /api/users/me` every table (SQLite) or
 * collection (MongoDB) — listed from the database itself, so a table added later is covered
 * too — is read row by row, binary values included, looking for the learner's id, event ids,
 * batch ids and document names. The only trace left is the pseudonymised audit trail.
 */
describeEachKind('erasure leaves nothing', (kind) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await openDatabase(kind);
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('when a learner with events, documents, queue items, batch logs and audit entries is erased, then no table or collection mentions them except the pseudonymised erasure fact', async () => {
    const client = await start(db, { ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: newKey('k1') });
    const learner = `learner_${uid('x')}`;
    const other = `bystander_${uid('y')}`;
    const eventIds = [uid('evt'), uid('evt'), uid('evt')];
    const batchId = uid('batch');
    const ids = { learner, eventIds, batchId, notes: `${learner}/notes` };

    const token = await client.token(learner);
    const service = await client.token('support', 'service');
    const batch = await client.request('POST', '/api/telemetry/batch', {
      token,
      body: { batchId, items: [eventItem(eventIds[0]!, { eventData: { answers: { text: 'secret' } } }), eventItem(eventIds[1]!), progressItem('arrays', { notes: 'private note' }), assessmentItem(uid('a'))] },
    });
    expect(batch.json.data.processed).toBe(4);
    await client.request('POST', '/api/telemetry/track', { token, body: trackBody(eventIds[2]) });
    // A second document of the learner, written by a service through the store's update log.
    await client.server.store.documents.appendUpdates([{ docName: ids.notes, update: new Uint8Array([0, 0]), author: 'service:support', createdAt: new Date() }]);
    await client.request('GET', '/api/users/me/export', { token });
    // Someone else's data must survive (and proves the scan can see data at all).
    await client.request('POST', '/api/telemetry/batch', { token: await client.token(other), body: { batchId: uid('batch'), items: [eventItem(uid('evt')), progressItem('trees')] } });
    await until(async () => (await client.server.store.audit.list({ userId: learner, action: 'document.update', limit: 10 })).entries.length > 0, 'document audit');

    // A compaction run leaves snapshots, leases and a batch log behind: all must go too.
    await client.server.sync.runSnapshots();
    await client.server.store.documents.appendUpdates([{ docName: learner, update: new Uint8Array([0, 0]), author: learner, createdAt: new Date() }]);
    const before = [...(await db.dump()).values()].flat().join('\n');
    for (const needle of [learner, batchId, ...eventIds, ids.notes]) expect(before, needle).toContain(needle);

    const erased = await client.request('DELETE', `/api/users/me?userId=${learner}`, { token: service });
    expect(erased.status).toBe(200);

    const dump = await db.dump();
    const leftovers: string[] = [];
    for (const [table, rows] of dump) {
      for (const row of rows) {
        for (const needle of [learner, batchId, ...eventIds]) if (row.includes(needle)) leftovers.push(`${table}: ${needle} in ${row.slice(0, 300)}`);
      }
    }
    expect(leftovers).toEqual([]);
    const all = [...dump.values()].flat().join('\n');
    expect(all).toContain(other);
    expect(all).not.toContain('private note');

    const pseudonym = createPseudonymiser(JWT_SECRET)(learner);
    const facts = (await client.server.store.audit.list({ userId: pseudonym, limit: 100 })).entries;
    const erasure = facts.find((e) => e.action === 'user.erase');
    expect(erasure).toMatchObject({ actor: 'service:support', actorRole: 'service', subjectUserId: pseudonym, from: null });
    expect(erasure?.details).toMatchObject({ events: 3, documents: 2 });
    await client.stop();

    // Stopping (flush + snapshot of dirty documents) writes nothing back about the learner.
    const afterStop = [...(await db.dump()).values()].flat().join('\n');
    expect(afterStop).not.toContain(learner);
  });

  it('when a learner with stored and loaded documents is erased, then each stored document is deleted exactly once', async () => {
    const raw = await openRawStore(db);
    const deletes: string[] = [];
    // The real store, with a counter on the one call that removes a document's stored state.
    const store: Store = { ...raw, documents: { ...raw.documents, deleteDocument: (docName) => (deletes.push(docName), raw.documents.deleteDocument(docName)) } };
    const client = await start(db, {}, { store });
    try {
      const learner = `learner_${uid('x')}`;
      const token = await client.token(learner);
      const names = [learner, `${learner}/notes`, `${learner}/plan`];
      for (const docName of names) await store.documents.appendUpdates([{ docName, update: new Uint8Array([0, 0]), author: learner, createdAt: new Date() }]);
      // Loaded as well as stored: the erasure must not delete it once per path that knows it.
      await client.server.sync.documents.read(asDocName(learner), () => undefined);

      const erased = await client.request('DELETE', '/api/users/me', { token });
      expect(erased.status).toBe(200);
      expect(erased.json.data.deleted.documents).toBe(3);
      expect(await raw.documents.listUserDocuments(learner)).toEqual([]);
      expect(deletes.filter((n) => names.includes(n)).sort()).toEqual([...names].sort());
    } finally {
      await client.stop();
      await raw.close();
    }
  });
});
