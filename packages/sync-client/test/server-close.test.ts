import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { createSyncClientOn } from '../src/client.js';
import { AckTracker } from '../src/doc/ack.js';
import { connectDocument, type DocConnection, type WebSocketConstructor } from '../src/doc/connection.js';
import { closePolicy, quotaRetryDelay, SERVER_CLOSE_CODES, type ServerClose } from '../src/doc/server-close.js';
import { createIndexedDbOutboxStorage } from '../src/outbox/indexeddb-storage.js';
import { createManualConnectivity, noLifecycle } from '../src/ports.js';
import { createFakeClock, eventually, settle } from './fakes.js';
import { startTestServer, type TestServer } from './server-helper.js';

/**
 * The server's named closes (quotas, slow reader, awareness) against the real server: the SDK
 * reports them as a typed reason and never reconnects in a loop. Reconnect timers run on a fake
 * clock, so "no reconnect before N seconds" is checked without waiting N seconds.
 */

/** A `ws` WebSocket that counts how many were made. */
function countingSocket(): { WS: WebSocketConstructor; made: () => number } {
  let made = 0;
  class Counting extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      made++;
    }
  }
  return { WS: Counting as unknown as WebSocketConstructor, made: () => made };
}

interface Harness {
  readonly connection: DocConnection;
  readonly closes: ServerClose[];
  readonly errors: string[];
  readonly made: () => number;
  readonly clock: ReturnType<typeof createFakeClock>;
  readonly connectivity: ReturnType<typeof createManualConnectivity>;
  readonly doc: Y.Doc;
}

const open: Array<{ connection: DocConnection; server: TestServer }> = [];
afterEach(async () => {
  for (const { connection, server } of open.splice(0)) {
    connection.destroy();
    await server.close();
  }
});

async function harness(env: Record<string, string>, docName: string, prepare: (doc: Y.Doc) => void = () => undefined): Promise<Harness & { server: TestServer }> {
  const server = await startTestServer(env);
  const { WS, made } = countingSocket();
  const clock = createFakeClock(Date.now());
  const connectivity = createManualConnectivity(true);
  const doc = new Y.Doc();
  prepare(doc);
  const closes: ServerClose[] = [];
  const errors: string[] = [];
  const userId = docName.split('/')[0]!;
  const connection = connectDocument({
    wsUrl: server.wsUrl,
    docName,
    doc,
    getToken: () => server.token(userId),
    WebSocket: WS,
    connectivity,
    tracker: new AckTracker(),
    clock,
    random: () => 0.5,
    crossTab: false,
    onChange: () => undefined,
    onError: (message) => errors.push(message),
    onServerClose: (close) => closes.push(close),
  });
  open.push({ connection, server });
  connection.connect();
  return { server, connection, closes, errors, made, clock, connectivity, doc };
}

describe('named server closes reach the app as a typed reason', () => {
  it('maps every named close code to its reason and policy: stop, or wait longer each time', () => {
    expect(closePolicy(SERVER_CLOSE_CODES['document-too-large'])).toEqual({ reason: 'document-too-large', minRetryMs: null });
    expect(closePolicy(SERVER_CLOSE_CODES['too-many-documents'])).toEqual({ reason: 'too-many-documents', minRetryMs: null });
    expect(closePolicy(SERVER_CLOSE_CODES['awareness-too-large'])).toEqual({ reason: 'awareness-too-large', minRetryMs: null });
    expect(closePolicy(SERVER_CLOSE_CODES['slow-reader'])?.reason).toBe('slow-reader');
    expect(closePolicy(SERVER_CLOSE_CODES['too-many-sockets'])?.minRetryMs).toBe(60_000);
    expect(closePolicy(SERVER_CLOSE_CODES['write-rate-exceeded'])?.minRetryMs).toBe(30_000);
    expect(closePolicy(1001)).toBeNull();
    expect([1, 2, 3, 10].map((n) => quotaRetryDelay(30_000, n))).toEqual([30_000, 60_000, 120_000, 600_000]);
  });

  it('when an update would pass the server’s document quota, then the SDK reports document-too-large, keeps the edits and does not reconnect', async () => {
    const h = await harness({ SYNC_MAX_DOCUMENT_BYTES: '65536' }, 'quota-doc', (doc) => doc.getText('notes').insert(0, 'x'.repeat(100_000)));
    await eventually(() => expect(h.closes.map((c) => c.reason)).toEqual(['document-too-large']));
    expect(h.closes[0]).toMatchObject({ code: 4430, retryAt: null });
    expect(h.connection.serverClose?.reason).toBe('document-too-large');
    expect(h.errors.join('\n')).toContain('document-too-large');
    // No reconnect: not on a timer, not when the device comes back online.
    await h.clock.advance(60 * 60_000);
    h.connectivity.setOnline(false);
    h.connectivity.setOnline(true);
    await h.clock.advance(60 * 60_000);
    await settle();
    expect(h.made()).toBe(1);
    expect(h.doc.getText('notes').length).toBe(100_000);
  });

  it('when the learner writes faster than the server sustains, then the SDK reports write-rate-exceeded and reconnects only after the wait', async () => {
    const h = await harness({ SYNC_WRITE_BYTES_PER_SECOND: '1024', SYNC_WRITE_BURST_BYTES: '1024' }, 'quota-rate', (doc) => doc.getText('notes').insert(0, 'y'.repeat(5_000)));
    await eventually(() => expect(h.connection.synced).toBe(true));
    // The first 5 KB were admitted on a full budget; the next write finds it spent.
    h.doc.getText('notes').insert(0, 'z');
    await eventually(() => expect(h.closes.map((c) => c.reason)).toEqual(['write-rate-exceeded']));
    const close = h.closes[0]!;
    expect(close.code).toBe(4429);
    expect(close.retryAt).toBe(close.at + 30_000);
    expect(h.made()).toBe(1);
    await h.clock.advance(29_000);
    await settle();
    expect(h.made()).toBe(1);
    await h.clock.advance(1_000);
    await eventually(() => expect(h.made()).toBe(2));
  });

  it('when the learner already holds the server’s socket quota, then the SDK reports too-many-sockets and waits at least a minute', async () => {
    const h0 = await startTestServer({ SYNC_MAX_SOCKETS_PER_LEARNER: '1' });
    const holder = new WebSocket(`${h0.wsUrl}/busy?token=${await h0.token('busy')}`);
    await new Promise((resolve) => holder.once('open', resolve));
    const { WS, made } = countingSocket();
    const clock = createFakeClock(Date.now());
    const closes: ServerClose[] = [];
    const connection = connectDocument({
      wsUrl: h0.wsUrl,
      docName: 'busy',
      doc: new Y.Doc(),
      getToken: () => h0.token('busy'),
      WebSocket: WS,
      connectivity: createManualConnectivity(true),
      tracker: new AckTracker(),
      clock,
      random: () => 0.5,
      crossTab: false,
      onChange: () => undefined,
      onError: () => undefined,
      onServerClose: (c) => closes.push(c),
    });
    open.push({ connection, server: h0 });
    connection.connect();
    await eventually(() => expect(closes.map((c) => c.reason)).toEqual(['too-many-sockets']));
    expect(closes[0]!.retryAt).toBe(closes[0]!.at + 60_000);
    await clock.advance(59_000);
    await settle();
    expect(made()).toBe(1);
    holder.close();
  });

  it('when the server closes the learner document with a quota code, then SyncClient.status().serverClose and the document:closed event say which', async () => {
    const server = await startTestServer({ SYNC_MAX_DOCUMENT_BYTES: '65536' });
    const indexedDB = new IDBFactory();
    const client = createSyncClientOn(
      {
        connectivity: createManualConnectivity(true),
        lifecycle: noLifecycle,
        locks: null,
        channel: null,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        outboxStorage: (userId) => createIndexedDbOutboxStorage({ indexedDB, dbName: `prepmate-outbox:${userId}` }),
        docPersistence: null,
        crossTab: false,
      },
      { apiBaseUrl: server.url, wsUrl: server.wsUrl, userId: 'full-learner', getToken: () => server.token('full-learner'), telemetry: { syncIntervalMs: 60_000 } },
    );
    const events: ServerClose[] = [];
    client.on('document:closed', (close) => events.push(close));
    try {
      await client.ready;
      await eventually(() => expect(client.status().synced).toBe(true));
      // About 100 KB of notes over 25 topics: past the 64 KiB quota.
      for (let i = 0; i < 25; i++) client.document.updateTopic(`topic-${i}`, { status: 'in_progress', notes: 'n'.repeat(4_000) });
      await eventually(() => expect(client.status().serverClose?.reason).toBe('document-too-large'));
      expect(events.map((e) => e.reason)).toEqual(['document-too-large']);
      expect(client.status()).toMatchObject({ connected: false, serverClose: { code: 4430, retryAt: null } });
      // The edit stays on the device, counted as unsaved.
      expect(client.status().unsavedChanges).toBeGreaterThan(0);
      expect(client.document.getTopic('topic-24')?.status).toBe('in_progress');
    } finally {
      await client.destroy();
      await server.close();
    }
  });
});
