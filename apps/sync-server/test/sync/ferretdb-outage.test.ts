import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMongoStore } from '../../src/storage/index.js';
import type { Store } from '../../src/storage/ports.js';
import { describeWithService, mongoUriForTests } from '../helpers/stores.js';
import { connectClient, rawSocket, readStored, startSyncServer, tcpProxy, until, withHost, type SyncTestServer, type TcpProxy } from '../helpers/sync.js';

const uri = mongoUriForTests();

describeWithService('FerretDB outage (network cut through a TCP proxy)', { env: 'MONGODB_URI', value: uri, hint: 'Start FerretDB with `node scripts/test-services.mjs up` and export the printed MONGODB_URI.' }, (mongoUri) => {
  let proxy: TcpProxy;
  let store: Store;
  let direct: Store;
  let server: SyncTestServer;

  beforeAll(async () => {
    const match = /^mongodb:\/\/([^:/?,]+):(\d+)/.exec(mongoUri);
    if (!match) throw new Error(`expected mongodb://host:port/..., got ${mongoUri}`);
    proxy = await tcpProxy(match[1]!, Number(match[2]));
    store = await createMongoStore({ uri: withHost(mongoUri, `127.0.0.1:${proxy.port}`), serverSelectionTimeoutMS: 1_000 });
    direct = await createMongoStore({ uri: mongoUri });
    server = await startSyncServer(store, { config: { RETRY_DELAY_MS: 50, MAX_RETRIES: 2 } });
  });
  afterAll(async () => {
    await proxy?.restore().catch(() => undefined);
    await server?.stop();
    await store?.close();
    await direct?.close();
    await proxy?.close();
  });

  it('when the database becomes unreachable, then clients keep syncing, status is degraded, and everything is written once it is back', async () => {
    const token = await server.tokens.sign('netcut');
    const a = connectClient(server.syncUrl, 'netcut', token);
    const b = connectClient(server.syncUrl, 'netcut', token);
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    a.map.set('before', 1);
    await until(async () => (await readStored(direct, 'netcut')).getMap('m').get('before') === 1, 'durable before');

    await proxy.cut();
    for (let i = 0; i < 50; i++) a.map.set(`during${i}`, i);
    await until(() => b.map.size === 51, 'peers keep syncing from memory');
    await until(() => !server.service.status().storeHealthy && server.service.status().logBacklog > 0, 'degraded', 15_000);
    expect(await rawSocket(`${server.syncUrl}/netcut/unloaded?token=${token}`)).toMatchObject({ status: 503 });

    await proxy.restore();
    await until(() => server.service.status().storeHealthy && server.service.status().logBacklog === 0, 'recovered', 30_000);
    expect((await readStored(direct, 'netcut')).getMap('m').size).toBe(51);
    a.destroy();
    b.destroy();
  });
});
