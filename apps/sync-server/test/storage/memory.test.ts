import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/storage/errors.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { runStoreConformance } from './conformance.js';

runStoreConformance('memory', async () => {
  const store = createMemoryStore();
  return { store, cleanup: () => store.close() };
});

describe('memory store', () => {
  it('when marked unavailable, then calls reject with StoreUnavailableError until it is cleared', async () => {
    const store = createMemoryStore();
    store.unavailable = true;
    await expect(store.documents.appendUpdates([])).rejects.toBeInstanceOf(StoreUnavailableError);
    store.unavailable = false;
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
