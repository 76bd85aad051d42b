import mongoose from 'mongoose';
import { expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { createStore } from '../../src/storage/index.js';
import { createMongoStore } from '../../src/storage/mongo/index.js';
import { describeWithService, mongoUriForTests } from '../helpers/stores.js';
import { runStoreConformance } from './conformance.js';

async function dropDatabase(uri: string): Promise<void> {
  const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 2000 }).asPromise();
  try {
    await conn.dropDatabase();
  } finally {
    await conn.close();
  }
}

describeWithService(
  'MongoDB store',
  { env: 'MONGODB_URI', value: mongoUriForTests(), hint: 'Start FerretDB with `node scripts/test-services.mjs up` and export the printed MONGODB_URI.' },
  () => {
    // A fresh database per test: claim, retention and listDocumentsWithLog are global queries.
    runStoreConformance('mongodb', async () => {
      const uri = mongoUriForTests() as string;
      const store = await createMongoStore({ uri });
      return {
        store,
        cleanup: async () => {
          await store.close();
          await dropDatabase(uri);
        },
      };
    });

    it('when connected, then the indexes of CONTRACT section 7 exist', async () => {
      const uri = mongoUriForTests() as string;
      const store = await createStore({ MONGODB_URI: uri, DATA_DIR: '/nonexistent' });
      expect(store.kind).toBe('mongodb');
      const conn = await mongoose.createConnection(uri).asPromise();
      try {
        const keysOf = async (collection: string) => (await conn.db!.collection(collection).indexes()).map((i) => ({ key: i.key, unique: i.unique === true }));
        const telemetry = await keysOf('telemetry');
        expect(telemetry).toContainEqual({ key: { userId: 1, createdAt: -1 }, unique: false });
        expect(telemetry).toContainEqual({ key: { eventType: 1, createdAt: -1 }, unique: false });
        expect(telemetry).toContainEqual({ key: { userId: 1, 'metadata.eventId': 1 }, unique: true });
        const queues = await keysOf('syncQueues');
        expect(queues).toContainEqual({ key: { userId: 1, status: 1 }, unique: false });
        expect(queues).toContainEqual({ key: { userId: 1, itemKey: 1 }, unique: true });
        expect((await keysOf('docSnapshots')).some((i) => i.unique)).toBe(true);
        expect(await conn.db!.listCollections({ name: 'batchLogs' }).toArray()).toHaveLength(1);
      } finally {
        await conn.close();
        await store.close();
        await dropDatabase(uri);
      }
    });
  },
);

it('when no server answers, then createMongoStore rejects with StoreUnavailableError within the selection timeout', async () => {
  const started = Date.now();
  // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
  await expect(createMongoStore({ uri: 'mongodb://127.0.0.1:9/prepmate', serverSelectionTimeoutMS: 500 })).rejects.toBeInstanceOf(StoreUnavailableError);
  expect(Date.now() - started).toBeLessThan(5_000);
});
