import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { TEST_SECRET, connectClient, readStored, until } from '../helpers/sync.js';
import { tempSqliteDir } from '../helpers/stores.js';

describe('a learner back from a long offline stretch', () => {
  it('when the edits made offline exceed the REST body limit, then the one sync message that carries them is accepted and all of them are stored', async () => {
    const tmp = await tempSqliteDir();
    // REST bodies capped at 64 KiB; WebSocket messages keep their own (default) limit.
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: tmp.dir, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', ENABLE_SCHEDULED_SYNC: 'false', MAX_BODY_BYTES: String(64 * 1024) });
    const server = await startServer(config, { logger: createLogger('silent') });
    const syncUrl = `${server.url.replace(/^http/, 'ws')}/sync`;
    const token = await server.tokens.sign('traveller');
    const device = connectClient(syncUrl, 'traveller', token);
    try {
      await device.whenSynced();
      device.provider.disconnect();
      // ≈ 400 KB of answers written offline: the reconnect's sync step 2 carries all of it at once.
      const answer = 'x'.repeat(2_000);
      for (let i = 0; i < 200; i++) device.map.set(`answer${i}`, `${i}:${answer}`);
      device.provider.connect();
      await until(async () => (await readStored(server.store, 'traveller')).getMap('m').size === 200, 'every offline edit stored', 15_000);
      const stored = (await readStored(server.store, 'traveller')).getMap('m');
      expect(stored.get('answer199')).toBe(`199:${answer}`);
    } finally {
      device.destroy();
      await server.stop();
      await tmp.remove();
    }
  });
});
