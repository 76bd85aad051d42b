import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createMemoryCacheService } from '../../src/cache/index.js';
import { loadConfig } from '../../src/config.js';
import { asUserId, type UserId } from '../../src/ids.js';
import { createScheduler, everySeconds } from '../../src/jobs/scheduler.js';
import type { TelemetryEventRecord } from '../../src/storage/ports.js';
import { SYNC_QUEUE_LEASE_MS, runInsightsJob, runRetentionJob, runSyncQueueJob, type LearnerDocuments, type TelemetryJobDeps } from '../../src/telemetry/index.js';
import { createMemoryLearnerDocuments, type MemoryLearnerDocuments } from '../helpers/memory-documents.js';
import { describeEachStore, openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { eventually } from '../helpers/stores.js';
import { topicIdForName } from '@prepmate/crdt-model';
import { assessmentItem, eventItem, iso, progressItem, trackBody, uid } from './fixtures.js';

/** The memory document port with a switch that makes every write fail (document service down). */
function switchableDocuments(): MemoryLearnerDocuments & { failing: boolean; refused: string[] } {
  const inner = createMemoryLearnerDocuments();
  const docs = {
    failing: false,
    /** Learners whose writes were refused while failing, in order. */
    refused: [] as string[],
    log: inner.log,
    doc: inner.doc,
    read: inner.read,
    eraseAll: inner.eraseAll,
    async apply(userId: UserId, author: string, fn: Parameters<LearnerDocuments['apply']>[2]): Promise<void> {
      if (docs.failing) {
        docs.refused.push(userId);
        throw new Error('document service unavailable');
      }
      return inner.apply(userId, author, fn);
    },
  };
  return docs;
}

describeEachStore('exactly-once ingestion and telemetry jobs', (kind) => {
  let opened: OpenedStore;
  let api: ApiHarness;
  let documents: ReturnType<typeof switchableDocuments>;
  /** A clock the tests move forward instead of waiting for retry delays. */
  let offsetMs = 0;
  const now = (): Date => new Date(Date.now() + offsetMs);

  const jobDeps = (overrides: Partial<TelemetryJobDeps['config']> = {}): TelemetryJobDeps => ({
    store: opened.store,
    documents,
    cache: api.cache.cache,
    config: { ...api.config, ...overrides },
    logger: pino({ level: 'silent' }),
    now,
  });

  beforeAll(async () => {
    opened = await openStore(kind);
    documents = switchableDocuments();
    api = await startApi({ store: opened.store, documents, now, env: { MAX_RETRIES: '2', RETRY_DELAY_MS: '60000' } });
  });
  afterAll(async () => {
    await api?.close();
    await opened?.dispose();
  });

  it('when ten connections send the same batch at once, then every item is stored once and answered once as new', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const assessmentId = uid('a');
    const items = [...Array.from({ length: 20 }, () => eventItem(uid('e'))), assessmentItem(assessmentId), progressItem('dp')];
    const body = { batchId: uid('b'), items };
    const answers = await Promise.all(Array.from({ length: 10 }, () => api.request('POST', '/api/telemetry/batch', { token, body })));
    for (const a of answers) expect(a.status).toBe(200);
    for (let index = 0; index < items.length; index++) {
      const statuses = answers.map((a) => a.json.data.results[index].status as string);
      expect(statuses.filter((s) => s === 'stored' || s === 'merged'), `item ${index}`).toHaveLength(1);
      expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(9);
    }
    expect(await opened.store.telemetry.countEvents(user)).toBe(20);
    const queue = await opened.store.syncQueue.listForUser(user, 100);
    expect(queue).toHaveLength(2);
    expect(queue.every((q) => q.status === 'synced')).toBe(true);
    const progress = await api.request('GET', '/api/progress', { token });
    expect(Object.keys(progress.json.data.assessments)).toEqual([assessmentId]);
    expect(await opened.store.batchLogs.listForUser(user, 100)).toHaveLength(10);
    // Only winners merge: at most one update per item (usually one for both, when one request won both).
    const updates = documents.log.filter((l) => l.docName === user).length;
    expect(updates).toBeGreaterThanOrEqual(1);
    expect(updates).toBeLessThanOrEqual(2);
    expect(progress.json.data.topics.dp).toMatchObject({ status: 'in_progress' });
  });

  it('when progress names a topic in any script, then it is merged under its derived id; a name with a direction override is refused', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const names = ['C++', '機械学習', 'الخوارزميات', 'Graphs 🧭'];
    const items = names.map((name) => progressItem(topicIdForName(name), { name }));
    const ok = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items } });
    expect(ok.status).toBe(200);
    const progress = await api.request('GET', '/api/progress', { token });
    for (const name of names) expect(progress.json.data.topics[topicIdForName(name)]).toMatchObject({ name, status: 'in_progress' });
    const bad = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [progressItem('x', { name: 'abc\u202Edef' })] } });
    expect(bad.json.data.results[0]).toMatchObject({
      status: 'rejected',
      error: { code: 'VALIDATION_FAILED', details: [{ path: 'itemData.name', message: 'no control characters or direction overrides' }] },
    });
  });

  it('when an assessment is dated in the future, then it is refused with the field named and nothing is stored; a few minutes of clock skew pass', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const future = uid('a');
    const skewed = uid('a');
    const res = await api.request('POST', '/api/telemetry/batch', {
      token,
      body: {
        batchId: uid('b'),
        items: [assessmentItem(future, { completedAt: '2031-01-01T00:00:00.000Z' }), assessmentItem(skewed, { completedAt: new Date(Date.now() + 60_000).toISOString() })],
      },
    });
    expect(res.status).toBe(200);
    expect(res.json.data.results[0]).toMatchObject({ status: 'rejected', error: { code: 'VALIDATION_FAILED', details: [{ path: 'itemData.completedAt' }] } });
    expect(res.json.data.results[1].status).not.toBe('rejected');
    const progress = await api.request('GET', '/api/progress', { token });
    expect(Object.keys(progress.json.data.assessments)).toEqual([skewed]);
  });

  it('when ten connections track the same event at once, then one answer is new and nine are duplicates', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const body = trackBody(uid('e'));
    const answers = await Promise.all(Array.from({ length: 10 }, () => api.request('POST', '/api/telemetry/track', { token, body })));
    expect(answers.map((a) => a.json.data.duplicate).filter((d) => d === false)).toHaveLength(1);
    expect(await opened.store.telemetry.countEvents(user)).toBe(1);
  });

  it('when merging into the document fails, then the item is stored, kept in error with its message, and the queue job merges it after the backoff', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const assessmentId = uid('a');
    documents.failing = true;
    let res;
    try {
      res = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [assessmentItem(assessmentId), eventItem(uid('e'))] } });
      expect(res.json.data.results.map((r: { status: string }) => r.status)).toEqual(['stored', 'stored']);
      const [item] = await opened.store.syncQueue.listForUser(user, 10);
      expect(item).toMatchObject({ status: 'error', attempts: 1, itemKey: `assessment:${assessmentId}` });
      expect(item!.errors[0]!.message).toBe('document service unavailable');
      expect(item!.nextAttemptAt!.getTime()).toBeGreaterThan(now().getTime());
      const status = await api.request('GET', '/api/telemetry/status', { token });
      expect(status.json.syncStatus).toMatchObject({ pendingItems: 1, syncHealth: 'failing' });

      // Not due yet: the job leaves it alone.
      await runSyncQueueJob(jobDeps());
      expect((await opened.store.syncQueue.listForUser(user, 10))[0]).toMatchObject({ status: 'error', attempts: 1 });
    } finally {
      documents.failing = false;
    }
    offsetMs += 61_000;
    await runSyncQueueJob(jobDeps());
    const [synced] = await opened.store.syncQueue.listForUser(user, 10);
    expect(synced).toMatchObject({ status: 'synced', attempts: 1 });
    expect(synced!.errors).toHaveLength(1);
    const progress = await api.request('GET', '/api/progress', { token });
    expect(progress.json.data.assessments[assessmentId]).toBeDefined();
    const status = await api.request('GET', '/api/telemetry/status', { token });
    expect(status.json.syncStatus).toMatchObject({ pendingItems: 0, syncHealth: 'good' });
  });

  it('when every retry fails, then the item ends in error with every error kept and is not claimed again', async () => {
    const user = uid('u');
    const token = await api.token(user);
    documents.failing = true;
    try {
      await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [progressItem('tx')] } });
      // MAX_RETRIES=2: the first try and two retries, backoff 60 s then 120 s.
      for (const step of [61_000, 121_000, 600_000]) {
        offsetMs += step;
        await runSyncQueueJob(jobDeps());
      }
    } finally {
      documents.failing = false;
    }
    const [item] = await opened.store.syncQueue.listForUser(user, 10);
    expect(item).toMatchObject({ status: 'error', attempts: 3, nextAttemptAt: null });
    expect(item!.errors.map((e) => e.message)).toEqual(Array(3).fill('document service unavailable'));
    offsetMs += 3_600_000;
    await runSyncQueueJob(jobDeps());
    expect((await opened.store.syncQueue.listForUser(user, 10))[0]!.attempts).toBe(3);
  });

  it('when another instance holds the queue lease, then this instance does not process the queue', async () => {
    const user = uid('u');
    const token = await api.token(user);
    documents.failing = true;
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [progressItem('lease')] } });
    documents.failing = false;
    offsetMs += 61_000;
    expect(await opened.store.leases.tryAcquire('job:sync-queue', 'other-instance', 60_000)).toBe(true);
    try {
      expect(await api.jobs.runNow('sync-queue')).toBe(false);
      expect((await opened.store.syncQueue.listForUser(user, 10))[0]!.status).toBe('error');
    } finally {
      await opened.store.leases.release('job:sync-queue', 'other-instance');
    }
    expect(await api.jobs.runNow('sync-queue')).toBe(true);
    expect((await opened.store.syncQueue.listForUser(user, 10))[0]!.status).toBe('synced');
  });

  it('when the insights job runs, then weak areas and trends from assessments and scored events are written to the document', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const day = 86_400_000;
    const t0 = Date.now() - 10 * day;
    const assessments = [40, 45, 50, 80, 85, 90].map((score, i) =>
      assessmentItem(uid('a'), { topicId: 'dp', score, completedAt: iso(t0 + i * day), weakAreas: i < 3 ? ['memoization'] : [] }),
    );
    const events = [90, 80, 60, 50].map((score, i) =>
      eventItem(uid('e'), { eventData: { score, weakAreas: ['system-design'] }, metadata: { clientTimestamp: iso(t0 + i * day) } }),
    );
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [...assessments, ...events] } });
    // Discovered from the batch logs of the look-back window, not named explicitly.
    await runInsightsJob(jobDeps(), { lookbackMs: 3_600_000 + offsetMs });
    const progress = await api.request('GET', '/api/progress', { token });
    const insights = progress.json.data.insights;
    expect(insights.assessmentCount).toBe(6);
    expect(insights.overallTrend).toMatchObject({ direction: 'up', samples: 6 });
    expect(insights.weakAreas[0]).toMatchObject({ area: 'memoization', occurrences: 3 });
    expect(insights.events).toMatchObject({ samples: 4, trend: { direction: 'down' } });
    expect(insights.events.weakAreas[0]).toMatchObject({ area: 'system-design', occurrences: 4 });
    const writes = documents.log.filter((l) => l.docName === user && l.author === 'service:insights').length;
    expect(writes).toBe(1);
    // Unchanged facts: a second run writes nothing.
    await runInsightsJob(jobDeps(), { userIds: [asUserId(user)] });
    expect(documents.log.filter((l) => l.docName === user && l.author === 'service:insights')).toHaveLength(writes);
  });

  it('when a learner only tracks scored events while the document service is down, then the next insights run finds them and writes insights from the events', async () => {
    const user = uid('u');
    const token = await api.token(user);
    documents.failing = true;
    try {
      const res = await api.request('POST', '/api/telemetry/track', {
        token,
        body: trackBody(uid('e'), { eventType: 'quiz_completed', eventData: { score: 45, topicId: 'graphs', weakAreas: ['bfs'] } }),
      });
      expect(res.status).toBeLessThan(300);
      // The immediate refresh after the track was tried and refused: only a run can write them now.
      await eventually(() => documents.refused.includes(user), { timeoutMs: 10_000, intervalMs: 20 });
    } finally {
      documents.failing = false;
    }
    expect((await opened.store.batchLogs.listForUser(user, 10)).length).toBe(0);
    // Discovered from the stored events of the look-back window (no batch, no document).
    await runInsightsJob(jobDeps(), { lookbackMs: 3_600_000 + offsetMs });
    const progress = await api.request('GET', '/api/progress', { token });
    const insights = progress.json.data.insights;
    expect(insights).toMatchObject({ basis: 'events', assessmentCount: 1, events: { samples: 1 } });
    expect(insights.weakAreas[0]).toMatchObject({ area: 'bfs', occurrences: 1 });
  });

  it('when a learner only tracks events without scores, then the insights run does not open their document', async () => {
    const quiet = uid('u');
    const scored = uid('u');
    const res = await api.request('POST', '/api/telemetry/track', { token: await api.token(quiet), body: trackBody(uid('e')) });
    expect(res.status).toBeLessThan(300);
    await opened.store.telemetry.insertEvents([
      {
        userId: scored,
        eventType: 'quiz_completed',
        eventData: { score: 70 },
        metadata: { eventId: uid('e'), clientTimestamp: now(), serverTimestamp: now() },
        status: 'completed',
        retryCount: 0,
        batchId: null,
        createdAt: now(),
        updatedAt: now(),
      },
    ]);
    documents.failing = true;
    try {
      // Every write is refused and recorded: the run shows whose documents it tried to open.
      await runInsightsJob(jobDeps(), { lookbackMs: 3_600_000 + offsetMs });
    } finally {
      documents.failing = false;
    }
    expect(documents.refused).toContain(scored);
    expect(documents.refused).not.toContain(quiet);
  });

  it('when the retention job runs, then events older than RETENTION_DAYS are deleted and newer ones kept', async () => {
    const user = uid('u');
    const day = 86_400_000;
    const record = (eventId: string, ageDays: number): TelemetryEventRecord => {
      const at = new Date(now().getTime() - ageDays * day);
      return {
        userId: user,
        eventType: 'old_event',
        eventData: {},
        metadata: { eventId, clientTimestamp: at, serverTimestamp: at },
        status: 'completed',
        retryCount: 0,
        batchId: null,
        createdAt: at,
        updatedAt: at,
      };
    };
    await opened.store.telemetry.insertEvents([record('old', 40), record('recent', 5)]);
    await runRetentionJob(jobDeps({ RETENTION_DAYS: 0 }));
    expect(await opened.store.telemetry.countEvents(user)).toBe(2);
    await runRetentionJob(jobDeps({ RETENTION_DAYS: 30 }));
    const left = await opened.store.telemetry.listEvents(user, { limit: 10 });
    expect(left.events.map((e) => e.metadata.eventId)).toEqual(['recent']);
  });
});

describe('the job scheduler', () => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await openStore('sqlite');
  });
  afterAll(async () => {
    await opened?.dispose();
  });

  it('when scheduled, then the queue job runs by itself, and stop() cancels it', async () => {
    const documents = createMemoryLearnerDocuments();
    const config = loadConfig({ RETRY_DELAY_MS: '1000', ENABLE_SCHEDULED_SYNC: 'true', JWT_SECRET: 'x'.repeat(40) });
    const logger = pino({ level: 'silent' });
    const user = uid('u');
    await opened.store.syncQueue.enqueue([{ userId: user, itemKey: 'progress:sched:0', itemType: 'progress', itemData: { topicId: 'sched', status: 'completed' }, priority: 5 }]);
    const deps: TelemetryJobDeps = { store: opened.store, documents, cache: createMemoryCacheService().cache, config, logger };
    const jobs = createScheduler({ leases: opened.store.leases, instanceId: uid('i'), logger });
    jobs.register({ name: 'sync-queue', timing: { cron: everySeconds(config.RETRY_DELAY_MS / 1000) }, leaseMs: SYNC_QUEUE_LEASE_MS, enabled: true, run: () => runSyncQueueJob(deps) });
    jobs.start();
    try {
      expect(jobs.state()).toBe('running');
      // The queue tick is every 5 s (RETRY_DELAY_MS clamped to 5–59 s).
      await eventually(async () => (await opened.store.syncQueue.listForUser(user, 1))[0]?.status === 'synced', { timeoutMs: 15_000, intervalMs: 100 });
      expect((await documents.read(asUserId(user))).topics['sched']).toMatchObject({ status: 'completed' });
      expect(jobs.jobs()).toEqual([expect.objectContaining({ name: 'sync-queue', schedule: '*/5 * * * * *', lastError: null })]);
      expect(jobs.jobs()[0]!.lastRunAt).not.toBeNull();
    } finally {
      await jobs.stop();
    }
    expect(jobs.state()).toBe('stopped');
    const disabled = createScheduler({ leases: opened.store.leases, instanceId: uid('i'), logger });
    disabled.register({ name: 'insights', timing: { cron: '* * * * *' }, leaseMs: 1000, enabled: false, run: async () => undefined });
    disabled.start();
    expect(disabled.state()).toBe('disabled');
    expect(disabled.jobs()[0]!.state).toBe('disabled');
    await disabled.stop();
  });
});
