import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncClient } from '../src/node/index.js';
import { eventually } from './fakes.js';
import { startTestServer, type TestServer } from './server-helper.js';

/** A port nothing listens on: the "server is down" of a Node service. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let server: TestServer;
let dataDir: string;
beforeAll(async () => {
  server = await startTestServer();
  dataDir = await mkdtemp(join(tmpdir(), 'sdk-node-'));
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('@prepmate/sync-client/node', () => {
  it('when a service captures while the server is down and restarts, then its file outbox and document journal deliver everything once', async () => {
    const userId = 'node-service-1';
    const down = await deadPort();
    const first = createSyncClient({
      apiBaseUrl: `http://127.0.0.1:${down}`,
      wsUrl: `ws://127.0.0.1:${down}/sync`,
      userId,
      getToken: () => server.token(userId),
      dataDir,
      persistDocument: true,
      telemetry: { backoff: { baseMs: 10, maxMs: 50 } },
    });
    await first.ready;
    const ids = await Promise.all(Array.from({ length: 250 }, (_, i) => first.captureEvent('import_row', { i })));
    first.document.updateTopic('sql', { status: 'completed', notes: 'written while the server was down' });
    await eventually(() => expect(first.status().lastError).not.toBeNull());
    expect(first.status()).toMatchObject({ queuedEvents: 250, connected: false });
    expect(first.status().unsavedChanges).toBeGreaterThan(0);
    await first.destroy();

    // "Restart" against the real server: the journal is replayed and sent at start-up.
    const second = createSyncClient({ apiBaseUrl: server.url, wsUrl: server.wsUrl, userId, getToken: () => server.token(userId), dataDir, persistDocument: true });
    await second.ready;
    expect(second.document.getTopic('sql')?.status).toBe('completed');
    await eventually(() => expect(second.status().queuedEvents).toBe(0));
    await second.whenSaved();
    const stored = await server.listEventIds(userId);
    expect([...stored].sort()).toEqual([...ids].sort());
    const p = await server.getJson<{ data: { topics: Record<string, { notes?: string }> } }>('/api/progress', userId);
    expect(p.data.topics['sql']?.notes).toBe('written while the server was down');
    await second.destroy();
  });

  it('when the WebSocket token has expired, then the client reconnects with a refreshed one', async () => {
    const userId = 'node-service-2';
    let refreshes = 0;
    const client = createSyncClient({
      apiBaseUrl: server.url,
      wsUrl: server.wsUrl,
      userId,
      getToken: ({ forceRefresh }) => {
        if (forceRefresh) refreshes++;
        return server.token(userId, forceRefresh ? 3600 : -60);
      },
    });
    await client.ready;
    client.document.updateTopic('dp', { status: 'in_progress' });
    await eventually(() => expect(client.status().synced).toBe(true), 30_000);
    await client.whenSaved();
    expect(refreshes).toBeGreaterThan(0);
    await client.destroy();
  });
});

describe('server restart', () => {
  it('when the server stops and comes back, then edits and events made meanwhile reach it and unsaved returns to 0', async () => {
    const own = await startTestServer();
    let current: TestServer = own;
    const userId = 'restart-learner';
    const client = createSyncClient({
      apiBaseUrl: own.url,
      wsUrl: own.wsUrl,
      userId,
      getToken: () => current.token(userId),
      maxReconnectDelayMs: 300,
      telemetry: { backoff: { baseMs: 20, maxMs: 300 } },
    });
    try {
      await client.ready;
      client.document.updateTopic('strings', { status: 'in_progress' });
      await client.whenSaved();
      await own.stopKeepingData();
      await eventually(() => expect(client.status().connected).toBe(false));
      client.document.updateTopic('strings', { notes: 'KMP while the server was away' });
      client.document.recordAssessment({ assessmentId: 'during-outage', topicId: 'strings', score: 55, completedAt: '2026-11-28T12:00:00.000Z' });
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => client.captureEvent('outage_event', { i })));
      expect(client.status().unsavedChanges).toBeGreaterThan(0);
      current = await own.restart();
      await client.whenSaved();
      await eventually(async () => {
        await client.flush();
        expect(client.status().queuedEvents).toBe(0);
      }, 30_000, 100);
      const p = await current.getJson<{ data: { topics: Record<string, { notes?: string }>; assessments: Record<string, unknown> } }>('/api/progress', userId);
      expect(p.data.topics['strings']?.notes).toBe('KMP while the server was away');
      expect(p.data.assessments['during-outage']).toBeDefined();
      expect([...(await current.listEventIds(userId))].sort()).toEqual([...ids].sort());
    } finally {
      await client.destroy();
      await current.close();
    }
  });
});
