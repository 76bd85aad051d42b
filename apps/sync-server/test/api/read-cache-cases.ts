/** Read-cache cases run on the in-process cache and on Redis (read-cache.test.ts, cache.test.ts). */
import { LearnerDocument } from '@prepmate/crdt-model';
import { expect } from 'vitest';
import type { CacheService } from '../../src/cache/index.js';
import { loadConfig } from '../../src/config.js';
import { asUserId, learnerDocName } from '../../src/ids.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Store } from '../../src/storage/ports.js';
import { TEST_SECRET, type ApiHarness } from '../helpers/api.js';
import { eventually } from '../helpers/stores.js';
import { silentLogger } from '../helpers/sync.js';
import { progressItem, uid } from './fixtures.js';

/** The real server (real learner documents) over `store` with `cache`, jobs not scheduled. */
export async function startRealServer(store: Store, cache: CacheService, env: Record<string, string> = {}): Promise<RunningServer> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', DATA_DIR: '/nonexistent-data-dir', ...env });
  return startServer(config, { logger: silentLogger, store, cache, runJobs: false, sync: { unloadGraceMs: 50 } });
}

export async function getJson(url: string, token: string): Promise<{ status: number; json: { data: { topics: Record<string, { goal?: string }> } } }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as { data: { topics: Record<string, { goal?: string }> } } };
}

/**
 * Through REST on `writer`, read on `reader` (the same instance, or another sharing the cache
 * and the learner documents): the reader's primed entry never outlives the write.
 */
export async function restWriteThenRead(writer: ApiHarness, reader: ApiHarness): Promise<void> {
  const user = uid('u');
  const token = await writer.token(user);
  const topicId = uid('t');
  const goalOf = async (): Promise<unknown> => (await reader.request('GET', '/api/progress', { token })).json.data.topics[topicId]?.goal;
  await writer.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [progressItem(topicId, { goal: 'first' })] } });
  expect(await goalOf()).toBe('first');
  // The entry is really used: a change that bypasses every write path is not seen until the next write.
  await reader.documents.apply(asUserId(user), 'test', (doc) => void new LearnerDocument(doc).updateTopic(topicId, { goal: 'behind-the-back' }));
  expect(await goalOf()).toBe('first');
  await writer.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [progressItem(topicId, { goal: 'second' })] } });
  expect(await goalOf()).toBe('second');
}

/** A server-side change of the live document (what a WebSocket edit or a job does) is read at once. */
export async function documentChangeThenRead(server: RunningServer, reader: RunningServer = server): Promise<void> {
  const user = uid('u');
  const token = await server.tokens.sign(user);
  const topicId = uid('t');
  const url = `${reader.url}/api/progress`;
  await server.sync.documents.change(learnerDocName(asUserId(user)), 'test', (doc) => void new LearnerDocument(doc).updateTopic(topicId, { goal: 'one' }));
  expect((await getJson(url, token)).json.data.topics[topicId]?.goal).toBe('one');
  await server.sync.documents.change(learnerDocName(asUserId(user)), 'test', (doc) => void new LearnerDocument(doc).updateTopic(topicId, { goal: 'two' }));
  if (reader === server) expect((await getJson(url, token)).json.data.topics[topicId]?.goal).toBe('two');
  else {
    // Another instance: its own loaded copy gets the change through the fan-out, which deletes the entry again.
    await eventually(async () => (await getJson(url, token)).json.data.topics[topicId]?.goal === 'two', { timeoutMs: 10_000, intervalMs: 20 });
  }
}
