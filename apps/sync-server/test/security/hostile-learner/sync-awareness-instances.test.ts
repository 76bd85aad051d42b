import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/storage/ports.js';
import { adminClient, deleteUnder, describeOnRedis } from '../../helpers/redis.js';
import { backendFactories, connectClient, startSyncServer, until, type StoreBackend } from '../../helpers/sync.js';
import { attackerSocket, awarenessFrame, sendFrame } from './sync-attacker.js';

const sqlite = backendFactories().find((b) => b.name === 'sqlite')!;

/** Awareness ownership holds across instances: a socket on one cannot rewrite a state introduced on another. */
describeOnRedis('hostile learner: awareness owned across instances', ({ target }) =>
  describe('two instances on one Redis deployment', () => {
    let backend: StoreBackend;
    let store: Store;
    const keyPrefix = `prepmate:test:${randomUUID()}`;

    beforeAll(async () => {
      backend = await sqlite.create();
      store = await backend.open();
    });
    afterAll(async () => {
      const redis = await adminClient(target);
      await deleteUnder(redis, keyPrefix);
      redis.disconnect();
      await store?.close();
      await backend?.remove();
    });

    it("when a socket on one instance writes a client id introduced on the other, then that entry is ignored there and everywhere", async () => {
      const one = await startSyncServer(store, { redis: { target, keyPrefix } });
      const two = await startSyncServer(store, { redis: { target, keyPrefix } });
      const token = await one.tokens.sign('mallory');
      const owner = connectClient(one.syncUrl, 'mallory/presence', token);
      const observer = connectClient(two.syncUrl, 'mallory/presence', token);
      try {
        await Promise.all([owner.whenSynced(), observer.whenSynced()]);
        owner.provider.awareness.setLocalStateField('user', 'owner');
        const ownerId = owner.doc.clientID;
        await until(() => (observer.provider.awareness.getStates().get(ownerId) as { user?: string } | undefined)?.user === 'owner', "the owner's state reached the other instance");
        const intruder = await attackerSocket(two, 'mallory', 'mallory/presence');
        // A higher clock than the owner's: applied, it would replace the owner's state on both instances.
        await sendFrame(intruder, awarenessFrame(ownerId, 1_000, 16));
        await sendFrame(intruder, awarenessFrame(888_888, 1, 16));
        // The intruder's own id arrives at the owner, so the frame before it was handled and fanned out.
        await until(() => owner.provider.awareness.getStates().has(888_888) && observer.provider.awareness.getStates().has(888_888), "the intruder's own state arrived on both instances");
        for (const client of [owner, observer]) {
          const seen = client.provider.awareness.getStates().get(ownerId) as { user?: string; pad?: string } | undefined;
          expect(seen?.user).toBe('owner');
          expect(seen?.pad).toBeUndefined();
        }
        intruder.close();
        // The owner itself still updates its state through its own instance.
        owner.provider.awareness.setLocalStateField('user', 'owner, later');
        await until(() => (observer.provider.awareness.getStates().get(ownerId) as { user?: string } | undefined)?.user === 'owner, later', "the owner's own later state");
      } finally {
        owner.destroy();
        observer.destroy();
        await one.stop();
        await two.stop();
      }
    }, 60_000);
  }),
);
