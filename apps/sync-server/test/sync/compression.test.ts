import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { connectClient, sqliteBackend, startSyncServer, until, type StoreBackend, type SyncTestServer, type TestClient } from '../helpers/sync.js';
import type { Store } from '../../src/storage/index.js';

/** A long learner history compresses like real notes and facts do: repeated field names and words. */
const history = (n: number): string[] => Array.from({ length: n }, (_, i) => `assessment ${i}: topic_${i % 200} quiz score ${(i * 37) % 101} weak areas recursion graphs`);

function socketOf(client: TestClient): WebSocket {
  const ws = client.provider.ws as unknown as WebSocket | null;
  if (ws === null) throw new Error('no socket');
  return ws;
}

function bytesRead(client: TestClient): number {
  return (socketOf(client) as unknown as { _socket: { bytesRead: number } })._socket.bytesRead;
}

describe('permessage-deflate on /sync', () => {
  let backend: StoreBackend | undefined;
  let store: Store | undefined;
  let server: SyncTestServer | undefined;
  const clients: TestClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.stop();
    await store?.close();
    await backend?.remove();
  });

  async function start(deflateMinBytes: number): Promise<void> {
    backend = await sqliteBackend();
    store = await backend.open();
    server = await startSyncServer(store, { config: { SYNC_DEFLATE_MIN_BYTES: deflateMinBytes, SYNC_MAX_MESSAGE_BYTES: 1024 * 1024 } });
  }

  async function client(userId: string): Promise<TestClient> {
    const c = connectClient(server!.syncUrl, userId, await server!.tokens.sign(userId));
    clients.push(c);
    await c.whenSynced();
    return c;
  }

  it('when a new device syncs a large document, then a stock client receives it compressed, and small edits still reach every device', async () => {
    await start(16 * 1024);
    const writer = await client('learner_deflate');
    const lines = history(5000);
    writer.doc.getArray<string>('log').push(lines);
    const rawBytes = lines.reduce((n, l) => n + l.length, 0);
    await until(async () => (await store!.documents.loadDocument('learner_deflate')).updates.length > 0, 'the history is stored');

    const fresh = await client('learner_deflate');
    expect(socketOf(fresh).extensions).toContain('permessage-deflate');
    expect(fresh.doc.getArray<string>('log').length).toBe(5000);
    expect(bytesRead(fresh)).toBeLessThan(rawBytes / 3);

    writer.map.set('note', 'small edit');
    await until(() => fresh.map.get('note') === 'small edit', 'the small edit reaches the other device');
    fresh.map.set('reply', 'back');
    await until(() => writer.map.get('reply') === 'back', 'and the other way');
  });

  it('when SYNC_DEFLATE_MIN_BYTES is 0, then compression is not negotiated and sync works as before', async () => {
    await start(0);
    const writer = await client('learner_plain');
    const lines = history(2000);
    writer.doc.getArray<string>('log').push(lines);
    const rawBytes = lines.reduce((n, l) => n + l.length, 0);
    await until(async () => (await store!.documents.loadDocument('learner_plain')).updates.length > 0, 'the history is stored');

    const fresh = await client('learner_plain');
    expect(socketOf(fresh).extensions).toBe('');
    expect(fresh.doc.getArray<string>('log').length).toBe(2000);
    expect(bytesRead(fresh)).toBeGreaterThan(rawBytes);
  });
});
