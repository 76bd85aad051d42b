import { IDBFactory } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSyncClientOn, type Platform, type SyncClient, type SyncClientOptions } from '../src/client.js';
import type { WebSocketConstructor } from '../src/doc/connection.js';
import { createIndexedDbOutboxStorage } from '../src/outbox/indexeddb-storage.js';
import type { FetchLike } from '../src/outbox/transport.js';
import { createInProcessLocks, createManualConnectivity, createManualLifecycle, noLifecycle, type ChannelPort } from '../src/ports.js';
import { eventually } from './fakes.js';
import { canonicalJson, computePlan } from '@prepmate/crdt-model';
import { mulberry32 } from '@prepmate/crdt-model/testing';
import { startFaultProxy, startTestServer, type Fault, type TestServer } from './server-helper.js';

/**
 * Against the real sync server (port 0, SQLite in a temp dir). Names say "when …, then …";
 * waiting is polling until a deadline, never a fixed sleep.
 */

const channel = (name: string): ChannelPort => new BroadcastChannel(name) as unknown as ChannelPort;

/** A "tab": browser-like platform on a shared fake IndexedDB factory. */
function tab(indexedDB: IDBFactory, locks = createInProcessLocks()): Platform {
  return {
    connectivity: createManualConnectivity(true),
    lifecycle: noLifecycle,
    locks,
    channel,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    outboxStorage: (userId) => createIndexedDbOutboxStorage({ indexedDB, dbName: `prepmate-outbox:${userId}` }),
    docPersistence: null,
    crossTab: false,
  };
}

let server: TestServer;
let userSeq = 0;
const newUser = (): string => `learner-${process.pid}-${++userSeq}`;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

function options(userId: string, extra: Partial<SyncClientOptions> = {}): SyncClientOptions {
  return {
    apiBaseUrl: server.url,
    wsUrl: server.wsUrl,
    userId,
    getToken: () => server.token(userId),
    documentSync: false,
    telemetry: { backoff: { baseMs: 20, maxMs: 300 }, syncIntervalMs: 60_000 },
    ...extra,
  };
}

describe('telemetry against the real server', () => {
  it('when 10 000 events are captured offline and the client comes online, then each is stored exactly once', async () => {
    const userId = newUser();
    const connectivity = createManualConnectivity(false);
    const client = createSyncClientOn(tab(new IDBFactory()), options(userId, { connectivity, telemetry: { batchSize: 200, backoff: { baseMs: 20, maxMs: 300 } } }));
    await client.ready;
    const ids = await Promise.all(Array.from({ length: 10_000 }, (_, i) => client.captureEvent('question_answered', { i, correct: i % 3 === 0 })));
    expect(client.status().queuedEvents).toBe(10_000);
    expect(await server.store.telemetry.countEvents(userId)).toBe(0);
    connectivity.setOnline(true);
    await eventually(() => expect(client.status().queuedEvents).toBe(0), 120_000, 100);
    const stored = await server.listEventIds(userId);
    expect(stored).toHaveLength(10_000);
    expect([...stored].sort()).toEqual([...ids].sort());
    await client.destroy();
  });

  it('when the network drops, fails, throttles, refuses as too large, stalls and duplicates, then every event is stored exactly once', async () => {
    const userId = newUser();
    const random = mulberry32(42);
    const faults: Fault[] = ['drop-request', 'drop-response', 'error-500', 'rate-429', 'too-large-413', 'slow', 'duplicate'];
    let n429 = 0;
    const proxy = await startFaultProxy(server.url, () => {
      if (random() < 0.5) return 'pass';
      let f = faults[Math.floor(random() * faults.length)]!;
      // Each 429 costs a real second of Retry-After; three show it is honoured.
      if (f === 'rate-429' && ++n429 > 3) f = 'pass';
      return f;
    }, 1200);
    const sent: string[] = [];
    const countingFetch: FetchLike = async (url, init) => {
      const body = JSON.parse(init.body as string) as { items: { itemData: { eventId: string } }[] };
      sent.push(...body.items.map((i) => i.itemData.eventId));
      return fetch(url, init);
    };
    const client = createSyncClientOn(
      tab(new IDBFactory()),
      options(userId, { apiBaseUrl: proxy.url, fetch: countingFetch, compressRequests: false, requestTimeoutMs: 800, telemetry: { batchSize: 40, backoff: { baseMs: 20, maxMs: 200 } } }),
    );
    await client.ready;
    const ids = await Promise.all(Array.from({ length: 1500 }, (_, i) => client.captureEvent('e', { i })));
    await client.flush();
    await eventually(async () => {
      if (client.status().queuedEvents > 0) await client.flush();
      expect(client.status().queuedEvents).toBe(0);
    }, 120_000, 200);
    const stored = await server.listEventIds(userId);
    expect(stored).toHaveLength(ids.length);
    expect([...stored].sort()).toEqual([...ids].sort());
    // Every kind of fault really happened, and some events really were delivered more than once.
    for (const f of faults) expect(proxy.counts[f], f).toBeGreaterThan(0);
    expect(sent.length).toBeGreaterThan(ids.length);
    await client.destroy();
    await proxy.close();
  });

  it('when two tabs share one IndexedDB, then one of them sends and no event is sent twice', async () => {
    const userId = newUser();
    const indexedDB = new IDBFactory();
    const locks = createInProcessLocks();
    const sends: string[][] = [];
    const fetchSpy: FetchLike = async (url, init) => {
      sends.push((JSON.parse(init.body as string) as { items: { itemData: { eventId: string } }[] }).items.map((i) => i.itemData.eventId));
      return fetch(url, init);
    };
    const a = createSyncClientOn(tab(indexedDB, locks), options(userId, { fetch: fetchSpy, compressRequests: false, telemetry: { batchSize: 25 } }));
    await a.ready;
    const b = createSyncClientOn(tab(indexedDB, locks), options(userId, { fetch: fetchSpy, compressRequests: false, telemetry: { batchSize: 25 } }));
    await b.ready;
    const ids = await Promise.all(Array.from({ length: 600 }, (_, i) => (i % 2 ? a : b).captureEvent('tab_event', { i })));
    await eventually(async () => {
      await a.flush();
      expect(a.status().queuedEvents).toBe(0);
    }, 60_000, 100);
    await eventually(() => expect(b.status().queuedEvents).toBe(0));
    const all = sends.flat();
    expect(all).toHaveLength(600);
    expect([...all].sort()).toEqual([...ids].sort());
    expect(a.status().telemetry.leader).not.toBe(b.status().telemetry.leader);
    expect(await server.store.telemetry.countEvents(userId)).toBe(600);
    await a.destroy();
    await b.destroy();
  });

  it('when the sending tab closes mid-flush, then the other tab takes over and every event is stored once', async () => {
    const userId = newUser();
    const indexedDB = new IDBFactory();
    const locks = createInProcessLocks();
    let slow = true;
    // The leader's requests are slow, so that it is closed with batches in flight.
    const slowFetch: FetchLike = async (url, init) => {
      if (slow) await new Promise((r) => setTimeout(r, 100));
      return fetch(url, init);
    };
    const a = createSyncClientOn(tab(indexedDB, locks), options(userId, { fetch: slowFetch, telemetry: { batchSize: 20 } }));
    await a.ready;
    const b = createSyncClientOn(tab(indexedDB, locks), options(userId, { telemetry: { batchSize: 20 } }));
    await b.ready;
    await eventually(() => expect(a.status().telemetry.leader).toBe(true));
    const ids = await Promise.all(Array.from({ length: 500 }, (_, i) => b.captureEvent('handover', { i })));
    await eventually(async () => expect(await server.store.telemetry.countEvents(userId)).toBeGreaterThan(0));
    await a.destroy(); // the tab closes; its lock goes to b
    slow = false;
    await eventually(() => expect(b.status().telemetry.leader).toBe(true));
    await eventually(async () => {
      await b.flush();
      expect(b.status().queuedEvents).toBe(0);
    }, 60_000, 100);
    const stored = await server.listEventIds(userId);
    expect(stored).toHaveLength(500);
    expect([...stored].sort()).toEqual([...ids].sort());
    await b.destroy();
  });

  it('when the page unloads in the middle of a flush, then nothing is lost and nothing is stored twice', async () => {
    const userId = newUser();
    const indexedDB = new IDBFactory();
    const lifecycle = createManualLifecycle();
    let requests = 0;
    let keepalives = 0;
    // The page dies while its second batch is in flight: the server got it, the page never hears back.
    const dyingFetch: FetchLike = async (url, init) => {
      const n = ++requests;
      if (init.keepalive) keepalives++;
      const res = await fetch(url, init);
      // Like a real fetch, the hung request ends only when aborted (destroy() aborts it).
      if (n === 2) return new Promise<Response>((_, reject) => init.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
      return res;
    };
    const connectivity = createManualConnectivity(false);
    const page1 = createSyncClientOn(tab(indexedDB), options(userId, { fetch: dyingFetch, lifecycle, connectivity, telemetry: { batchSize: 50 } }));
    await page1.ready;
    const ids = await Promise.all(Array.from({ length: 400 }, (_, i) => page1.captureEvent('before_unload', { i })));
    connectivity.setOnline(true);
    const flushing = page1.flush();
    await eventually(() => expect(requests).toBeGreaterThanOrEqual(2));
    lifecycle.fire('pagehide'); // keepalive chunks of what this page captured
    expect(keepalives).toBe(1);
    void flushing;
    await page1.destroy(); // the page is gone
    const page2 = createSyncClientOn(tab(indexedDB), options(userId));
    await page2.ready;
    await eventually(async () => {
      await page2.flush();
      expect(page2.status().queuedEvents).toBe(0);
    }, 60_000, 100);
    const stored = await server.listEventIds(userId);
    expect(stored).toHaveLength(400);
    expect([...stored].sort()).toEqual([...ids].sort());
    await page2.destroy();
  });

  it('when the token expires, then the next send refreshes it and nothing is lost', async () => {
    const userId = newUser();
    let refreshed = 0;
    const client = createSyncClientOn(
      tab(new IDBFactory()),
      options(userId, {
        getToken: ({ forceRefresh }) => {
          if (forceRefresh) refreshed++;
          return server.token(userId, forceRefresh ? 3600 : -60);
        },
      }),
    );
    await client.ready;
    await client.captureEvent('e');
    await client.flush();
    expect(refreshed).toBe(1);
    expect(await server.store.telemetry.countEvents(userId)).toBe(1);
    await client.destroy();
  });
});

describe('learner document against the real server', () => {
  /** A WebSocket whose incoming durable acks can be held back, to see `unsavedChanges` wait for them. */
  function holdableAcks(): { WS: WebSocketConstructor; hold: boolean; held: number } {
    const state = { hold: false, held: 0, WS: null as unknown as WebSocketConstructor };
    class HoldingSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        // y-websocket assigns `onmessage`; intercept the assignment to filter ack frames (type 100).
        const base = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!;
        let inner: ((ev: { data: unknown }) => void) | null = null;
        Object.defineProperty(this, 'onmessage', {
          get: () => inner,
          set: (fn: ((ev: { data: unknown }) => void) | null) => {
            inner = fn;
            base.set!.call(this, fn === null ? null : (ev: { data: unknown }) => {
              const bytes = new Uint8Array(ev.data as ArrayBuffer);
              if (bytes[0] === 100 && state.hold) {
                state.held++;
                return;
              }
              fn(ev);
            });
          },
        });
      }
    }
    state.WS = HoldingSocket as unknown as WebSocketConstructor;
    return state;
  }

  async function docClient(userId: string, extra: Partial<SyncClientOptions> = {}): Promise<SyncClient> {
    const c = createSyncClientOn(tab(new IDBFactory()), options(userId, { documentSync: true, ...extra }));
    await c.ready;
    return c;
  }

  it('when edits are made offline and the client reconnects, then the server has them and unsaved reaches 0 only after its ack', async () => {
    const userId = newUser();
    const connectivity = createManualConnectivity(false);
    const acks = holdableAcks();
    const client = await docClient(userId, { connectivity, WebSocket: acks.WS });
    client.document.updateTopic('graphs', { status: 'in_progress', goal: 'BFS and DFS' });
    client.document.recordAssessment({ assessmentId: 'a1', topicId: 'graphs', score: 80, completedAt: '2026-11-28T10:00:00.000Z' });
    expect(client.status()).toMatchObject({ connected: false, unsavedChanges: 2 });

    acks.hold = true;
    connectivity.setOnline(true);
    await eventually(() => expect(client.status().synced).toBe(true));
    await eventually(async () => {
      const p = await server.getJson<{ data: { topics: Record<string, { status?: string }> } }>('/api/progress', userId);
      expect(p.data.topics['graphs']?.status).toBe('in_progress');
    });
    // The server has the edits, but until its durable ack arrives they still count as unsaved.
    await eventually(() => expect(acks.held).toBeGreaterThan(0));
    expect(client.status().unsavedChanges).toBeGreaterThan(0);

    acks.hold = false;
    // Going offline closes the socket at once (a browser would keep it "open" while nothing gets through).
    connectivity.setOnline(false);
    await eventually(() => expect(client.status().connected).toBe(false));
    client.document.updateTopic('graphs', { notes: 'revise Dijkstra' });
    connectivity.setOnline(true);
    await client.whenSaved();
    expect(client.status().unsavedChanges).toBe(0);
    const p = await server.getJson<{ data: { topics: Record<string, { notes?: string }>; assessments: Record<string, unknown> } }>('/api/progress', userId);
    expect(p.data.topics['graphs']?.notes).toBe('revise Dijkstra');
    expect(p.data.assessments['a1']).toBeDefined();
    await client.destroy();
  });

  it('when assessments are logged offline, then the SDK\'s document plans them at once, and once saved GET /api/plan answers the same plan', async () => {
    const userId = newUser();
    const connectivity = createManualConnectivity(false);
    const client = await docClient(userId, { connectivity });
    const daysAgo = (n: number): string => new Date(Date.now() - n * 86_400_000).toISOString();
    client.document.recordAssessment({ assessmentId: 'p1', topicId: 'sql-joins', score: 55, completedAt: daysAgo(20), weakAreas: ['outer joins'] });
    client.document.recordAssessment({ assessmentId: 'p2', topicId: 'graphs', score: 95, completedAt: daysAgo(1) });
    const offline = computePlan(client.document.facts(), { now: new Date() });
    expect(client.status().connected).toBe(false);
    expect(offline.cards.map((c) => c.id).sort()).toEqual(['area:outer joins', 'topic:graphs', 'topic:sql-joins']);
    expect(offline.next[0]?.reason).toMatch(/^sql-joins: last scored 55, recall now ~\d+ %, due \d+ days? ago/);

    connectivity.setOnline(true);
    await client.whenSaved();
    const answer = await server.getJson<{ data: Record<string, unknown> }>('/api/plan', userId);
    const { basis, coaching: _coaching, ...plan } = answer.data;
    expect(basis).toBe('assessments');
    expect(canonicalJson(plan)).toBe(canonicalJson(computePlan(client.document.facts(), { now: new Date() })));
    await client.destroy();
  });

  it('when the connection drops with unacknowledged edits, then they are re-sent on reconnect with a fresh token', async () => {
    const userId = newUser();
    const connectivity = createManualConnectivity(true);
    let tokens = 0;
    const client = await docClient(userId, {
      connectivity,
      getToken: () => {
        tokens++;
        return server.token(userId);
      },
    });
    await eventually(() => expect(client.status().synced).toBe(true));
    const before = tokens;
    // Drop the socket from underneath (as a network failure would).
    client.provider?.ws?.close();
    client.document.updateTopic('trees', { status: 'completed' });
    await eventually(() => expect(client.status().unsavedChanges).toBe(0), 30_000);
    expect(tokens).toBeGreaterThan(before);
    const p = await server.getJson<{ data: { topics: Record<string, { status?: string }> } }>('/api/progress', userId);
    expect(p.data.topics['trees']?.status).toBe('completed');
    await client.destroy();
  });

  it('when the token expires on an open document socket, then the server closes it with 4401 and the client reconnects with a fresh token', async () => {
    // Its own server, pinging every second: the ping loop is what closes an idle expired socket.
    // Not faster: a socket that has not answered the last ping by the next is terminated, and
    // with 100 ms an event-loop stall under load dropped the reconnected socket too.
    const pinging = await startTestServer({}, undefined, { sync: { limits: { pingIntervalMs: 1_000 } } });
    try {
      const userId = newUser();
      // One timeline of token requests and closes, to see the refresh come after the 4401.
      const timeline: string[] = [];
      const client = await docClient(userId, {
        apiBaseUrl: pinging.url,
        wsUrl: pinging.wsUrl,
        getToken: ({ forceRefresh }) => {
          timeline.push(`token forceRefresh=${forceRefresh}`);
          // `exp` has one-second resolution: the first token runs out 1–2 s from now.
          return pinging.token(userId, forceRefresh ? 3600 : 2);
        },
      });
      client.provider?.on('connection-close', (event) => void (event && timeline.push(`close ${event.code}`)));
      await eventually(() => expect(client.status().synced).toBe(true));
      client.document.updateTopic('heaps', { status: 'in_progress' });
      await client.whenSaved();

      await eventually(() => expect(timeline).toContain('close 4401'), 10_000);
      await eventually(() => expect(timeline.slice(timeline.indexOf('close 4401'))).toContain('token forceRefresh=true'));
      await eventually(() => expect(client.status()).toMatchObject({ connected: true, synced: true }));
      // Edits after the reconnect reach the server over the new socket.
      client.document.updateTopic('heaps', { status: 'completed' });
      await client.whenSaved();
      const p = await pinging.getJson<{ data: { topics: Record<string, { status?: string }> } }>('/api/progress', userId);
      expect(p.data.topics['heaps']?.status).toBe('completed');
      // An expected, handled close: not reported as an error, and the socket stays up.
      expect(client.status()).toMatchObject({ connected: true, lastError: null });
      expect(timeline.filter((entry) => entry === 'close 4401')).toHaveLength(1);
      await client.destroy();
    } finally {
      await pinging.close();
    }
  });
});

