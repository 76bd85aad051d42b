import { IDBFactory } from 'fake-indexeddb';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncClientOn, type Platform, type SyncClientEvents } from '../src/client.js';
import { createIndexedDbOutboxStorage } from '../src/outbox/indexeddb-storage.js';
import { LearnerErasedError } from '../src/outbox/telemetry.js';
import type { FetchLike } from '../src/outbox/transport.js';
import { createInProcessLocks, createManualConnectivity, noLifecycle } from '../src/ports.js';
import { startTestServer, type TestServer } from './server-helper.js';

/**
 * A device that still holds a token from before its learner was erased: the real server answers
 * its batches 410 `GONE`, and the outbox must stop there instead of retrying with backoff.
 */

const JWT_SECRET = 'erased-learner-suite-secret-of-enough-length';

/** A token minted a minute ago, before the erasure below (the server compares whole seconds). */
async function tokenFromBefore(userId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: userId, iat: now - 60, exp: now + 600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(JWT_SECRET));
}

function tab(): Platform {
  const indexedDB = new IDBFactory();
  return {
    connectivity: createManualConnectivity(true),
    lifecycle: noLifecycle,
    locks: createInProcessLocks(),
    channel: null,
    WebSocket: null,
    outboxStorage: (userId) => createIndexedDbOutboxStorage({ indexedDB, dbName: `prepmate-outbox:${userId}` }),
    docPersistence: null,
    crossTab: false,
  };
}

describe('telemetry of an erased learner against the real server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ JWT_SECRET });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('when a batch is answered 410 because the learner was erased, then the outbox stops for good, keeps its items and says so in status, sync:error and drain()', async () => {
    const userId = `erased-${process.pid}-${Date.now().toString(36)}`;
    const stale = await tokenFromBefore(userId);
    const erased = await fetch(`${server.url}/api/users/me`, { method: 'DELETE', headers: { authorization: `Bearer ${await server.token(userId)}` } });
    expect(erased.status).toBe(200);

    let batches = 0;
    const countingFetch: FetchLike = (url, init) => {
      if (url.endsWith('/api/telemetry/batch')) batches++;
      return fetch(url, init);
    };
    const client = createSyncClientOn(tab(), {
      apiBaseUrl: server.url,
      wsUrl: server.wsUrl,
      userId,
      // The device's auth layer still hands out the old token (a refresh would not help anyway).
      getToken: () => stale,
      fetch: countingFetch,
      documentSync: false,
      telemetry: { backoff: { baseMs: 10, maxMs: 20 }, syncIntervalMs: 60_000 },
    });
    const errors: SyncClientEvents['sync:error'][] = [];
    client.on('sync:error', (e) => void errors.push(e));
    try {
      await client.ready;
      for (let i = 0; i < 3; i++) await client.captureEvent('after_erasure', { i });

      const result = await client.flush();
      expect(result).toMatchObject({ stored: 0, remaining: 3 });
      expect(result.error).toMatch(/^GONE: /);
      expect(client.status().telemetry).toMatchObject({ learnerErased: true, nextRetryAt: null, queuedEvents: 3 });
      expect(client.status().lastError).toMatch(/^GONE: /);
      expect(errors).toEqual([expect.objectContaining({ status: 410, learnerErased: true, retryInMs: null })]);

      // Nothing retries it: not a flush, not drain().
      expect((await client.flush()).skipped).toBe('learner-erased');
      await expect(client.drain({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(LearnerErasedError);
      expect(batches).toBe(1);
      expect(await server.store.telemetry.countEvents(userId)).toBe(0);
    } finally {
      await client.destroy();
    }
  });
});
