import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { writeSyncUpdate } from '../../src/protocol/wire.js';
import { readStored, until, useSqliteSyncServer } from '../helpers/sync.js';

const DOCS = 10_000;
const CONCURRENCY = 50;

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('many documents', () => {
  const fx = useSqliteSyncServer({ options: { unloadGraceMs: 20 } });

  // 10 000 connections, loads and fsynced flushes: 93 s at load ~15 on 2 cores, and once over
  // 180 s at load ~20. The timeout only has to stop a hang, not measure speed.
  it('when 10 000 documents are touched once each, then all are stored and unloaded and memory stays bounded', { timeout: 480_000 }, async () => {
    const token = await fx.server.tokens.sign('loadtest', { role: 'service' });
    const source = new Y.Doc();
    source.getMap('m').set('touched', true);
    const frame = writeSyncUpdate(Y.encodeStateAsUpdate(source));
    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    let maxLoaded = 0;
    const touch = (i: number): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`${fx.server.syncUrl}/doc${i}?token=${token}`);
        ws.once('open', () => {
          ws.send(frame);
          // The server answers our step 1 only after it processed the frame before it (in order).
          ws.send(Buffer.from([0, 0, 1, 0]));
        });
        ws.on('message', (data: Buffer) => {
          if (data[0] === 0 && data[1] === 1) ws.close();
        });
        ws.once('close', () => resolve());
        ws.once('error', reject);
      });
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < DOCS) {
          await touch(next++);
          maxLoaded = Math.max(maxLoaded, fx.server.service.status().loadedDocuments);
        }
      }),
    );
    await until(() => fx.server.service.status().loadedDocuments === 0 && fx.server.service.status().logBacklog === 0, 'all unloaded', 60_000);
    collectGarbage();
    const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
    // Documents do not pile up: at most the in-flight ones plus those in their grace period.
    expect(maxLoaded).toBeLessThan(2_000);
    expect(grownMb).toBeLessThan(50);
    for (const i of [0, 4_999, DOCS - 1]) expect((await readStored(fx.store, `doc${i}`)).getMap('m').get('touched')).toBe(true);
    expect((await fx.store.documents.listDocumentsWithLog(DOCS + 1)).length).toBe(DOCS);
  });
});
