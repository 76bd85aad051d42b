import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { asDocName, asUserId } from '../../src/ids.js';
import type { Store } from '../../src/storage/ports.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { MessageType, readDurableAck, writeSyncUpdate } from '../../src/protocol/wire.js';
import {
  backendFactories,
  connectClient,
  rawSocket,
  readStored,
  startSyncServer,
  until,
  type StoreBackend,
  type SyncTestServer,
  type TestClient,
} from '../helpers/sync.js';

describe.each(backendFactories())('sync server on $name', ({ create }) => {
  let backend: StoreBackend;
  let store: Store;
  let server: SyncTestServer;
  const clients: TestClient[] = [];
  const client = (docName: string, token: string, params: Record<string, string> = {}): TestClient => {
    const c = connectClient(server.syncUrl, docName, token, params);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    backend = await create();
    store = await backend.open();
    server = await startSyncServer(store);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });
  afterAll(async () => {
    await server?.stop();
    await store?.close();
    await backend?.remove();
  });

  it('when two devices of one learner edit the same document, then both converge and the store has it', async () => {
    const token = await server.tokens.sign('alice');
    const a = client('alice', token);
    const b = client('alice', token);
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    a.map.set('from-a', 1);
    b.map.set('from-b', 2);
    a.doc.getText('t').insert(0, 'hello ');
    b.doc.getText('t').insert(0, 'world ');
    await until(() => a.map.size === 2 && b.map.size === 2 && a.doc.getText('t').toString() === b.doc.getText('t').toString() && a.doc.getText('t').length === 12, 'convergence');
    await until(async () => (await readStored(store, 'alice')).getMap('m').size === 2, 'durable');
  });

  it('when a client sets awareness, then others see it, and when it closes, then its state is removed', async () => {
    const token = await server.tokens.sign('bob');
    const a = client('bob/notes', token);
    const b = client('bob/notes', token);
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    a.provider.awareness.setLocalStateField('user', { name: 'A' });
    const aId = a.doc.clientID;
    await until(() => (b.provider.awareness.getStates().get(aId) as { user?: { name: string } } | undefined)?.user?.name === 'A', 'awareness seen');
    a.provider.destroy();
    await until(() => !b.provider.awareness.getStates().has(aId), 'awareness removed');
  });

  it('when a new client joins, then the server sends the current awareness, and query-awareness answers it', async () => {
    const token = await server.tokens.sign('carol');
    const a = client('carol', token);
    await a.whenSynced();
    a.provider.awareness.setLocalStateField('cursor', 3);
    const b = client('carol', token);
    await until(() => b.provider.awareness.getStates().has(a.doc.clientID), 'awareness on join');
  });

  it('when the server restarts, then everything written before is served again', async () => {
    const token = await server.tokens.sign('dave');
    const a = client('dave', token);
    await a.whenSynced();
    for (let i = 0; i < 50; i++) a.map.set(`k${i}`, i);
    await until(async () => (await readStored(store, 'dave')).getMap('m').size === 50, 'durable');
    a.destroy();
    clients.length = 0;
    await server.stop();
    await store.close();
    store = await backend.open();
    server = await startSyncServer(store);
    const fresh = client('dave', await server.tokens.sign('dave'));
    await fresh.whenSynced();
    expect(fresh.map.size).toBe(50);
    expect(fresh.map.get('k49')).toBe(49);
  });

  it('when the upgrade carries no, a bad, an expired or another learner’s token, then 401/403 before any socket; a service token opens any document', async () => {
    const base = `${server.syncUrl}/erin`;
    expect(await rawSocket(base)).toMatchObject({ status: 401 });
    expect(await rawSocket(`${base}?token=not-a-jwt`)).toMatchObject({ status: 401 });
    const expired = await server.tokens.sign('erin', { expiresInSeconds: -10 });
    expect(await rawSocket(`${base}?token=${expired}`)).toMatchObject({ status: 401 });
    const other = await server.tokens.sign('mallory');
    expect(await rawSocket(`${base}?token=${other}`)).toMatchObject({ status: 403 });
    expect(await rawSocket(`${base}/private?token=${other}`)).toMatchObject({ status: 403 });
    const refused = await rawSocket(`${base}?token=${other}`);
    expect('body' in refused && JSON.parse(refused.body)).toMatchObject({ success: false, error: { code: 'FORBIDDEN' } });
    expect(await rawSocket(`${server.syncUrl}/bad..name?token=${other}`)).toMatchObject({ status: 400 });
    expect(await rawSocket(`ws://127.0.0.1:${server.port}/elsewhere?token=${other}`)).toMatchObject({ status: 404 });
    expect(server.service.status().connections).toBe(0);
    const service = await server.tokens.sign('reports', { role: 'service' });
    const opened = await rawSocket(`${base}?token=${service}`);
    expect('ws' in opened).toBe(true);
    if ('ws' in opened) opened.ws.close();
    const own = await rawSocket(`${base}?token=${await server.tokens.sign('erin')}`);
    expect('ws' in own).toBe(true);
    if ('ws' in own) own.ws.close();
  });

  it('when a socket’s token expires while it is open, then it is closed with TOKEN_EXPIRED and only that socket stops syncing', async () => {
    // Its own server with a short ping interval: the ping loop is what closes an idle socket. Not
    // shorter than 1 s: a socket that has not answered the last ping by the next is terminated,
    // and with 100 ms an event-loop stall under load terminated the socket that must stay.
    const pinging = await startSyncServer(store, { options: { limits: { pingIntervalMs: 1_000 } } });
    const local: TestClient[] = [];
    try {
      // `exp` has one-second resolution: this one expires 1–2 s from now.
      const short = await pinging.tokens.sign('olga', { expiresInSeconds: 2 });
      const long = await pinging.tokens.sign('olga');
      const expiring = connectClient(pinging.syncUrl, 'olga', short);
      const staying = connectClient(pinging.syncUrl, 'olga', long);
      local.push(expiring, staying);
      const closes: number[] = [];
      expiring.provider.on('connection-close', (event: { code: number } | null) => event && closes.push(event.code));
      await Promise.all([expiring.whenSynced(), staying.whenSynced()]);
      expiring.map.set('before', 1);
      await until(() => staying.map.get('before') === 1, 'synced before expiry');

      await until(() => closes.includes(CloseCode.TOKEN_EXPIRED), 'closed with 4401');
      // The stock client treats 44xx as final: it does not come back with the dead token.
      expect(expiring.provider.shouldConnect).toBe(false);
      expiring.map.set('after', 1);
      staying.map.set('still', 2);
      const observer = connectClient(pinging.syncUrl, 'olga', long);
      local.push(observer);
      await until(() => observer.map.get('still') === 2, 'the long-lived socket keeps syncing');
      await until(async () => (await readStored(store, 'olga')).getMap('m').get('still') === 2, 'durable');
      expect(staying.provider.wsconnected).toBe(true);
      expect(closes.filter((code) => code === CloseCode.TOKEN_EXPIRED)).toHaveLength(1);
      expect(observer.map.has('after')).toBe(false);
      expect(staying.map.has('after')).toBe(false);
      expect((await readStored(store, 'olga')).getMap('m').has('after')).toBe(false);
      expect(await pinging.registry.metrics()).toMatch(/prepmate_sync_sockets_closed_total\{[^}]*code="4401"[^}]*\} 1\b/);
    } finally {
      for (const c of local) c.destroy();
      await pinging.stop();
    }
  });

  /**
   * A stock client with a valid token, and a raw socket on the same document whose token expires
   * 1–2 s from now (`exp` has one-second resolution). The suite's server pings every 30 s, so
   * the ping loop never finds the expiry in these tests.
   */
  async function expiringSocket(docName: string) {
    const short = await server.tokens.sign(docName, { expiresInSeconds: 2 });
    const valid = client(docName, await server.tokens.sign(docName));
    await valid.whenSynced();
    const opened = await rawSocket(`${server.syncUrl}/${docName}?token=${short}`);
    if (!('ws' in opened)) throw new Error('refused');
    const socket = { ws: opened.ws, received: [] as Buffer[], closeCode: null as number | null };
    opened.ws.on('message', (data: Buffer) => socket.received.push(data));
    opened.ws.once('close', (code) => (socket.closeCode = code));
    const expired = async (): Promise<void> => {
      await until(async () => server.tokens.verify(short).then(() => false, () => true), 'token expired', 5_000);
      expect(opened.ws.readyState).toBe(WebSocket.OPEN);
    };
    return { valid, socket, expired };
  }

  it('when a frame arrives after the socket’s token expired, then nothing of it is applied and the socket is closed with TOKEN_EXPIRED', async () => {
    const { valid: watcher, socket, expired } = await expiringSocket('pia');
    await expired();

    const late = new Y.Doc();
    late.getMap('m').set('late', 1);
    socket.ws.send(writeSyncUpdate(Y.encodeStateAsUpdate(late)));
    await until(() => socket.closeCode !== null, 'closed');
    expect(socket.closeCode).toBe(CloseCode.TOKEN_EXPIRED);
    // A later write of the valid socket is durable; the late update is nowhere.
    watcher.map.set('marker', 1);
    await until(async () => (await readStored(store, 'pia')).getMap('m').get('marker') === 1, 'marker durable');
    expect((await readStored(store, 'pia')).getMap('m').has('late')).toBe(false);
    expect(watcher.map.has('late')).toBe(false);
    expect(watcher.provider.wsconnected).toBe(true);
  });

  it('when an idle socket’s token has expired, then the next broadcast closes it with TOKEN_EXPIRED and delivers nothing to it', async () => {
    const { valid: writer, socket, expired } = await expiringSocket('quinn');
    writer.map.set('before', 1);
    await until(() => socket.received.some((f) => f[0] === MessageType.SYNC && f[1] === 2), 'a live update before expiry'); // [sync, update, …]
    await expired();

    const heardBefore = socket.received.length;
    writer.map.set('secret', 'after expiry');
    await until(() => socket.closeCode !== null, 'closed');
    expect(socket.closeCode).toBe(CloseCode.TOKEN_EXPIRED);
    expect(socket.received.slice(heardBefore)).toEqual([]);
    expect(writer.provider.wsconnected).toBe(true);
  });

  it('when a socket sends garbage or an oversized frame, then only that socket is closed with a named code', async () => {
    const token = await server.tokens.sign('frank');
    const a = client('frank', token);
    await a.whenSynced();
    a.map.set('before', 1);
    const closeCodeOf = async (frame: Buffer | string): Promise<number> => {
      const opened = await rawSocket(`${server.syncUrl}/frank?token=${token}`);
      if (!('ws' in opened)) throw new Error('refused');
      return new Promise<number>((resolve) => {
        opened.ws.once('close', (code) => resolve(code));
        opened.ws.send(frame);
      });
    };
    expect(await closeCodeOf(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(CloseCode.MALFORMED_MESSAGE);
    expect(await closeCodeOf(Buffer.from([42]))).toBe(CloseCode.MALFORMED_MESSAGE);
    expect(await closeCodeOf(Buffer.from([0, 2, 5, 1, 2, 3, 4, 5]))).toBe(CloseCode.MALFORMED_MESSAGE); // not a Yjs update
    expect(await closeCodeOf(Buffer.from([0, 0, 1, 0, 7]))).toBe(CloseCode.MALFORMED_MESSAGE); // trailing byte
    expect(await closeCodeOf(Buffer.from([1, 3, 1, 2]))).toBe(CloseCode.MALFORMED_MESSAGE); // truncated awareness
    expect(await closeCodeOf('hello')).toBe(CloseCode.UNSUPPORTED_DATA);
    expect(await closeCodeOf(Buffer.alloc(128 * 1024, 0))).toBe(CloseCode.MESSAGE_TOO_BIG);
    // The document and the well-behaved client are unaffected.
    expect(a.provider.wsconnected).toBe(true);
    a.map.set('after', 2);
    const b = client('frank', token);
    await until(() => b.map.get('after') === 2 && b.map.get('before') === 1, 'document intact');
  });

  it('when a client connects with ?ack=1, then it receives durable acknowledgements covering its updates', async () => {
    const token = await server.tokens.sign('gina');
    const a = client('gina', token, { ack: '1' });
    const acks: Array<{ messages: number; stateVector: Uint8Array }> = [];
    a.provider.messageHandlers[MessageType.DURABLE_ACK] = (_encoder: encoding.Encoder, decoder: { arr: Uint8Array }) => {
      acks.push(readDurableAck(decoder.arr));
    };
    await a.whenSynced();
    for (let i = 0; i < 10; i++) a.map.set(`k${i}`, i);
    const myClock = Y.getState(a.doc.store, a.doc.clientID);
    await until(() => acks.some((ack) => (Y.decodeStateVector(ack.stateVector).get(a.doc.clientID) ?? 0) >= myClock), 'ack covering all updates');
    // Acknowledged means in the store.
    expect((await readStored(store, 'gina')).getMap('m').size).toBe(10);
    // The message counter covers the 10 updates plus the step 2 sent on connect.
    expect(acks[acks.length - 1]!.messages).toBeGreaterThanOrEqual(11);
    // A stock client (no ?ack) never receives the type.
    const plain = client('gina', token);
    let unexpected = 0;
    plain.provider.messageHandlers[MessageType.DURABLE_ACK] = () => void (unexpected += 1);
    await plain.whenSynced();
    a.map.set('more', 1);
    await until(() => plain.map.get('more') === 1, 'plain client got update');
    await until(async () => (await readStored(store, 'gina')).getMap('m').has('more'), 'durable');
    expect(unexpected).toBe(0);
  });

  it('when the REST side changes a document, then connected clients see it at once and it is logged with its author', async () => {
    const token = await server.tokens.sign('hank');
    const a = client('hank', token);
    await a.whenSynced();
    await server.service.documents.change(asDocName('hank'), 'service:test', (doc) => doc.getMap('m').set('server', 'yes'));
    await until(() => a.map.get('server') === 'yes', 'client saw server change');
    const history = await server.service.documents.history('hank', 100);
    expect(history.some((u) => u.author === 'service:test')).toBe(true);
    a.map.set('client', 1);
    await until(async () => (await server.service.documents.history('hank', 100)).some((u) => u.author === 'hank'), 'client author logged');
    const json = await server.service.documents.readLearner(asUserId('hank'));
    expect(json).toHaveProperty('topics');
  });

  it('when the snapshot job runs, then logs are folded into snapshots and one batch log is written', async () => {
    const token = await server.tokens.sign('ivy');
    const a = client('ivy', token);
    await a.whenSynced();
    for (let i = 0; i < 20; i++) a.map.set(`k${i}`, i);
    await until(async () => (await store.documents.loadDocument('ivy')).updates.length > 0 && (await readStored(store, 'ivy')).getMap('m').size === 20, 'logged');
    const result = await server.service.runSnapshots();
    expect(result.compacted).toBeGreaterThanOrEqual(1);
    const loaded = await store.documents.loadDocument('ivy');
    expect(loaded.updates.length).toBe(0);
    expect(loaded.snapshot).not.toBeNull();
    expect((await readStored(store, 'ivy')).getMap('m').size).toBe(20);
    const logs = await store.batchLogs.listSince(new Date(Date.now() - 60_000), 100);
    expect(logs.some((l) => l.kind === 'snapshot')).toBe(true);
    // Later updates land in the log again, after the snapshot.
    a.map.set('after', true);
    await until(async () => (await readStored(store, 'ivy')).getMap('m').get('after') === true, 'after snapshot');
  });

  it('when the last client leaves, then the document is unloaded after its log is flushed', async () => {
    const token = await server.tokens.sign('jack');
    const a = client('jack', token);
    await a.whenSynced();
    a.map.set('x', 1);
    await until(() => server.service.status().loadedDocuments >= 1, 'loaded');
    a.destroy();
    await until(() => server.service.status().connections === 0 && server.service.status().loadedDocuments === 0, 'unloaded');
    expect((await readStored(store, 'jack')).getMap('m').get('x')).toBe(1);
  });

  it('when a raw client floods messages above the rate limit, then it is slowed down, not disconnected', async () => {
    const limited = await startSyncServer(store, { options: { limits: { messagesPerSecond: 500, burst: 50 } } });
    try {
      const token = await limited.tokens.sign('kate');
      const opened = await rawSocket(`${limited.syncUrl}/kate?token=${token}`);
      if (!('ws' in opened)) throw new Error('refused');
      const ws = opened.ws;
      // Updates, not step 1s: a step 1 that arrives while the answer to another is still queued is not answered.
      const source = new Y.Doc();
      const frames: Buffer[] = [];
      for (let i = 0; i < 300; i++) {
        const before = Y.encodeStateVector(source);
        source.getMap('m').set(`k${i}`, i);
        const update = Y.encodeStateAsUpdate(source, before);
        frames.push(Buffer.from(writeSyncUpdate(update)));
      }
      const observer = connectClient(limited.syncUrl, 'kate', token);
      const started = performance.now();
      for (const frame of frames) ws.send(frame);
      await until(() => observer.map.size === 300, 'all applied', 10_000);
      observer.destroy();
      // 250 messages above the burst at 500/s take at least ~0.5 s.
      expect(performance.now() - started).toBeGreaterThan(400);
      expect(ws.readyState).toBe(WebSocket.OPEN);
      ws.close();
    } finally {
      await limited.stop();
    }
  });
});
