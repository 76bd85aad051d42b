import { describe, expect, it } from 'vitest';
import { createMemoryOutboxStorage } from '../src/outbox/memory-storage.js';
import type { OutboxStorage } from '../src/outbox/storage.js';
import { createTelemetry } from '../src/outbox/telemetry.js';
import { createManualConnectivity, createManualLifecycle, createMemoryRescueStore, type RescueStore } from '../src/ports.js';
import { createFakeClock, createFakeTransport, ok, settle } from './fakes.js';

/** A storage whose appends never finish until released: a page that goes away mid-write. */
function stalledStorage(): { storage: OutboxStorage; release(): void } {
  const inner = createMemoryOutboxStorage();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    storage: { ...inner, append: async (items, limits) => (await gate, inner.append(items, limits)) },
    release,
  };
}

function page(storage: OutboxStorage, rescue: RescueStore, userId = 'lena') {
  const lifecycle = createManualLifecycle();
  const transport = createFakeTransport();
  transport.setResponder(async (items) => ok(items));
  const telemetry = createTelemetry({
    storage,
    transport,
    rescue,
    lifecycle,
    scope: userId,
    clock: createFakeClock(),
    connectivity: createManualConnectivity(false),
    locks: null,
    channel: null,
    random: () => 0.5,
  });
  return { telemetry, lifecycle, transport };
}

describe('rescue of unwritten captures on unload', () => {
  it('when the page goes away before its captures are in storage, then the next start stores each of them once', async () => {
    const rescue = createMemoryRescueStore();
    const stalled = stalledStorage();
    const first = page(stalled.storage, rescue);
    await first.telemetry.ready;
    for (let i = 0; i < 3; i++) void first.telemetry.captureEvent('answered', { i });
    await settle();
    first.lifecycle.fire('pagehide');
    expect(rescue.keys()).toHaveLength(1);

    // The page is gone: its storage write never completes. The next start takes the copy over.
    const storage = createMemoryOutboxStorage();
    const second = page(storage, rescue);
    await second.telemetry.ready;
    const stored = await storage.peek(10, 1e9);
    expect(stored.map((i) => i.itemData['eventData'])).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(rescue.keys()).toEqual([]);
    // Taken once: a third start finds nothing more.
    const third = page(storage, rescue);
    await third.telemetry.ready;
    expect((await storage.stats()).count).toBe(3);
    await second.telemetry.destroy();
    await third.telemetry.destroy();
  });

  it('when a rescued capture also reached storage, then it is stored once', async () => {
    const rescue = createMemoryRescueStore();
    const stalled = stalledStorage();
    const first = page(stalled.storage, rescue);
    await first.telemetry.ready;
    void first.telemetry.captureEvent('answered', { i: 0 });
    await settle();
    first.lifecycle.fire('hidden');
    expect(rescue.keys()).toHaveLength(1);
    // Hidden, not gone: the write completes, and the copy is removed.
    stalled.release();
    await first.telemetry.flush().catch(() => undefined);
    await settle();
    expect(rescue.keys()).toEqual([]);

    // A copy left behind all the same (the page died between the write and the removal).
    const [item] = await stalled.storage.peek(10, 1e9);
    rescue.set('prepmate-outbox-rescue:lena:other-tab', JSON.stringify([item]));
    const second = page(stalled.storage, rescue);
    await second.telemetry.ready;
    expect((await stalled.storage.stats()).count).toBe(1);
    await first.telemetry.destroy();
    await second.telemetry.destroy();
  });

  it('when the rescue store holds another user’s copy or foreign data, then only this user’s well-formed items are taken', async () => {
    const rescue = createMemoryRescueStore();
    const stalled = stalledStorage();
    const mira = page(stalled.storage, rescue, 'mira');
    await mira.telemetry.ready;
    void mira.telemetry.captureEvent('answered', { who: 'mira' });
    await settle();
    mira.lifecycle.fire('pagehide');
    rescue.set('prepmate-outbox-rescue:lena:broken', '{not json');
    rescue.set('prepmate-outbox-rescue:lena:odd', JSON.stringify([{ id: 1 }, 'x', null]));
    rescue.set('unrelated', 'kept');

    const storage = createMemoryOutboxStorage();
    const lena = page(storage, rescue, 'lena');
    await lena.telemetry.ready;
    expect((await storage.stats()).count).toBe(0);
    expect(rescue.keys().sort()).toEqual(['unrelated', ...rescue.keys().filter((k) => k.startsWith('prepmate-outbox-rescue:mira:'))].sort());
    expect(rescue.keys().filter((k) => k.startsWith('prepmate-outbox-rescue:mira:'))).toHaveLength(1);
    await lena.telemetry.destroy();
  });
});
