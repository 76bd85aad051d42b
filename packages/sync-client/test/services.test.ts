import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePlatform } from '../src/node/index.js';
import { TELEMETRY_CONFIG, telemetryConfigFromEnv, syncSocketUrl, toClientOptions } from '../src/services/config.js';
import { createServices, SyncService, TelemetryService, type ServiceSyncResult } from '../src/services/index.js';
import { eventually } from './fakes.js';
import { startTestServer, type TestServer } from './server-helper.js';

/** The guide's service API (facade) against the real server. */

let server: TestServer;
let seq = 0;
const newUser = (): string => `facade-${process.pid}-${++seq}`;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const connection = (userId: string) => ({
  userId,
  getToken: () => server.token(userId),
  config: { apiBaseUrl: server.url },
  platform: nodePlatform(),
});

describe('guide configuration', () => {
  it('when the guide config is mapped, then interval, batch size and retry backoff reach the SDK', () => {
    const o = toClientOptions({ userId: 'u1', getToken: () => 't', config: { syncInterval: 60_000, batchSize: 20, retryDelay: 1000, maxRetries: 4 } }, false);
    expect(o.telemetry).toMatchObject({ syncIntervalMs: 60_000, batchSize: 20, backoff: { baseMs: 1000, maxMs: 16_000 } });
    expect(o).toMatchObject({ apiBaseUrl: TELEMETRY_CONFIG.apiBaseUrl, wsUrl: 'ws://localhost:5000/sync', documentSync: false });
    expect(o.outboxStorage).toBeUndefined();
    const offline = toClientOptions({ userId: 'u1', getToken: () => 't', config: { enableOfflineMode: false } }, true);
    expect(offline).toMatchObject({ docPersistence: null, rescue: null, documentSync: true });
    expect(offline.outboxStorage).toBeDefined();
  });

  it('when VITE_API_URL is set, then it is the API base; otherwise the fallback is', () => {
    expect(telemetryConfigFromEnv({ VITE_API_URL: 'https://api.example' }).apiBaseUrl).toBe('https://api.example');
    expect(telemetryConfigFromEnv({ VITE_API_URL: '' }, 'http://app.local').apiBaseUrl).toBe('http://app.local');
    expect(telemetryConfigFromEnv({}).apiBaseUrl).toBe('http://localhost:5000');
    expect(syncSocketUrl('https://api.example/prep/')).toBe('wss://api.example/prep/sync');
  });
});

describe('TelemetryService and SyncService', () => {
  it('when events are captured and flushed, then sync:complete reports successCount and the flush reason', async () => {
    const userId = newUser();
    const telemetry = new TelemetryService(connection(userId));
    const results: ServiceSyncResult[] = [];
    telemetry.on('sync:complete', (r) => results.push(r));
    // After the start-up round (an empty queue only sets lastSyncTime), so that the manual flush sends.
    await telemetry.client.ready;
    await eventually(() => expect(telemetry.client.status().telemetry.lastSyncTime).not.toBeNull());
    await Promise.all([telemetry.captureEvent('interview_started', { interviewType: 'mock', duration: 30 }), telemetry.captureEvent('lesson_opened', {})]);
    const flushed = await telemetry.flush();
    expect(flushed).toMatchObject({ sent: 2, stored: 2, remaining: 0 });
    expect(results).toEqual([expect.objectContaining({ successCount: 2, failureCount: 0, reason: 'manual', stored: 2 })]);
    expect(await server.listEventIds(userId)).toHaveLength(2);
    await telemetry.destroy();
  });

  it('when the server refuses an item, then getStatus counts it as failed and totalCount adds up', async () => {
    const userId = newUser();
    // Capture-time checking off, so that the server is the one that refuses.
    const sync = new SyncService({ ...connection(userId), documentSync: false, clientOptions: { telemetry: { validate: null } } });
    const dropped: string[] = [];
    sync.on('dropped', (d) => dropped.push(d.reason));
    await sync.client.captureEvent('ok_event', { n: 1 });
    await sync.client.captureEvent('NOT A VALID TYPE', {});
    expect(sync.getStatus()).toMatchObject({ isRunning: false, syncedCount: 0, pendingCount: 2, totalCount: 2 });
    await sync.start();
    await eventually(() => expect(sync.getStatus()).toMatchObject({ isRunning: true, syncedCount: 1, failedCount: 1, pendingCount: 0, totalCount: 2 }));
    expect(sync.getStatus().lastSyncTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(dropped).toEqual(['rejected']);
    await sync.stop();
    expect(sync.getStatus().isRunning).toBe(false);
  });

  it('when both services share one client, then a capture through one is counted by the other', async () => {
    const userId = newUser();
    const services = createServices({ ...connection(userId), documentSync: false });
    await services.sync.start();
    await services.telemetry.captureEvent('interview_completed', { score: 85 });
    await services.telemetry.flush();
    expect(services.sync.getStatus()).toMatchObject({ syncedCount: 1, totalCount: 1 });
    await services.destroy();
  });
});
