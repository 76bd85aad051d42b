import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { createIdGenerator, type EventId } from '../src/ids.js';
import type { OutboxStorage } from '../src/outbox/storage.js';
import type { OutboxItem } from '../src/outbox/types.js';

/** A storage under test, and how to open the same data again (for adapters that persist). */
export interface StorageFixture {
  storage: OutboxStorage;
  /** Closes `storage` and opens the same data again; `null` for adapters that do not persist. */
  reopen: (() => Promise<OutboxStorage>) | null;
  cleanup?: () => Promise<void>;
}

const big = { maxItems: 1_000_000, maxBytes: 1_000_000_000 };

export function makeItems(n: number, opts: { start?: number; size?: number } = {}): OutboxItem[] {
  let t = opts.start ?? 1_700_000_000_000;
  const next = createIdGenerator(() => t);
  return Array.from({ length: n }, (_, i) => {
    t += 1;
    const id = next();
    return { id, itemType: 'event', itemData: { eventId: id, eventType: 'test', eventData: { i } }, createdAt: t, size: opts.size ?? 10 };
  });
}

/**
 * The one suite every {@link OutboxStorage} adapter passes (memory, IndexedDB, file).
 * Named "when …, then …" so a failure reads as the broken promise.
 */
/** `reopens: false` for adapters that keep nothing across a restart (memory): the reopen case is not theirs. */
export function runOutboxStorageTests(name: string, setup: () => Promise<StorageFixture>, options: { reopens?: boolean } = {}): void {
  describe(`OutboxStorage conformance: ${name}`, () => {
    let fx: StorageFixture;
    beforeEach(async () => {
      fx = await setup();
    });
    afterEach(async () => {
      await fx.storage.close().catch(() => undefined);
      await fx.cleanup?.();
    });

    it('when items are appended, then peek returns them oldest first within the item and byte bounds', async () => {
      const items = makeItems(10);
      await fx.storage.append(items.slice(5), big);
      await fx.storage.append(items.slice(0, 5), big);
      expect((await fx.storage.peek(100, 1e9)).map((i) => i.id)).toEqual(items.map((i) => i.id));
      expect((await fx.storage.peek(3, 1e9)).map((i) => i.id)).toEqual(items.slice(0, 3).map((i) => i.id));
      expect(await fx.storage.peek(100, 35)).toHaveLength(3);
      // Always at least one item, even if it alone exceeds the byte bound.
      expect(await fx.storage.peek(100, 1)).toHaveLength(1);
      expect(await fx.storage.stats()).toEqual({ count: 10, bytes: 100 });
    });

    it('when the same id is appended twice, then it is stored once', async () => {
      const items = makeItems(3);
      await fx.storage.append(items, big);
      const again = await fx.storage.append([items[1]!], big);
      expect(again.count).toBe(3);
      expect(await fx.storage.stats()).toEqual({ count: 3, bytes: 30 });
    });

    it('when the count cap is exceeded, then the oldest are dropped and reported', async () => {
      const items = makeItems(10);
      await fx.storage.append(items.slice(0, 8), big);
      const r = await fx.storage.append(items.slice(8), { maxItems: 7, maxBytes: 1e9 });
      expect(r.dropped).toEqual(items.slice(0, 3).map((i) => i.id));
      expect(r.count).toBe(7);
      expect((await fx.storage.peek(100, 1e9))[0]!.id).toBe(items[3]!.id);
    });

    it('when the byte cap is exceeded, then the oldest are dropped until it holds', async () => {
      const items = makeItems(10);
      const r = await fx.storage.append(items, { maxItems: 100, maxBytes: 45 });
      expect(r.dropped).toHaveLength(6);
      expect(r).toMatchObject({ count: 4, bytes: 40 });
      expect(await fx.storage.stats()).toEqual({ count: 4, bytes: 40 });
    });

    it('when ids are removed, then they are gone and unknown ids are ignored', async () => {
      const items = makeItems(5);
      await fx.storage.append(items, big);
      await fx.storage.remove([items[0]!.id, items[3]!.id, 'nope' as EventId]);
      expect((await fx.storage.peek(100, 1e9)).map((i) => i.id)).toEqual([items[1]!.id, items[2]!.id, items[4]!.id]);
      expect(await fx.storage.stats()).toEqual({ count: 3, bytes: 30 });
    });

    it('when items expire, then only those created before the cutoff are removed', async () => {
      const items = makeItems(5, { start: 1000 });
      await fx.storage.append(items, big);
      const gone = await fx.storage.removeExpired(1003);
      expect(gone.sort()).toEqual(items.slice(0, 2).map((i) => i.id).sort());
      expect(await fx.storage.stats()).toEqual({ count: 3, bytes: 30 });
    });

    it('when the oldest are removed to make room, then exactly that many go', async () => {
      const items = makeItems(5);
      await fx.storage.append(items, big);
      expect(await fx.storage.removeOldest(2)).toEqual(items.slice(0, 2).map((i) => i.id));
      expect(await fx.storage.removeOldest(0)).toEqual([]);
      expect(await fx.storage.stats()).toEqual({ count: 3, bytes: 30 });
    });

    it('when items round-trip, then their data is unchanged', async () => {
      const [item] = makeItems(1);
      const rich: OutboxItem = { ...item!, itemData: { ...item!.itemData, eventData: { s: 'é😀"\n', n: 1.5, b: true, z: null, a: [1, { x: 2 }] } } };
      await fx.storage.append([rich], big);
      expect((await fx.storage.peek(1, 1e9))[0]).toEqual(rich);
    });

    it('when concurrent appends and removes interleave, then the accounting stays exact', async () => {
      const items = makeItems(200);
      await Promise.all(items.map((item, i) => (i % 3 === 0 ? fx.storage.append([item], big) : fx.storage.append([item], big).then(() => fx.storage.remove([item.id])))));
      const s = await fx.storage.stats();
      expect(s.count).toBe(items.filter((_, i) => i % 3 === 0).length);
      expect(s.bytes).toBe(s.count * 10);
      expect(await fx.storage.peek(1000, 1e9)).toHaveLength(s.count);
    });

    if (options.reopens !== false) it('when reopened, then everything not removed is still there', async () => {
      if (!fx.reopen) throw new Error(`${name}: a durable adapter's fixture must provide reopen()`);
      const items = makeItems(20);
      await fx.storage.append(items, big);
      await fx.storage.remove(items.slice(0, 5).map((i) => i.id));
      await fx.storage.append(makeItems(1, { start: 5_000_000_000_000 }), { maxItems: 15, maxBytes: 1e9 });
      fx.storage = await fx.reopen();
      const left = await fx.storage.peek(100, 1e9);
      expect(left).toHaveLength(15);
      expect(left[0]!.id).toBe(items[6]!.id);
      expect(await fx.storage.stats()).toEqual({ count: 15, bytes: 150 });
    });

    it('when closed, then calls reject', async () => {
      await fx.storage.close();
      await expect(fx.storage.stats()).rejects.toThrow();
    });
  });
}
