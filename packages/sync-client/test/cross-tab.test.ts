import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSyncClientOn, type Platform } from '../src/client.js';
import type { WebSocketConstructor } from '../src/doc/connection.js';
import { createMemoryOutboxStorage } from '../src/outbox/memory-storage.js';
import { createManualConnectivity, noLifecycle } from '../src/ports.js';
import { eventually } from './fakes.js';

/**
 * Two "tabs" of one learner in one process share y-websocket's BroadcastChannel (lib0 keeps one
 * channel per room per process). The sync server is unreachable, so whatever one tab's document
 * gains from the other came over the channel.
 */
function tab(): Platform {
  return {
    connectivity: createManualConnectivity(true),
    lifecycle: noLifecycle,
    locks: null,
    channel: null,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    outboxStorage: () => createMemoryOutboxStorage(),
    docPersistence: null,
    crossTab: true,
  };
}

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((ok) => srv.close(() => ok()));
  return port;
}

describe('cross-tab document sync', () => {
  it('when two tabs run without the server, then each gets the edits the other made before and after it opened', async () => {
    const port = await closedPort();
    const options = {
      apiBaseUrl: `http://127.0.0.1:${port}`,
      wsUrl: `ws://127.0.0.1:${port}/sync`,
      userId: `cross-tab-${process.pid}`,
      getToken: async () => 'unused',
      telemetry: { syncIntervalMs: 60_000 },
    };
    const a = createSyncClientOn(tab(), options);
    await a.ready;
    a.doc.getMap('probe').set('before', 1);
    const b = createSyncClientOn(tab(), options);
    await b.ready;
    await eventually(() => expect(b.doc.getMap('probe').get('before')).toBe(1));
    b.doc.getMap('probe').set('from-b', 2);
    a.doc.getMap('probe').set('after', 3);
    await eventually(() => expect(a.doc.getMap('probe').get('from-b')).toBe(2));
    await eventually(() => expect(b.doc.getMap('probe').get('after')).toBe(3));
    await Promise.all([a.destroy(), b.destroy()]);
  });
});
