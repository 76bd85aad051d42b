import * as Y from 'yjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { syncLimitsFromConfig } from '../../../src/ws/endpoint.js';
import { readStored, sqliteBackend, startSyncServer, TEST_SECRET, until, type StoreBackend } from '../../helpers/sync.js';
import { attackerSocket, sendFrame, updateFrame } from './sync-attacker.js';

/** Frames the server read are the learner's edits: a rate limit slows a client down, it never loses them. */
describe('hostile learner: frames queued by the rate limit are applied when the socket closes', () => {
  const backends: StoreBackend[] = [];
  afterAll(async () => {
    for (const b of backends) await b.remove();
  });

  it('when the per-socket limits are set in the environment, then the endpoint uses them', () => {
    const config = loadConfig({ JWT_SECRET: TEST_SECRET, SYNC_MESSAGES_PER_SECOND: '7', SYNC_BURST: '3', SYNC_MAX_BUFFERED_BYTES: String(2 * 1024 * 1024) });
    expect(syncLimitsFromConfig(config)).toMatchObject({ messagesPerSecond: 7, burst: 3, maxBufferedBytes: 2 * 1024 * 1024 });
  });

  it('when a client bursts past the rate limit and the server closes the socket, then every frame it had read is stored', async () => {
    const backend = await sqliteBackend();
    backends.push(backend);
    const store = await backend.open();
    const server = await startSyncServer(store, {
      config: { SYNC_MESSAGES_PER_SECOND: 1, SYNC_BURST: 1 },
      options: { limits: { messagesPerSecond: 1, burst: 1 } },
    });
    const ws = await attackerSocket(server, 'mallory', 'mallory/burst');
    const doc = new Y.Doc();
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    for (const key of keys) {
      const before = Y.encodeStateVector(doc);
      doc.getMap('m').set(key, key);
      await sendFrame(ws, updateFrame(Y.encodeStateAsUpdate(doc, before)));
    }
    // The first frame is applied at once; the others wait behind the limit (1 per second).
    await until(async () => (await readStored(store, 'mallory/burst')).getMap('m').get('k0') === 'k0', 'the first frame stored');
    await server.stop();
    const stored = (await readStored(store, 'mallory/burst')).getMap('m');
    expect(keys.filter((k) => stored.get(k) !== k)).toEqual([]);
    ws.terminate();
    await store.close();
  }, 60_000);
});
