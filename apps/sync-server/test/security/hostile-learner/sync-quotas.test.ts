import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/storage/ports.js';
import { backendFactories, connectClient, readStored, startSyncServer, until, useSqliteSyncServer, type StoreBackend, type SyncTestServer } from '../../helpers/sync.js';
import { eventItem, progressItem, uid } from '../../api/fixtures.js';
import { attackerSocket, bigUpdate, closedWith, MiB, sendFrame, updateFrame, victimRoundTrip } from './sync-attacker.js';

/** Resolves with the close code the socket receives. */
const closeCode = (ws: WebSocket): Promise<number> => new Promise((resolve) => ws.once('close', (code) => resolve(code)));

/**
 * Opens a socket and resolves with the code it is closed with, listening from before the upgrade
 * completes (a quota refusal closes right after it).
 */
async function closedAtOnce(server: SyncTestServer, userId: string, docName: string): Promise<number> {
  const token = await server.tokens.sign(userId);
  const ws = new WebSocket(`${server.syncUrl}/${encodeURIComponent(docName)}?token=${token}`);
  ws.on('error', () => undefined);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

/** A stock client of `userId` on `docName` syncs (the socket was accepted and answered). */
async function syncs(server: SyncTestServer, userId: string, docName: string, check?: (client: ReturnType<typeof connectClient>) => boolean): Promise<void> {
  const client = connectClient(server.syncUrl, docName, await server.tokens.sign(userId));
  try {
    await client.whenSynced();
    if (check) await until(() => check(client), `${docName}: the synced content`);
  } finally {
    client.destroy();
  }
}

const storedText = async (store: Store, docName: string): Promise<number> => {
  const doc = await readStored(store, docName);
  const length = doc.getText('t').length;
  doc.destroy();
  return length;
};

/** Storage is involved (stored sizes, stored documents): every store the suites run on. */
describe.each(backendFactories())('hostile learner: document quotas on $name', ({ create }) => {
  let backend: StoreBackend;
  let store: Store;
  let server: SyncTestServer;
  beforeAll(async () => {
    backend = await create();
    store = await backend.open();
    server = await startSyncServer(store, { config: { SYNC_MAX_MESSAGE_BYTES: 12 * MiB, SYNC_MAX_DOCUMENT_BYTES: 256 * 1024, SYNC_MAX_DOCUMENTS_PER_LEARNER: 3 } });
  });
  afterAll(async () => {
    await server?.stop();
    await store?.close();
    await backend?.remove();
  });

  it('when an update would take a document past SYNC_MAX_DOCUMENT_BYTES, then the socket is closed with 4430, the update is not stored and what was stored stays', async () => {
    const docName = 'mallory/big';
    const ws = await attackerSocket(server, 'mallory', docName);
    await sendFrame(ws, updateFrame(bigUpdate(150_000, 1)));
    await until(async () => (await storedText(store, docName)) === 150_000, 'the first update is stored');
    const code = closeCode(ws);
    await sendFrame(ws, updateFrame(bigUpdate(150_000, 2)));
    expect(await code).toBe(4430);
    expect(await closedWith(server, 4430)).toBeGreaterThanOrEqual(1);
    await victimRoundTrip(server, 'alice', 'while-mallory-is-full');
    // Nothing of the refused update, everything of the first: stored and served to a new device.
    expect(await storedText(store, docName)).toBe(150_000);
    await syncs(server, 'mallory', docName, (c) => c.doc.getText('t').length === 150_000);
    // The cap refuses what would pass it, not the document: a small edit still fits.
    const small = await attackerSocket(server, 'mallory', docName);
    await sendFrame(small, updateFrame(bigUpdate(1_000, 3)));
    await until(async () => (await storedText(store, docName)) === 151_000, 'a small update still fits under the cap');
    small.close();
  }, 60_000);

  it('when a REST batch would change a full learner document, then its progress items are refused with QUOTA_EXCEEDED and nothing of them is stored, while its events are', async () => {
    const learner = uid('full');
    const ws = await attackerSocket(server, learner, learner);
    // 60 bytes below the 256 KiB cap: a progress item (about 100 bytes of JSON) would pass it.
    const overhead = bigUpdate(1_000, 5).byteLength - 1_000;
    const length = 256 * 1024 - 60 - overhead;
    await sendFrame(ws, updateFrame(bigUpdate(length, 5)));
    await until(async () => (await storedText(store, learner)) === length, 'the learner document holds what fitted');
    ws.close();
    const token = await server.tokens.sign(learner);
    const eventId = uid('e');
    const res = await fetch(`${server.running.url}/api/telemetry/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ batchId: uid('b'), items: [eventItem(eventId), progressItem('graphs')] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { results: Array<{ index: number; status: string; error?: { code: string; message: string } }> } };
    expect(body.data.results[0]).toMatchObject({ index: 0, status: 'stored' });
    expect(body.data.results[1]).toMatchObject({ index: 1, status: 'rejected', error: { code: 'QUOTA_EXCEEDED' } });
    expect(body.data.results[1]!.error!.message).toContain('SYNC_MAX_DOCUMENT_BYTES');
    const stored = await readStored(store, learner);
    expect(stored.getText('t').length).toBe(length);
    expect(JSON.stringify(stored.toJSON())).not.toContain('graphs');
    expect(await store.syncQueue.listForUser(learner, 10)).toEqual([]);
  }, 60_000);

  it('when a learner already has SYNC_MAX_DOCUMENTS_PER_LEARNER documents, then a new one is closed with 4431 while the existing ones and other learners open', async () => {
    for (const name of ['n1', 'n2', 'n3']) {
      const client = connectClient(server.syncUrl, `mallory-docs/${name}`, await server.tokens.sign('mallory-docs'));
      await client.whenSynced();
      client.map.set('kept', name);
      await until(async () => (await readStored(store, `mallory-docs/${name}`)).getMap('m').get('kept') === name, `${name} stored`);
      client.destroy();
    }
    expect(await closedAtOnce(server, 'mallory-docs', 'mallory-docs/n4')).toBe(4431);
    expect((await store.documents.listUserDocuments('mallory-docs')).sort()).toEqual(['mallory-docs/n1', 'mallory-docs/n2', 'mallory-docs/n3']);
    // Existing documents and the learner document itself are not new: they open as before.
    await syncs(server, 'mallory-docs', 'mallory-docs/n1', (c) => c.map.get('kept') === 'n1');
    await syncs(server, 'mallory-docs', 'mallory-docs');
    // Another learner has a quota of its own.
    await syncs(server, 'alice-docs', 'alice-docs/n4');
    await victimRoundTrip(server, 'alice-docs', 'beside-mallory');
  }, 60_000);
});

describe('hostile learner: sockets per learner', () => {
  const fixture = useSqliteSyncServer({ config: { SYNC_MAX_SOCKETS_PER_LEARNER: 4 } });

  it('when a learner opens more than SYNC_MAX_SOCKETS_PER_LEARNER sockets, then the next is closed with 4432, other learners connect, and a closed socket frees its place', async () => {
    const { server } = fixture;
    const open: WebSocket[] = [];
    for (let i = 0; i < 4; i++) open.push(await attackerSocket(server, 'mallory', 'mallory/tabs'));
    expect(await closedAtOnce(server, 'mallory', 'mallory/tabs')).toBe(4432);
    expect(await closedAtOnce(server, 'mallory', 'mallory/other')).toBe(4432);
    await victimRoundTrip(server, 'alice', 'beside-many-sockets');
    // Every one of the four is still served.
    for (const ws of open) expect(ws.readyState).toBe(WebSocket.OPEN);
    const first = open.shift()!;
    const gone = closeCode(first);
    first.close();
    await gone;
    await until(async () => {
      const client = connectClient(server.syncUrl, 'mallory/tabs', await server.tokens.sign('mallory'));
      try {
        await client.whenSynced(2_000);
        return true;
      } catch {
        return false;
      } finally {
        client.destroy();
      }
    }, 'a socket opens again once one closed');
    for (const ws of open) ws.close();
  }, 60_000);
});

describe('hostile learner: write bytes per second per learner', () => {
  const fixture = useSqliteSyncServer({ config: { SYNC_MAX_MESSAGE_BYTES: 12 * MiB, SYNC_WRITE_BYTES_PER_SECOND: 1024, SYNC_WRITE_BURST_BYTES: 64 * 1024 } });

  it('when a learner writes faster than SYNC_WRITE_BYTES_PER_SECOND beyond the burst, then the socket is closed with 4429, the admitted updates are stored and a reconnect does not refill the budget', async () => {
    const { server, store } = fixture;
    const docName = 'mallory/fast';
    const ws = await attackerSocket(server, 'mallory', docName);
    const code = closeCode(ws);
    // 64 KiB of budget: the first two frames are admitted (the second while budget is left), the third finds it spent.
    await sendFrame(ws, updateFrame(bigUpdate(40_000, 1)));
    await sendFrame(ws, updateFrame(bigUpdate(40_000, 2)));
    await sendFrame(ws, updateFrame(bigUpdate(40_000, 3))).catch(() => undefined);
    expect(await code).toBe(4429);
    await until(async () => (await storedText(store, docName)) === 80_000, 'the two admitted updates are stored');
    // The budget is the learner's, not the socket's: a new socket finds it still spent.
    const again = await attackerSocket(server, 'mallory', 'mallory/other');
    const againCode = closeCode(again);
    await sendFrame(again, updateFrame(bigUpdate(1_000, 4))).catch(() => undefined);
    expect(await againCode).toBe(4429);
    expect(await storedText(store, docName)).toBe(80_000);
    expect(await storedText(store, 'mallory/other')).toBe(0);
    // Another learner writes at once.
    await victimRoundTrip(server, 'alice', 'beside-fast-writer');
    // Reading is not writing: the learner still gets its stored document.
    await syncs(server, 'mallory', docName, (c) => c.doc.getText('t').length === 80_000);
  }, 60_000);
});
