import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { NoBackupError, backupToRepository, restoreFromRepository } from '../../src/backup/repository.js';
import { openMongoBackupRepository, type BackupRepository } from '../../src/storage/index.js';
import { assessmentItem, eventItem, progressItem, uid } from '../api/fixtures.js';
import { serverRoot } from '../helpers/process.js';
import { describeWithService, mongoUriForTests } from '../helpers/stores.js';
import { newKey, openDatabase, openRawStore, start, type Client, type TestDatabase } from './harness.js';

/** What a learner can see of their data, for comparing before and after. */
async function view(client: Client, userId: string): Promise<{ progress: unknown; events: unknown }> {
  const token = await client.token(userId);
  const progress = (await client.request('GET', '/api/progress', { token })).json.data;
  const events = (await client.request('GET', '/api/telemetry/events?limit=1000', { token })).json.data.events;
  return { progress, events };
}

async function dropDatabase(uri: string): Promise<void> {
  const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 2000 }).asPromise();
  try {
    await conn.dropDatabase();
  } finally {
    await conn.close();
  }
}

describeWithService('backup into MONGODB_BACKUP_URI (a second database on the same FerretDB)', { env: 'MONGODB_URI', value: mongoUriForTests(), hint: 'Start FerretDB with `node scripts/test-services.mjs up` and export MONGODB_URI.' }, () => {
  let db: TestDatabase;
  let backupUri = '';
  let otherUri = '';
  beforeEach(async () => {
    db = await openDatabase('mongodb');
    backupUri = mongoUriForTests() ?? '';
    otherUri = mongoUriForTests() ?? '';
  });
  afterEach(async () => {
    await db.dispose();
    await dropDatabase(backupUri);
    await dropDatabase(otherUri);
  });

  it('when the scheduled job backs the store up, then the store restores from it after a loss, encrypted fields still encrypted, every learner as before', async () => {
    const env = { MONGODB_BACKUP_URI: backupUri, ENCRYPTED_FIELDS: 'answers.text', FIELD_ENCRYPTION_KEY: newKey('k1') };
    const learners = [uid('ada'), uid('bob')];
    const first = await start(db, env, { runJobs: false });
    for (const userId of learners) {
      const token = await first.token(userId);
      await first.request('POST', '/api/telemetry/batch', {
        token,
        body: { batchId: uid('b'), items: [eventItem(uid('e'), { eventData: { answers: { text: `secret of ${userId}` } } }), progressItem('arrays'), assessmentItem(uid('a'), { score: 70 })] },
      });
    }
    const before = await Promise.all(learners.map((u) => view(first, u)));
    const health = await first.request('GET', '/api/health');
    expect(health.json.jobs.map((j: { name: string; schedule: string }) => `${j.name} ${j.schedule}`)).toContain('backup 15 2 * * *');
    expect(await first.server.jobs.runNow('backup')).toBe(true);
    expect(await first.server.jobs.runNow('backup')).toBe(true);
    await first.stop();

    let repo: BackupRepository = await openMongoBackupRepository(backupUri);
    try {
      const runs = await repo.list();
      expect(runs).toHaveLength(2);
      expect(runs.every((r) => r.completedAt !== null && r.source === 'mongodb')).toBe(true);
      expect(runs[0]!.counts).toMatchObject({ events: 2 });
      let text = '';
      for await (const chunk of repo.readChunks(runs[0]!.id)) text += chunk;
      expect(text).not.toContain('secret of');
    } finally {
      await repo.close();
    }

    await db.wipe();
    const empty = await openRawStore(db);
    repo = await openMongoBackupRepository(backupUri);
    try {
      const { run, counts } = await restoreFromRepository(repo, empty);
      expect(run.id).toBe((await repo.list())[0]!.id);
      expect(counts.events).toBe(2);
      expect(counts.snapshots + counts.updates).toBeGreaterThan(0);
    } finally {
      await repo.close();
      await empty.close();
    }
    const restored = await start(db, env, { runJobs: false });
    try {
      const after = await Promise.all(learners.map((u) => view(restored, u)));
      expect(after).toEqual(before);
      expect(JSON.stringify(after)).toContain(`secret of ${learners[0]}`);
    } finally {
      await restored.stop();
    }
  });

  it('when a run is left incomplete, then restore uses the newest complete one and refuses the incomplete one by name; old runs beyond keep are deleted', async () => {
    const client = await start(db, {}, { runJobs: false });
    await client.request('POST', '/api/telemetry/batch', { token: await client.token(uid('u')), body: { batchId: uid('b'), items: [eventItem(uid('e'))] } });
    await client.stop();
    const store = await openRawStore(db);
    const repo = await openMongoBackupRepository(backupUri);
    try {
      const older = await backupToRepository(store, repo, { keep: 2 });
      // Chunks of 37 characters: every line of the backup spans chunks.
      const newer = await backupToRepository(store, repo, { keep: 2, chunkChars: 37 });
      await repo.begin({ id: 'zz-crashed', createdAt: new Date(Date.now() + 60_000), source: 'mongodb' });
      await repo.appendChunk('zz-crashed', 0, '{"type":"header"');
      const target = await openRawStore({ ...db, env: { MONGODB_URI: otherUri } });
      try {
        expect(await restoreFromRepository(repo, target)).toEqual({ run: expect.objectContaining({ id: newer.id }), counts: newer.counts });
        expect(newer.counts.events).toBe(1);
        await expect(restoreFromRepository(repo, target, { id: 'zz-crashed', force: true })).rejects.toBeInstanceOf(NoBackupError);
      } finally {
        await target.close();
      }
      const third = await backupToRepository(store, repo, { keep: 2 });
      expect(third.removed).toEqual([older.id]);
      expect((await repo.list()).map((r) => r.id)).toEqual(['zz-crashed', third.id, newer.id]);
    } finally {
      await repo.close();
      await store.close();
    }
  });

  it('when npm run backup/restore get --mongo, then they copy into MONGODB_BACKUP_URI and restore the newest copy into another database', async () => {
    const client = await start(db, {}, { runJobs: false });
    const userId = uid('cli');
    await client.request('POST', '/api/telemetry/batch', { token: await client.token(userId), body: { batchId: uid('b'), items: [eventItem(uid('e')), progressItem('arrays')] } });
    // What is stored once the server has stopped (work after the answer, such as the insights
    // refresh, included), read back by a fresh server.
    await client.stop();
    const reader = await start(db, {}, { runJobs: false });
    const before = await view(reader, userId);
    await reader.stop();

    const root = join(serverRoot, '..', '..');
    const run = (env: Record<string, string>, ...args: string[]) =>
      spawnSync(process.execPath, [join(root, 'scripts', 'ops.mjs'), ...args], { cwd: root, env: { PATH: process.env['PATH'] ?? '', ...env }, encoding: 'utf8', timeout: 60_000 });
    const backup = run({ MONGODB_URI: db.env['MONGODB_URI']!, MONGODB_BACKUP_URI: backupUri }, 'backup', '--mongo');
    expect(backup.status, backup.stderr).toBe(0);
    expect(JSON.parse(backup.stdout)).toMatchObject({ backup: 'MONGODB_BACKUP_URI', counts: { events: 1 } });
    const listed = run({ MONGODB_URI: db.env['MONGODB_URI']!, MONGODB_BACKUP_URI: backupUri }, 'backup', '--mongo', '--list');
    expect(listed.stdout.trim().split('\n')).toHaveLength(1);

    const restore = run({ MONGODB_URI: otherUri, MONGODB_BACKUP_URI: backupUri }, 'restore', '--mongo');
    expect(restore.status, restore.stderr).toBe(0);
    const missing = run({ MONGODB_URI: otherUri }, 'restore', '--mongo');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('MONGODB_BACKUP_URI: required by --mongo');

    const other = await start({ ...db, env: { MONGODB_URI: otherUri } }, {}, { runJobs: false });
    try {
      expect(await view(other, userId)).toEqual(before);
    } finally {
      await other.stop();
    }
  });
});
