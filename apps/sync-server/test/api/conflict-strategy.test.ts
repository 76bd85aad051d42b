import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { iso, progressItem, uid } from './fixtures.js';

describe('CONFLICT_RESOLUTION_STRATEGY', () => {
  it('when it is unset, then last-write-wins applies; an unknown value is refused at start saying what it decides', () => {
    expect(loadConfig({}).CONFLICT_RESOLUTION_STRATEGY).toBe('last-write-wins');
    expect(loadConfig({ CONFLICT_RESOLUTION_STRATEGY: 'client-priority' }).CONFLICT_RESOLUTION_STRATEGY).toBe('client-priority');
    expect(() => loadConfig({ CONFLICT_RESOLUTION_STRATEGY: 'server-wins' })).toThrow(ConfigError);
    expect(() => loadConfig({ CONFLICT_RESOLUTION_STRATEGY: 'server-wins' })).toThrow(
      /CONFLICT_RESOLUTION_STRATEGY="server-wins": accepts last-write-wins or client-priority \(how a REST progress patch older than the document is decided/,
    );
  });

  /** A newer patch, then an older one (an offline device catching up late): what does the learner read? */
  async function lateOlderPatch(api: ApiHarness): Promise<{ goal: unknown; conflicts: number }> {
    const user = uid('u');
    const token = await api.token(user);
    const topicId = uid('t');
    const now = Date.now();
    const newer = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [progressItem(topicId, { goal: 'newer', updatedAt: iso(now) })] } });
    expect(newer.json.data.results[0].status).toBe('merged');
    const older = await api.request('POST', '/api/telemetry/batch', {
      token,
      body: { batchId: uid('b'), items: [progressItem(topicId, { goal: 'older', updatedAt: iso(now - 60_000) })] },
    });
    expect(older.json.data.results[0].status).toBe('merged');
    const progress = await api.request('GET', '/api/progress', { token });
    return { goal: progress.json.data.topics[topicId]?.goal, conflicts: older.json.data.conflicts };
  }

  describe('REST progress patches', () => {
    let opened: OpenedStore;
    beforeAll(async () => {
      opened = await openStore('sqlite');
    });
    afterAll(async () => {
      await opened.dispose();
    });

    it('when last-write-wins, then an older patch loses to the document and counts as a conflict', async () => {
      const api = await startApi({ store: opened.store });
      try {
        expect(await lateOlderPatch(api)).toEqual({ goal: 'newer', conflicts: 1 });
      } finally {
        await api.close();
      }
    });

    it('when client-priority, then the older patch is applied and is no conflict', async () => {
      const api = await startApi({ store: opened.store, env: { CONFLICT_RESOLUTION_STRATEGY: 'client-priority' } });
      try {
        expect(await lateOlderPatch(api)).toEqual({ goal: 'older', conflicts: 0 });
      } finally {
        await api.close();
      }
    });
  });
});

describe('MONGODB_BACKUP_URI', () => {
  it('when it is not a MongoDB URI or names the store itself, then start fails saying why, credentials hidden', () => {
    expect(() => loadConfig({ MONGODB_BACKUP_URI: 'postgres://u:pw@h/db' })).toThrow(/MONGODB_BACKUP_URI="postgres:\/\/\*\*\*@h\/db": accepts a mongodb:\/\/ or mongodb\+srv:\/\/ URI/);
    const same = () => loadConfig({ MONGODB_URI: 'mongodb://a:pw@db1:27017/prepmate', MONGODB_BACKUP_URI: 'mongodb://b:pw2@DB1:27017/prepmate?authSource=admin' });
    expect(same).toThrow(/MONGODB_BACKUP_URI: names the same database as MONGODB_URI/);
    expect(same).not.toThrow(/pw/);
    expect(loadConfig({ MONGODB_URI: 'mongodb://db1/prepmate', MONGODB_BACKUP_URI: 'mongodb://db1/prepmate-backup' }).MONGODB_BACKUP_URI).toBe('mongodb://db1/prepmate-backup');
  });
});
