import { afterAll, beforeAll, describe, it } from 'vitest';
import { createMemoryCacheService } from '../../src/cache/index.js';
import { openStore, startApi, type OpenedStore } from '../helpers/api.js';
import { documentChangeThenRead, restWriteThenRead, startRealServer } from './read-cache-cases.js';

describe('progress read cache, in-process', () => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await openStore('sqlite');
  });
  afterAll(async () => {
    await opened.dispose();
  });

  it('when a learner writes through REST, then their next read returns the new value (and reads in between are served from the cache)', async () => {
    const api = await startApi({ store: opened.store });
    try {
      await restWriteThenRead(api, api);
    } finally {
      await api.close();
    }
  });

  it('when the live document changes (as a WebSocket edit or a job changes it), then the next read returns the new value', async () => {
    const cache = createMemoryCacheService();
    const server = await startRealServer(opened.store, cache);
    try {
      await documentChangeThenRead(server);
    } finally {
      await server.stop();
      await cache.close();
    }
  });
});
