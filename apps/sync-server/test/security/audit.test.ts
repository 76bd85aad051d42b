import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPseudonymiser } from '../../src/audit/pseudonym.js';
import { runAuditRetention } from '../../src/audit/retention.js';
import { createLogger } from '../../src/logger.js';
import { assessmentItem, eventItem, progressItem, trackBody, uid } from '../api/fixtures.js';
import { createStore } from '../../src/storage/index.js';
import { connectClient } from '../helpers/sync.js';
import { describeEachKind, JWT_SECRET, openDatabase, start, testConfig, until, type Client, type TestDatabase } from './harness.js';

interface Entry {
  id: string;
  at: string;
  actor: string;
  actorRole: string;
  action: string;
  subjectUserId: string | null;
  target: string | null;
  from: string | null;
  details: Record<string, unknown> | null;
}

describeEachKind('audit trail', (kind) => {
  let db: TestDatabase;
  let client: Client;
  let service: string;

  beforeAll(async () => {
    db = await openDatabase(kind);
    client = await start(db);
    service = await client.token('backoffice', 'service');
  });
  afterAll(async () => {
    await client?.stop();
    await db?.dispose();
  });

  const audit = async (query: string): Promise<Entry[]> => {
    const res = await client.request('GET', `/api/audit?${query}`, { token: service });
    expect(res.status).toBe(200);
    return res.json.data.entries as Entry[];
  };

  it('when a learner ingests events and progress, a service writes for them, and they export, then each modification has an entry with who, what, when and from where', async () => {
    const userId = uid('aud');
    const token = await client.token(userId);
    const batchId = uid('b');
    const started = new Date();
    const batch = await client.request('POST', '/api/telemetry/batch', { token, body: { batchId, items: [eventItem(uid('e')), eventItem(uid('e')), progressItem('arrays'), assessmentItem(uid('a'))] } });
    expect(batch.json.data.processed).toBe(4);
    expect((await client.request('POST', '/api/telemetry/track', { token: service, body: { ...trackBody(uid('t')), userId } })).status).toBe(200);
    // A replay stores nothing, so it is no modification and has no entry.
    await client.request('POST', '/api/telemetry/batch', { token, body: { batchId, items: [] } });
    expect((await client.request('GET', '/api/users/me/export', { token })).status).toBe(200);

    // Buffered entries are written once per window, so the three kinds may land in different
    // windows: wait for all of them before asserting on any.
    const entries = await until(async () => {
      const list = await audit(`userId=${userId}`);
      const has = (action: string, n = 1) => list.filter((e) => e.action === action).length >= n;
      return has('document.update') && has('event.ingest', 2) && has('user.export') ? list : null;
    }, 'document.update, two event.ingest and user.export entries');
    const ingest = entries.filter((e) => e.action === 'event.ingest');
    expect(ingest).toHaveLength(2);
    expect(ingest[0]).toMatchObject({ actor: userId, actorRole: 'learner', subjectUserId: userId, target: batchId, from: '127.0.0.0', details: { inserted: 2 } });
    expect(ingest[1]).toMatchObject({ actor: 'service:backoffice', actorRole: 'service', subjectUserId: userId });
    expect(entries.find((e) => e.action === 'document.update')).toMatchObject({ actor: userId, subjectUserId: userId, target: userId });
    expect((entries.find((e) => e.action === 'document.update')?.details?.['updates'] as number) > 0).toBe(true);
    expect(entries.find((e) => e.action === 'user.export')).toMatchObject({ actor: userId, subjectUserId: userId, from: '127.0.0.0', details: { events: 3 } });
    for (const e of entries) expect(new Date(e.at).getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000);
    // Oldest first.
    expect(entries.map((e) => e.at)).toEqual([...entries.map((e) => e.at)].sort());

    // The document's own history (each durable update with author and time) until compaction.
    const history = await client.request('GET', `/api/audit/history?docName=${userId}`, { token: service });
    expect(history.json.data.updates.length).toBeGreaterThan(0);
    expect(history.json.data.updates[0]).toMatchObject({ author: userId });
  });

  it('when a batch repeats stored events beside new ones, then its event.ingest entry counts only the new ones', async () => {
    const userId = uid('aud');
    const token = await client.token(userId);
    const [first, second, third] = [uid('e'), uid('e'), uid('e')];
    const firstBatch = uid('b');
    const secondBatch = uid('b');
    expect((await client.request('POST', '/api/telemetry/batch', { token, body: { batchId: firstBatch, items: [eventItem(first), eventItem(second)] } })).json.data.processed).toBe(2);
    const mixed = await client.request('POST', '/api/telemetry/batch', { token, body: { batchId: secondBatch, items: [eventItem(first), eventItem(third), eventItem(second)] } });
    expect(mixed.json.data).toMatchObject({ processed: 1, duplicates: 2 });
    const entries = await until(async () => {
      const list = (await audit(`userId=${userId}`)).filter((e) => e.action === 'event.ingest');
      return list.length >= 2 ? list : null;
    }, 'two event.ingest entries');
    expect(entries).toHaveLength(2);
    expect(entries.find((e) => e.target === firstBatch)?.details).toMatchObject({ inserted: 2, duplicates: 0 });
    expect(entries.find((e) => e.target === secondBatch)?.details).toMatchObject({ inserted: 1, duplicates: 2 });
  });

  it('when a learner edits their document over WebSocket, then document.update entries name them and the history lists each durable update', async () => {
    const userId = uid('ws');
    const peer = connectClient(`${client.server.url.replace('http', 'ws')}/sync`, `${userId}/notes`, await client.token(userId));
    try {
      await peer.whenSynced();
      for (let i = 0; i < 5; i++) peer.map.set(`k${i}`, i);
      const entries = await until(async () => {
        const list = await audit(`userId=${userId}&action=document.update`);
        const total = list.reduce((n, e) => n + Number(e.details?.['updates'] ?? 0), 0);
        return total >= 1 ? list : null;
      }, 'document.update over WebSocket');
      expect(entries[0]).toMatchObject({ actor: userId, actorRole: 'learner', subjectUserId: userId, target: `${userId}/notes` });
      const history = await client.request('GET', `/api/audit/history?docName=${encodeURIComponent(`${userId}/notes`)}`, { token: service });
      expect(history.json.data.updates.every((u: { author: string }) => u.author === userId)).toBe(true);
    } finally {
      peer.destroy();
    }
  });

  it('when a learner is erased, then their entries are pseudonymised and the erasure is recorded under the pseudonym', async () => {
    const userId = uid('gone');
    const token = await client.token(userId);
    await client.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e')), progressItem('graphs')] } });
    await until(async () => (await audit(`userId=${userId}&action=document.update`)).length > 0, 'document.update entry');
    expect((await client.request('DELETE', '/api/users/me', { token })).status).toBe(200);

    expect(await audit(`userId=${userId}`)).toEqual([]);
    const pseudonym = createPseudonymiser(JWT_SECRET)(userId);
    const kept = await audit(`userId=${pseudonym}`);
    expect(kept.map((e) => e.action)).toEqual(expect.arrayContaining(['event.ingest', 'document.update', 'user.erase']));
    for (const e of kept) expect(e).toMatchObject({ target: null, from: null });
    expect(kept.at(-1)).toMatchObject({ action: 'user.erase', actor: pseudonym, actorRole: 'learner', subjectUserId: pseudonym, details: { events: 1 } });
    expect(JSON.stringify(kept)).not.toContain(userId);
  });

  it('when a learner or no token asks for the audit trail, then 403 or 401; a bad query is 400; pages follow the cursor', async () => {
    const learner = await client.token(uid('nosy'));
    expect((await client.request('GET', '/api/audit', { token: learner })).status).toBe(403);
    expect((await client.request('GET', '/api/audit')).status).toBe(401);
    expect((await client.request('GET', '/api/audit/history?docName=x', { token: learner })).status).toBe(403);
    expect((await client.request('GET', '/api/audit?since=yesterday', { token: service })).status).toBe(400);
    expect((await client.request('GET', '/api/audit?limit=0', { token: service })).status).toBe(400);

    const all = await audit('limit=1000');
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/api/audit?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: { entries: Entry[]; nextCursor: string | null } = (await client.request('GET', path, { token: service })).json.data;
      paged.push(...page.entries.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all.map((e) => e.id));
    const since = all.at(-1)!.at;
    expect((await audit(`since=${encodeURIComponent(since)}`)).every((e) => e.at >= since)).toBe(true);
  });

  it('when the retention job runs, then entries older than AUDIT_RETENTION_DAYS are deleted, once across instances', async () => {
    const store = client.server.store;
    await store.audit.append([{ at: new Date('2020-01-01T00:00:00Z'), actor: 'service:old', actorRole: 'system', action: 'keys.rotate', subjectUserId: null, target: null, from: null, details: null }]);
    const logger = createLogger('silent');
    expect(await store.leases.tryAcquire('job:audit-retention', 'other-instance', 60_000)).toBe(true);
    expect(await client.server.jobs.runNow('audit-retention')).toBe(false);
    expect((await store.audit.list({ action: 'keys.rotate', limit: 10 })).entries.filter((e) => e.actor === 'service:old')).toHaveLength(1);
    await store.leases.release('job:audit-retention', 'other-instance');
    expect(await client.server.jobs.runNow('audit-retention')).toBe(true);
    expect((await store.audit.list({ action: 'keys.rotate', limit: 10 })).entries.filter((e) => e.actor === 'service:old')).toEqual([]);
    expect(await runAuditRetention({ store, days: 0, logger })).toBe(0);
  });
});

describeEachKind('audit trail when the audit write fails', (kind) => {
  it('when audit entries cannot be written, then ingestion still succeeds and the failure is counted; export answers 503 so the client repeats it', async () => {
    const db = await openDatabase(kind);
    const base = await createStore(testConfig(db));
    const broken = { failing: true };
    const store = {
      ...base,
      ping: () => base.ping(),
      close: () => base.close(),
      audit: {
        ...base.audit,
        append: async (entries: Parameters<typeof base.audit.append>[0]) => {
          if (broken.failing) throw new Error('injected audit outage');
          return base.audit.append(entries);
        },
      },
    };
    const client = await start(db, {}, { store });
    try {
      const token = await client.token(uid('u'));
      const batch = await client.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e'))] } });
      expect(batch.status).toBe(200);
      const metricsToken = await client.token('prometheus', 'service');
      await until(async () => /prepmate_audit_write_failures_total\{action="event.ingest"[^}]*\} 1/.test(String((await client.request('GET', '/api/metrics', { token: metricsToken })).json)), 'failure counted');
      const exported = await client.request('GET', '/api/users/me/export', { token });
      expect(exported.status).toBe(503);
      expect(exported.headers.get('retry-after')).not.toBeNull();
      expect(exported.json).toMatchObject({ success: false, error: { code: 'STORE_UNAVAILABLE' } });
      broken.failing = false;
      expect((await client.request('GET', '/api/users/me/export', { token })).status).toBe(200);
    } finally {
      await client.stop();
      await base.close();
      await db.dispose();
    }
  });
});
