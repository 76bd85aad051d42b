import { mkdtemp, rm, writeFile, appendFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { createFileOutboxStorage } from '../src/node/file-storage.js';
import { createIndexedDbOutboxStorage } from '../src/outbox/indexeddb-storage.js';
import { createMemoryOutboxStorage } from '../src/outbox/memory-storage.js';
import { makeItems, runOutboxStorageTests } from './outbox-storage.conformance.js';

runOutboxStorageTests('memory', async () => ({ storage: createMemoryOutboxStorage(), reopen: null }), { reopens: false });

runOutboxStorageTests('indexeddb (fake-indexeddb)', async () => {
  const indexedDB = new IDBFactory();
  const fx = {
    storage: await createIndexedDbOutboxStorage({ indexedDB, dbName: 'conformance' }),
    reopen: async () => {
      await fx.storage.close();
      return createIndexedDbOutboxStorage({ indexedDB, dbName: 'conformance' });
    },
  };
  return fx;
});

runOutboxStorageTests('file journal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'outbox-'));
  const path = join(dir, 'outbox.jsonl');
  // A tiny compaction threshold so that the suite exercises compaction too.
  const open = () => createFileOutboxStorage({ path, compactMinBytes: 512, fsync: 'never' });
  const fx = {
    storage: await open(),
    reopen: async () => {
      await fx.storage.close();
      return open();
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  return fx;
});

describe('file journal specifics', () => {
  it('when the last line is torn by a crash, then it is ignored and the journal stays usable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outbox-'));
    const path = join(dir, 'outbox.jsonl');
    try {
      const items = makeItems(3);
      await writeFile(path, `${JSON.stringify({ a: items.slice(0, 2) })}\n`);
      await appendFile(path, JSON.stringify({ a: [items[2]] }).slice(0, 30));
      const s = await createFileOutboxStorage({ path });
      expect(await s.stats()).toEqual({ count: 2, bytes: 20 });
      await s.append(makeItems(1, { start: 2_000_000_000_000 }), { maxItems: 100, maxBytes: 1e9 });
      await s.close();
      const again = await createFileOutboxStorage({ path });
      expect((await again.stats()).count).toBe(3);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when a second instance opens a journal in use, then it is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outbox-'));
    const path = join(dir, 'outbox.jsonl');
    try {
      const a = await createFileOutboxStorage({ path });
      await expect(createFileOutboxStorage({ path })).rejects.toThrow(/in use/);
      await a.close();
      const b = await createFileOutboxStorage({ path });
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when most records are dead, then the journal is compacted to the live items', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outbox-'));
    const path = join(dir, 'outbox.jsonl');
    try {
      const s = await createFileOutboxStorage({ path, compactMinBytes: 1024, fsync: 'never' });
      const items = makeItems(500);
      for (let i = 0; i < items.length; i += 10) {
        await s.append(items.slice(i, i + 10), { maxItems: 1e6, maxBytes: 1e9 });
        await s.remove(items.slice(i, i + 9).map((x) => x.id));
      }
      await s.close();
      const text = await readFile(path, 'utf8');
      expect(text.length).toBeLessThan(JSON.stringify(items).length / 3);
      const again = await createFileOutboxStorage({ path });
      expect((await again.stats()).count).toBe(50);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
