import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import mongoose from 'mongoose';
import { expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/storage/errors.js';
import { createStore, type Store } from '../../src/storage/index.js';
import { createMongoStore } from '../../src/storage/mongo/index.js';
import { describeWithService, eventually, mongoUriForTests, tempSqliteDir } from '../helpers/stores.js';
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

    it('when connected, then the indexes the API relies on exist (docs/operations.md)', async () => {
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

const ferretBinary = fileURLToPath(new URL('../../../../tools/ferretdb/bin/ferretdb', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Its own FerretDB (SQLite handler, private port and directory): stopping the shared one would
// break other suites running at the same time.
describeWithService(
  'MongoDB store outage',
  {
    env: 'tools/ferretdb/bin/ferretdb',
    value: existsSync(ferretBinary) ? ferretBinary : null,
    hint: 'Build it with `cd tools/ferretdb && go build -o bin/ferretdb .` (scripts/ferretdb.mjs start does).',
  },
  (binary) => {
    it('when FerretDB stops, then calls fail fast with StoreUnavailableError; when it is back, then the same store works again', async () => {
      const tmp = await tempSqliteDir();
      const port = await freePort();
      const startFerret = (): ChildProcess =>
        spawn(binary, [`--listen-addr=127.0.0.1:${port}`, '--handler=sqlite', `--sqlite-url=file:${tmp.dir}/`, '--log-level=error'], { stdio: 'ignore' });
      let ferret = startFerret();
      const uri = `mongodb://127.0.0.1:${port}/outage`;
      try {
        const opened: { store?: Store } = {};
        await eventually(async () => {
          opened.store = await createMongoStore({ uri, serverSelectionTimeoutMS: 500 }).catch(() => undefined);
          return opened.store !== undefined;
        }, { timeoutMs: 20_000, intervalMs: 100 });
        const s = opened.store as Store;
        await s.telemetry.insertEvents([]);
        await s.batchLogs.insert({ batchId: 'b1', userId: 'alice', itemCount: 0, successCount: 0, failureCount: 0, conflictCount: 0, duplicateCount: 0, startTime: new Date(), endTime: new Date(), duration: 0, status: 'completed', kind: 'queue' });

        const exited = new Promise((resolve) => ferret.once('exit', resolve));
        ferret.kill('SIGKILL');
        await exited;
        const started = Date.now();
        await expect(s.batchLogs.listForUser('alice', 10)).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(s.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        expect(Date.now() - started).toBeLessThan(10_000);

        ferret = startFerret();
        await eventually(() => s.ping().then(() => true, () => false), { timeoutMs: 20_000, intervalMs: 100 });
        expect((await s.batchLogs.listForUser('alice', 10)).map((l) => l.batchId)).toEqual(['b1']);
        await s.close();
      } finally {
        ferret.kill('SIGKILL');
        await tmp.remove();
      }
    });
  },
);
