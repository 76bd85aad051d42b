import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { backupStore, restoreStore, RestoreRefusedError } from '../../src/backup/backup.js';
import { BackupFormatError } from '../../src/backup/format.js';
import { asUserId } from '../../src/ids.js';
import { RECORD_COLLECTIONS } from '../../src/storage/ports.js';
import { assessmentItem, eventItem, progressItem, uid } from '../api/fixtures.js';
import { serverRoot } from '../helpers/process.js';
import { tempSqliteDir } from '../helpers/stores.js';
import { describeEachKind, newKey, openDatabase, openRawStore, start, until, type Client, type TestDatabase } from './harness.js';

async function* linesOf(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}

/** What a learner can see of their data, for comparing before and after. */
async function view(client: Client, userId: string): Promise<{ progress: unknown; events: unknown }> {
  const token = await client.token(userId);
  const progress = (await client.request('GET', '/api/progress', { token })).json.data;
  const events = (await client.request('GET', '/api/telemetry/events?limit=1000', { token })).json.data.events;
  return { progress, events };
}

/**
 * The learner's view once the insights refresh that a batch with scored events starts in the
 * background has written them (`samples` scored events counted) and the update log holds them, so
 * that what a backup then reads is what the view shows.
 */
async function settledView(client: Client, userId: string, samples: number): Promise<{ progress: unknown; events: unknown }> {
  // Polled on the server's own document, not through the API (its rate limit).
  await until(async () => {
    const { insights } = (await client.server.learnerDocuments.read(asUserId(userId))) as { insights?: { events?: { samples?: number } } };
    return insights?.events?.samples === samples;
  }, `the insights of ${samples} scored events`);
  await until(() => client.server.sync.status().logBacklog === 0, 'the update log written');
  return view(client, userId);
}

describeEachKind('backup and restore', (kind) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await openDatabase(kind);
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('when a store with snapshots, logs, events, queue items, batch logs and audit entries is backed up, wiped and restored, then every document and event is as before', async () => {
    const env = { ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: newKey('k1') };
    const learners = [uid('ada'), uid('bob')];
    let first = await start(db, env);
    for (const userId of learners) {
      const token = await first.token(userId);
      await first.request('POST', '/api/telemetry/batch', {
        token,
        body: { batchId: uid('b'), items: [eventItem(uid('e'), { eventData: { answers: { text: `secret of ${userId}` } } }), progressItem('arrays'), assessmentItem(uid('a'), { score: 70 })] },
      });
    }
    // Stopping snapshots the dirty documents; the next server adds log entries on top.
    await first.stop();
    first = await start(db, env);
    for (const userId of learners) {
      const token = await first.token(userId);
      await first.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [eventItem(uid('e')), progressItem('graphs', { status: 'completed' })] } });
    }
    await until(async () => (await first.server.store.documents.listUpdates(learners[0]!, 10)).length > 0, 'log entries after the snapshot');
    const before = await Promise.all(learners.map((u) => settledView(first, u, 1)));

    const lines: string[] = [];
    const counts = await backupStore(first.server.store, async (line) => void lines.push(line));
    expect(counts.snapshots).toBeGreaterThanOrEqual(2);
    expect(counts.updates).toBeGreaterThan(0);
    expect(counts.events).toBe(4);
    expect(counts.queue).toBeGreaterThan(0);
    expect(counts.batchLogs).toBeGreaterThan(0);
    expect(counts.audit).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain('secret of');
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'header', format: 'prepmate-backup', version: 1 });
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ type: 'end', counts });
    await first.stop();

    await db.wipe();
    const empty = await openRawStore(db);
    try {
      expect(await restoreStore(empty, linesOf(lines))).toEqual(counts);
      // A second restore into the now non-empty store is refused unless forced.
      await expect(restoreStore(empty, linesOf(lines))).rejects.toBeInstanceOf(RestoreRefusedError);
      expect((await empty.records.scan('events', null, 100)).records).toHaveLength(4);
      await restoreStore(empty, linesOf(lines), { force: true });
      expect((await empty.records.scan('events', null, 100)).records).toHaveLength(4);
    } finally {
      await empty.close();
    }

    const restored = await start(db, env);
    try {
      const after = await Promise.all(learners.map((u) => view(restored, u)));
      expect(after).toEqual(before);
      expect(JSON.stringify(after)).toContain(`secret of ${learners[0]}`);
      for (const c of RECORD_COLLECTIONS) expect((await restored.server.store.records.scan(c, null, 1)).records.length, c).toBeGreaterThan(0);
    } finally {
      await restored.stop();
    }
  });

  it('when the file is truncated, not a backup, or counts disagree, then restore refuses with the reason', async () => {
    const store = await openRawStore(db);
    try {
      const header = JSON.stringify({ type: 'header', format: 'prepmate-backup', version: 1, store: 'sqlite', createdAt: new Date().toISOString() });
      await expect(restoreStore(store, linesOf([header]))).rejects.toThrow(/truncated/);
      await expect(restoreStore(store, linesOf(['{"hello":1}']), { force: true })).rejects.toBeInstanceOf(BackupFormatError);
      await expect(restoreStore(store, linesOf([header.replace('"version":1', '"version":9')]), { force: true })).rejects.toThrow(/version 9/);
      await expect(restoreStore(store, linesOf([header, '{"type":"end","counts":{"events":3}}']), { force: true })).rejects.toThrow(/counts 3 events/);
    } finally {
      await store.close();
    }
  });
});

describeEachKind('npm run backup / restore', (kind) => {
  it('when the commands run against the configured store, then backup writes JSON lines, restore refuses a non-empty store and fills an empty one', async () => {
    const db = await openDatabase(kind);
    const files = await tempSqliteDir();
    try {
      const client = await start(db);
      const userId = uid('cli');
      await client.request('POST', '/api/telemetry/batch', { token: await client.token(userId), body: { batchId: uid('b'), items: [eventItem(uid('e')), progressItem('arrays')] } });
      const before = await settledView(client, userId, 1);
      await client.stop();

      const root = join(serverRoot, '..', '..');
      const run = (...args: string[]) => spawnSync(process.execPath, [join(root, 'scripts', 'ops.mjs'), ...args], { cwd: files.dir, env: { PATH: process.env['PATH'] ?? '', ...db.env }, encoding: 'utf8', timeout: 60_000 });
      const out = join(files.dir, 'backup.jsonl');
      const backup = run('backup', '--out', out);
      expect(backup.status, backup.stderr).toBe(0);
      expect(JSON.parse(backup.stdout)).toMatchObject({ backup: out, counts: { events: 1 } });
      expect(readFileSync(out, 'utf8').split('\n')[0]).toContain('"prepmate-backup"');

      const refused = run('restore', '--in', out);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('not empty');

      await db.wipe();
      const restore = run('restore', '--in', out);
      expect(restore.status, restore.stderr).toBe(0);
      const again = await start(db);
      expect(await view(again, userId)).toEqual(before);
      await again.stop();
    } finally {
      await files.remove();
      await db.dispose();
    }
  });
});
