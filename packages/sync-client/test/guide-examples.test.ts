import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithService, mongoUriForTests } from '../../../apps/sync-server/test/helpers/stores.js';
import { createManualConnectivity } from '../src/ports.js';
import { nodePlatform } from '../src/node/index.js';
import { createServices, SyncService, TELEMETRY_CONFIG, TelemetryService, type ServiceOptions, type ServiceSyncResult } from '../src/services/index.js';
import { eventually } from './fakes.js';
import { startTestServer, type TestServer } from './server-helper.js';

/**
 * Every example of the integration guide, as printed, against the real server. Adapted: the
 * host and port (the test server's), the token (one per learner, from the server), and where the
 * printed text cannot run, the nearest runnable form — each such place says so. The server runs
 * with the guide's `.env` values that concern it (`ENABLE_SCHEDULED_SYNC=true`,
 * `SYNC_INTERVAL_MINUTES=5`, `SYNC_BATCH_SIZE=100`, `MAX_RETRIES=3`, `RETRY_DELAY_MS=5000`).
 */

const GUIDE_ENV = { ENABLE_SCHEDULED_SYNC: 'true', SYNC_INTERVAL_MINUTES: '5', SYNC_BATCH_SIZE: '100', MAX_RETRIES: '3', RETRY_DELAY_MS: '5000' };

let server: TestServer;
let seq = 0;
const newUser = (): string => `guide-${process.pid}-${++seq}`;
beforeAll(async () => {
  server = await startTestServer(GUIDE_ENV);
});
afterAll(async () => {
  await server?.close();
});

/** The adaptation of "host, port and token" for the services (the guide's constructors take none). */
function connection(userId: string, extra: Partial<ServiceOptions> = {}): ServiceOptions {
  return { userId, getToken: () => server.token(userId), config: { ...TELEMETRY_CONFIG, apiBaseUrl: server.url }, platform: nodePlatform(), ...extra };
}

async function call(method: 'GET' | 'POST', path: string, userId: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await server.token(userId)}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The guide's `POST /api/telemetry/track` request body, verbatim. */
const TRACK_REQUEST = {
  eventType: 'interview_completed',
  eventData: {
    interviewId: '12345',
    score: 85,
    duration: 1800,
    questionsAttempted: 5,
    correctAnswers: 4,
  },
  metadata: {
    clientTimestamp: '2024-01-20T10:30:00Z',
    userAgent: 'Mozilla/5.0...',
  },
};

describe('the integration guide, example by example', () => {
  const rest = newUser();

  it('POST /api/telemetry/track: the printed request answers the printed shape', async () => {
    const res = await call('POST', '/api/telemetry/track', rest, TRACK_REQUEST);
    expect(res.status).toBe(200);
    // The guide prints `evt_abc123`: without a client eventId the server makes `evt_<32 hex>`.
    expect(res.json).toMatchObject({ success: true, data: { eventId: expect.stringMatching(/^evt_[0-9a-f]{32}$/), serverTimestamp: expect.any(String) } });
    const data = res.json['data'] as { serverTimestamp: string };
    expect(new Date(data.serverTimestamp).toISOString()).toBe(data.serverTimestamp);
  });

  it('POST /api/telemetry/batch: the printed envelope, its items filled in, answers processed / failed / conflicts / results', async () => {
    // The guide prints `"itemData": {...}` and `...` for further items. Nearest runnable form: ten
    // items whose itemData is the /track example with its event id in `metadata.eventId` (where
    // the guide's schema keeps it), and one invalid item, so that the answer has the printed
    // counts (processed 10, failed 1, conflicts 0).
    const items: unknown[] = Array.from({ length: 10 }, (_, i) => ({
      itemType: 'event',
      itemData: { ...TRACK_REQUEST, metadata: { ...TRACK_REQUEST.metadata, eventId: `evt_guide_${i}` } },
    }));
    items.push({ itemType: 'event', itemData: { ...TRACK_REQUEST, eventType: 'Interview Completed', metadata: { ...TRACK_REQUEST.metadata, eventId: 'evt_guide_bad' } } });
    const res = await call('POST', '/api/telemetry/batch', rest, { batchId: 'batch_xyz789', items });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ success: true, data: { processed: 10, failed: 1, conflicts: 0 } });
    const results = (res.json['data'] as { results: { status: string }[] }).results;
    expect(results.map((r) => r.status)).toEqual([...Array<string>(10).fill('stored'), 'rejected']);
  });

  it('GET /api/telemetry/status: the printed syncStatus fields', async () => {
    const res = await call('GET', '/api/telemetry/status', rest);
    expect(res.status).toBe(200);
    // 1 tracked + 10 batched events, nothing pending. The guide prints "good"; the last batch
    // above had a refused item, which this server reports as "degraded" (docs/api.md).
    expect(res.json).toMatchObject({ syncStatus: { lastSyncTime: expect.any(String), pendingItems: 0, totalItems: 11, syncHealth: 'degraded' } });
  });

  it('GET /api/health: the printed status, uptime and services', async () => {
    const res = await fetch(`${server.url}/api/health`);
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    // The guide's `cache: "connected"` is Redis (`REDIS_URL`); without it the cache is in process.
    expect(json).toMatchObject({ status: 'healthy', uptime: expect.any(Number), services: { database: 'connected', cache: 'in-process', scheduler: 'running' } });
  });

  it('Frontend setup: TELEMETRY_CONFIG, the Telemetry Service and the Sync Service snippets', async () => {
    expect(TELEMETRY_CONFIG).toEqual({
      apiBaseUrl: 'http://localhost:5000',
      syncInterval: 5 * 60 * 1000,
      batchSize: 50,
      enableOfflineMode: true,
      storageKey: 'prepmate_telemetry',
      maxRetries: 3,
      retryDelay: 5000,
    });
    const logs: unknown[][] = [];
    const console = { log: (...args: unknown[]) => void logs.push(args) };
    const learner = newUser();
    // The guide writes `new TelemetryService()` and `new SyncService()`; an app's services module
    // makes both over one client with the learner and token (createServices). Same calls below.
    const services = createServices(connection(learner));
    {
      const telemetry = services.telemetry;

      // Track events
      telemetry.captureEvent('interview_started', {
        interviewType: 'mock',
        duration: 30,
      });

      // Listen to sync events
      telemetry.on('sync:complete', (result) => {
        console.log('Sync completed:', result);
      });
    }
    {
      const sync = services.sync;

      // Start sync
      await sync.start();

      // Get sync status
      const status = sync.getStatus();
      console.log(`Synced: ${status.syncedCount}/${status.totalCount}`);
    }
    expect(logs.at(-1)).toEqual(['Synced: 1/1']);
    // The capture may have gone with the start-up round, before the listener was attached.
    const completions = logs.filter((l) => l[0] === 'Sync completed:').map((l) => l[1] as ServiceSyncResult);
    for (const c of completions) expect(c).toMatchObject({ successCount: 1, failureCount: 0 });
    const stored = await server.getJson<{ data: { events: { eventType: string; eventData: unknown }[] } }>('/api/telemetry/events', learner);
    expect(stored.data.events).toMatchObject([{ eventType: 'interview_started', eventData: { interviewType: 'mock', duration: 30 } }]);
    await services.destroy();
  });

  it('Example 1: Track Interview Completion', async () => {
    const learner = newUser();
    // `import { telemetry } from '@/services';` — the app's services module.
    const { telemetry, destroy } = createServices(connection(learner, { documentSync: false }));

    // The guide's `results` is untyped JavaScript; the type is the only addition.
    interface InterviewResults {
      id: string;
      score: number;
      duration: number;
      questions: unknown[];
      correct: number;
      weakAreas: string[];
    }
    async function handleInterviewComplete(results: InterviewResults) {
      telemetry.captureEvent('interview_completed', {
        interviewId: results.id,
        score: results.score,
        duration: results.duration,
        questionsAttempted: results.questions.length,
        correctAnswers: results.correct,
        weakAreas: results.weakAreas,
      });
    }

    await handleInterviewComplete({ id: '12345', score: 85, duration: 1800, questions: [1, 2, 3, 4, 5], correct: 4, weakAreas: ['graphs'] });
    // The SDK sends captures in batches (POST /api/telemetry/batch), not one /track call each.
    await telemetry.drain({ timeoutMs: 30_000 });
    const stored = await server.getJson<{ data: { events: { eventType: string; eventData: unknown }[] } }>('/api/telemetry/events', learner);
    expect(stored.data.events).toEqual([
      expect.objectContaining({
        eventType: 'interview_completed',
        eventData: { interviewId: '12345', score: 85, duration: 1800, questionsAttempted: 5, correctAnswers: 4, weakAreas: ['graphs'] },
      }),
    ]);
    await destroy();
  });

  it('Example 2: Scheduled Sync (client side)', async () => {
    const learner = newUser();
    const { telemetry, destroy } = createServices(connection(learner, { documentSync: false }));
    await telemetry.client.ready;
    const ui: string[] = [];
    const updateUI = (text: string): void => void ui.push(text);
    const reasons: string[] = [];

    // Automatically triggered
    telemetry.on('sync:start', () => {
      updateUI('Syncing...');
    });

    telemetry.on('sync:complete', (result) => {
      updateUI(`Synced: ${result.successCount} items`);
    });

    telemetry.on('sync:complete', (result) => void reasons.push(result.reason));
    // "Automatically": a full batch (TELEMETRY_CONFIG.batchSize) starts a round without a flush call.
    for (let i = 0; i < TELEMETRY_CONFIG.batchSize; i++) telemetry.captureEvent('question_answered', { i });
    await eventually(() => expect(ui).toEqual(['Syncing...', `Synced: ${TELEMETRY_CONFIG.batchSize} items`]));
    expect(reasons).toEqual(['batch-size']);
    expect(await server.listEventIds(learner)).toHaveLength(TELEMETRY_CONFIG.batchSize);
    await destroy();
  });

  it('Example 3: Offline Support', async () => {
    const learner = newUser();
    const connectivity = createManualConnectivity(false);
    const telemetry = new TelemetryService(connection(learner, { clientOptions: { connectivity } }));
    const synced: ServiceSyncResult[] = [];
    telemetry.on('sync:complete', (r) => void synced.push(r));

    // When offline
    telemetry.captureEvent('assessment_submitted', {
      // Data stored in IndexedDB
    });

    await eventually(() => expect(telemetry.client.status().queuedEvents).toBe(1));
    expect(await server.listEventIds(learner)).toEqual([]);
    // When online (auto-sync)
    connectivity.setOnline(true);
    await eventually(() => expect(synced).toEqual([expect.objectContaining({ reason: 'online', successCount: 1 })]));
    expect(await server.listEventIds(learner)).toHaveLength(1);
    await telemetry.destroy();
  });

  it('SyncService alone: start() sends what was queued and getStatus() counts it', async () => {
    const learner = newUser();
    const sync = new SyncService(connection(learner, { documentSync: false }));
    await sync.client.captureEvent('lesson_opened', {});
    await sync.start();
    expect(sync.getStatus()).toMatchObject({ isRunning: true, syncedCount: 1, totalCount: 1, pendingCount: 0 });
    await sync.stop();
  });
});

describeWithService(
  'the guide\'s monitoring query on MongoDB',
  { env: 'MONGODB_URI', value: mongoUriForTests(), hint: 'Source the test services env (MONGODB_URI) to run it.' },
  (uri) => {
    let mongoServer: TestServer;
    let conn: mongoose.Connection;
    beforeAll(async () => {
      mongoServer = await startTestServer({ ...GUIDE_ENV, MONGODB_URI: uri });
      conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 5000 }).asPromise();
    });
    afterAll(async () => {
      await mongoServer?.close();
      await conn?.dropDatabase().catch(() => undefined);
      await conn?.close();
    });

    it('when a batch was synced, then "last hour of sync activity" finds its log', async () => {
      const learner = newUser();
      const sync = new SyncService({ ...connection(learner, { documentSync: false }), config: { ...TELEMETRY_CONFIG, apiBaseUrl: mongoServer.url }, getToken: () => mongoServer.token(learner) });
      await sync.client.captureEvent('interview_completed', { score: 85 });
      await sync.start();
      await sync.stop();

      // The guide's query is mongo-shell syntax (`db.batchLogs`); with the Node driver, `db.<name>`
      // is `db.collection('<name>')` and a cursor is read with `toArray()`.
      const native = conn.db!;
      const db = new Proxy({} as { readonly batchLogs: ReturnType<typeof native.collection> }, { get: (_t, name) => native.collection(String(name)) });

      // Get last hour of sync activity
      const cursor = db.batchLogs.find({
        startTime: { $gte: new Date(Date.now() - 3600000) }
      }).sort({ startTime: -1 });

      const logs = await cursor.toArray();
      expect(logs).toEqual([expect.objectContaining({ userId: learner, itemCount: 1, successCount: 1, failureCount: 0, conflictCount: 0, status: 'completed' })]);
    });
  },
);
