import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { parseEventId, eventIdTime, type EventId } from '../src/ids.js';
import { createIndexedDbOutboxStorage } from '../src/outbox/indexeddb-storage.js';
import { createMemoryOutboxStorage } from '../src/outbox/memory-storage.js';
import { QuotaError, type OutboxStorage } from '../src/outbox/storage.js';
import { createTelemetry, type TelemetryEvents, type TelemetryOptions } from '../src/outbox/telemetry.js';
import type { ItemResult, SendOutcome, WireItem } from '../src/outbox/transport.js';
import { createInProcessLocks, createManualConnectivity, createManualLifecycle } from '../src/ports.js';
import { backoffDelay } from '../src/outbox/backoff.js';
import { createFakeClock, createFakeTransport, eventually, ok, settle } from './fakes.js';

function setup(overrides: Partial<TelemetryOptions> = {}) {
  const clock = createFakeClock();
  const storage = createMemoryOutboxStorage();
  const transport = createFakeTransport();
  const connectivity = createManualConnectivity(true);
  const lifecycle = createManualLifecycle();
  const telemetry = createTelemetry({ storage, transport, clock, connectivity, lifecycle, random: () => 0.5, locks: null, channel: null, ...overrides });
  const seen: { [K in keyof TelemetryEvents]?: TelemetryEvents[K][] } = {};
  for (const e of ['sync:start', 'sync:complete', 'sync:error', 'dropped'] as const) {
    seen[e] = [];
    telemetry.on(e, (p) => (seen[e] as unknown[]).push(p));
  }
  return { clock, storage, transport, connectivity, lifecycle, telemetry, seen };
}

const eventIds = (items: readonly WireItem[]): string[] => items.map((i) => i.itemData['eventId'] as string);

describe('telemetry outbox', () => {
  it('when destroy() interrupts a flush, then the aborted round is neither reported as an error nor retried', async () => {
    const { telemetry, transport, clock, seen } = setup();
    await telemetry.ready;
    let answer!: (outcome: SendOutcome) => void;
    transport.setResponder(() => new Promise<SendOutcome>((resolve) => (answer = resolve)));
    await telemetry.captureEvent('lesson_opened', {});
    const flushing = telemetry.flush();
    await eventually(() => expect(transport.calls).toHaveLength(1));
    const destroyed = telemetry.destroy();
    // What an aborted fetch comes back as.
    answer({ kind: 'retry', error: 'The operation was aborted' });
    await Promise.all([flushing, destroyed]);
    await settle();
    expect(seen['sync:error']).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('when an event is captured, then it is in storage at once with a UUIDv7 id and the capture time', async () => {
    const { telemetry, storage, clock, transport } = setup();
    await telemetry.ready;
    await settle();
    const id = await telemetry.captureEvent('lesson_opened', { lessonId: 'l1' });
    expect(parseEventId(id)).toBe(id);
    expect(eventIdTime(id)).toBe(clock.now());
    const [stored] = await storage.peek(10, 1e9);
    expect(stored!.itemData).toMatchObject({ eventId: id, eventType: 'lesson_opened', eventData: { lessonId: 'l1' }, metadata: { clientTimestamp: new Date(clock.now()).toISOString() } });
    expect(transport.calls).toHaveLength(0);
    await telemetry.destroy();
  });

  it('when events are sent twice, then sentAt is set on each send and clientTimestamp never changes', async () => {
    const { telemetry, clock, transport, seen } = setup();
    await telemetry.ready;
    const { createHttpTransport } = await import('../src/outbox/transport.js');
    let body: { items: WireItem[] } | null = null;
    const http = createHttpTransport({
      apiBaseUrl: 'http://x',
      getToken: () => 't',
      batchId: () => 'batch_1',
      nowIso: () => new Date(clock.now()).toISOString(),
      fetch: async (_url, init) => {
        body = JSON.parse(init.body as string) as { items: WireItem[] };
        return new Response(JSON.stringify({ success: true, data: { results: [] } }), { status: 200 });
      },
    });
    transport.setResponder(async (items) => {
      await http.send(items);
      return body && (body.items[0]!.itemData['metadata'] as { sentAt: string }).sentAt === new Date(clock.now()).toISOString() && transport.calls.length === 1
        ? { kind: 'retry', error: 'boom', status: 500 }
        : ok(items);
    });
    await telemetry.captureEvent('a');
    await telemetry.flush();
    const first = body!.items[0]!.itemData['metadata'] as { sentAt: string; clientTimestamp: string };
    await clock.advance(60_000);
    const second = body!.items[0]!.itemData['metadata'] as { sentAt: string; clientTimestamp: string };
    expect(second.sentAt).not.toBe(first.sentAt);
    expect(second.clientTimestamp).toBe(first.clientTimestamp);
    expect(seen['sync:error']).toHaveLength(1);
    expect(telemetry.status().queuedEvents).toBe(0);
    await telemetry.destroy();
  });

  it('when batchSize events are queued, then a flush starts without waiting for the interval', async () => {
    const { telemetry, transport } = setup({ batchSize: 10 });
    await telemetry.ready;
    await settle();
    await Promise.all(Array.from({ length: 10 }, (_, i) => telemetry.captureEvent('e', { i })));
    await eventually(() => expect(transport.calls.flatMap((c) => c.items)).toHaveLength(10));
    await eventually(() => expect(telemetry.status().queuedEvents).toBe(0));
    await telemetry.destroy();
  });

  it('when 64 KiB are queued, then a flush starts even below batchSize', async () => {
    const { telemetry, transport } = setup({ batchSize: 1000 });
    await telemetry.ready;
    await settle();
    for (let i = 0; i < 3; i++) await telemetry.captureEvent('e', { pad: 'x'.repeat(25_000) });
    await eventually(() => expect(transport.calls.length).toBeGreaterThan(0));
    await telemetry.destroy();
  });

  it('when the interval passes, then queued events are sent', async () => {
    const { telemetry, transport, clock } = setup({ syncIntervalMs: 10_000 });
    await telemetry.ready;
    await settle();
    await telemetry.captureEvent('e');
    await settle();
    expect(transport.calls).toHaveLength(0);
    await clock.advance(10_000);
    expect(transport.calls).toHaveLength(1);
    await telemetry.destroy();
  });

  it('when a flush joins one in flight, then its extra round reports its own reason in sync:complete', async () => {
    const { telemetry, transport, clock, seen } = setup({ syncIntervalMs: 10_000 });
    await telemetry.ready;
    await settle();
    let answer!: () => void;
    transport.setResponder((items, call) => (call === 1 ? new Promise<SendOutcome>((resolve) => (answer = () => resolve(ok(items)))) : ok(items)));
    await telemetry.captureEvent('first');
    // Captured as the first round ends, so only the joined round can send it.
    const off = telemetry.on('sync:complete', () => {
      off();
      void telemetry.captureEvent('second');
    });
    const manual = telemetry.flush();
    await eventually(() => expect(transport.calls).toHaveLength(1));
    await clock.advance(10_000); // the interval flush joins the manual one
    answer();
    const result = await manual;
    expect(result).toMatchObject({ sent: 2, stored: 2, remaining: 0 });
    expect(seen['sync:complete']!.map((e) => [e.reason, e.sent])).toEqual([
      ['manual', 1],
      ['interval', 1],
    ]);
    await telemetry.destroy();
  });

  it('when drain() runs through a failed round and later captures, then it resolves once all are confirmed', async () => {
    const { telemetry, transport } = setup({ backoff: { baseMs: 5, maxMs: 10 }, clock: undefined });
    await telemetry.ready;
    await settle();
    transport.setResponder((items, call) => (call === 1 ? { kind: 'retry', error: 'fetch failed', network: true } : ok(items)));
    await telemetry.captureEvent('a');
    // Captured once the retried round went through: nothing else would send it before the interval.
    const off = telemetry.on('sync:complete', (e) => {
      if (e.error) return;
      off();
      void telemetry.captureEvent('b');
    });
    const result = await telemetry.drain({ timeoutMs: 20_000 });
    expect(result).toEqual({ confirmed: 2, rejected: 0 });
    expect(telemetry.status().queuedEvents).toBe(0);
    expect(transport.calls.map((c) => c.items.length)).toEqual([1, 1, 1]);
    await expect(telemetry.drain({ timeoutMs: Number.NaN })).rejects.toThrow(RangeError);
    await telemetry.destroy();
  });

  it('when events were queued before start-up, then they are sent at start-up', async () => {
    const storage = createMemoryOutboxStorage();
    // Reuse the storage in a fresh instance, as a reloaded page would reopen IndexedDB.
    const wrapped: OutboxStorage = { ...storage, close: async () => undefined };
    const first = setup({ storage: wrapped, connectivity: createManualConnectivity(false) });
    await first.telemetry.captureEvent('e');
    const transport = createFakeTransport();
    await first.telemetry.destroy();
    const second = createTelemetry({ storage: wrapped, transport, clock: first.clock, locks: null, channel: null });
    await eventually(() => expect(transport.calls).toHaveLength(1));
    await second.destroy();
  });

  it('when the server answers per item, then stored/duplicate/merged are deleted, permanent rejections reported, transient ones kept', async () => {
    const { telemetry, transport, storage, seen, connectivity } = setup();
    connectivity.setOnline(false);
    const verdicts: ItemResult[] = [
      { index: 0, status: 'stored' },
      { index: 0, status: 'duplicate' },
      { index: 0, status: 'rejected', error: { code: 'VALIDATION_FAILED', message: 'eventData too deep' } },
      { index: 0, status: 'rejected', error: { code: 'STORE_UNAVAILABLE', message: 'later' } },
      { index: 0, status: 'merged' },
    ];
    transport.setResponder((items): SendOutcome => ({
      kind: 'results',
      results: items.map((item, index) => ({ ...verdicts[(item.itemData['eventData'] as { i: number }).i]!, index })),
    }));
    await telemetry.ready;
    const ids: EventId[] = [];
    for (let i = 0; i < 5; i++) ids.push(await telemetry.captureEvent('e', { i }));
    connectivity.setOnline(true);
    const result = await telemetry.flush();
    expect(result).toMatchObject({ stored: 1, duplicates: 1, rejected: 1, merged: 1, remaining: 1 });
    expect(result.retried).toBeGreaterThanOrEqual(1);
    expect(seen.dropped).toEqual([{ reason: 'rejected', ids: [ids[2]], error: 'VALIDATION_FAILED: eventData too deep' }]);
    expect((await storage.peek(10, 1e9)).map((i) => i.id)).toEqual([ids[3]]);
    await telemetry.destroy();
  });

  it('when the server says 410 (the learner was erased), then nothing is retried, items stay queued and status says why', async () => {
    const { telemetry, transport, clock, seen } = setup({ syncIntervalMs: 10_000 });
    await telemetry.ready;
    await settle();
    transport.setResponder(() => ({ kind: 'gone', error: 'GONE: erased', status: 410 }));
    await telemetry.captureEvent('a');
    const result = await telemetry.flush();
    expect(result).toMatchObject({ remaining: 1, error: 'GONE: erased' });
    expect(telemetry.status()).toMatchObject({ learnerErased: true, nextRetryAt: null, lastError: 'GONE: erased', queuedEvents: 1 });
    expect(seen['sync:error']).toEqual([{ error: 'GONE: erased', status: 410, attempt: 0, retryInMs: null, learnerErased: true }]);
    // Neither time, a later capture nor a manual flush sends anything more.
    await telemetry.captureEvent('b');
    await clock.advance(60_000);
    expect((await telemetry.flush()).skipped).toBe('learner-erased');
    expect(transport.calls).toHaveLength(1);
    expect(telemetry.status().queuedEvents).toBe(2);
    await telemetry.destroy();
  });

  it('when the server says 413, then the batch is split until it fits, and a lone oversized item is rejected', async () => {
    const { telemetry, transport, seen, connectivity } = setup({ batchSize: 16 });
    connectivity.setOnline(false);
    let huge = '';
    transport.setResponder((items): SendOutcome => (items.length > 3 || eventIds(items).includes(huge) ? { kind: 'too-large' } : ok(items)));
    await telemetry.ready;
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) ids.push(await telemetry.captureEvent('e', { i }));
    huge = ids[7]!;
    connectivity.setOnline(true);
    const result = await telemetry.flush();
    expect(result).toMatchObject({ stored: 14, rejected: 1, remaining: 0 });
    expect(seen.dropped?.[0]).toMatchObject({ reason: 'too-large', ids: [huge] });
    await telemetry.destroy();
  });

  it('when a send fails, then retries back off with full jitter and honour Retry-After', async () => {
    const { telemetry, transport, clock, seen } = setup({ backoff: { baseMs: 1000, maxMs: 60_000 } });
    transport.setResponder(() => ({ kind: 'retry', error: 'HTTP 500', status: 500 }));
    await telemetry.ready;
    await telemetry.captureEvent('e');
    await telemetry.flush();
    // random() = 0.5: half of 1 s, 2 s, 4 s …
    expect(seen['sync:error']!.map((e) => e.retryInMs)).toEqual([500]);
    await clock.advance(500);
    await clock.advance(1000);
    expect(seen['sync:error']!.map((e) => e.retryInMs)).toEqual([500, 1000, 2000]);
    transport.setResponder(() => ({ kind: 'retry', error: 'RATE_LIMITED', status: 429, retryAfterMs: 30_000 }));
    await clock.advance(2000);
    expect(seen['sync:error']!.at(-1)).toMatchObject({ retryInMs: 30_000, status: 429, attempt: 4 });
    // Within the Retry-After window even an explicit flush does not hit the server.
    const calls = transport.calls.length;
    expect((await telemetry.flush()).skipped).toBe('backoff');
    expect(transport.calls.length).toBe(calls);
    transport.setResponder(ok);
    await clock.advance(30_000);
    expect(telemetry.status()).toMatchObject({ queuedEvents: 0, lastError: null, nextRetryAt: null });
    await telemetry.destroy();
  });

  it('full jitter stays within [0, min(max, base·2^n)) and Retry-After is a floor', () => {
    expect(backoffDelay(0, () => 0.999, { baseMs: 100, maxMs: 1000 })).toBe(99);
    expect(backoffDelay(10, () => 0.999, { baseMs: 100, maxMs: 1000 })).toBe(999);
    expect(backoffDelay(3, () => 0, { baseMs: 100 }, 5000)).toBe(5000);
  });

  it('when offline, then nothing is sent and no attempt is counted; coming online flushes at once', async () => {
    const { telemetry, transport, connectivity, clock, seen } = setup();
    connectivity.setOnline(false);
    await telemetry.ready;
    for (let i = 0; i < 120; i++) await telemetry.captureEvent('e', { i });
    expect((await telemetry.flush()).skipped).toBe('offline');
    await clock.advance(10 * 60_000);
    expect(transport.calls).toHaveLength(0);
    // A network error that arrives while offline counts no attempt either.
    transport.setResponder(() => {
      connectivity.setOnline(false);
      return { kind: 'retry', error: 'Failed to fetch', network: true };
    });
    connectivity.setOnline(true);
    await eventually(() => expect(seen['sync:error']).toHaveLength(1));
    expect(seen['sync:error']![0]).toMatchObject({ attempt: 0, retryInMs: null });
    transport.setResponder(ok);
    connectivity.setOnline(true);
    await eventually(() => expect(telemetry.status().queuedEvents).toBe(0));
    await telemetry.destroy();
  });

  it('when the queue is full, then the oldest are dropped and how many is reported', async () => {
    const { telemetry, seen, storage } = setup({ maxQueueSize: 5, connectivity: createManualConnectivity(false) });
    await telemetry.ready;
    const ids: EventId[] = [];
    for (let i = 0; i < 8; i++) ids.push(await telemetry.captureEvent('e', { i }));
    expect(seen.dropped!.flatMap((d) => d.ids)).toEqual(ids.slice(0, 3));
    expect(seen.dropped!.every((d) => d.reason === 'cap')).toBe(true);
    expect(telemetry.status()).toMatchObject({ queuedEvents: 5, droppedEvents: 3 });
    expect((await storage.stats()).count).toBe(5);
    await telemetry.destroy();
  });

  it('when events are older than maxEventAgeMs, then they expire unsent', async () => {
    const { telemetry, transport, clock, seen, connectivity } = setup({ maxEventAgeMs: 60_000 });
    connectivity.setOnline(false);
    await telemetry.ready;
    const old = await telemetry.captureEvent('old');
    await clock.advance(61_000);
    const fresh = await telemetry.captureEvent('fresh');
    connectivity.setOnline(true);
    await eventually(() => expect(transport.calls).toHaveLength(1));
    expect(eventIds(transport.calls[0]!.items)).toEqual([fresh]);
    expect(seen.dropped).toEqual([{ reason: 'expired', ids: [old] }]);
    await telemetry.destroy();
  });

  it('when storage is out of quota, then the oldest make room and capture still succeeds', async () => {
    const inner = createMemoryOutboxStorage();
    let fail = 0;
    const storage: OutboxStorage = {
      ...inner,
      append: (items, limits) => (fail-- > 0 ? Promise.reject(new QuotaError('full')) : inner.append(items, limits)),
    };
    const { telemetry, seen } = setup({ storage, connectivity: createManualConnectivity(false) });
    await telemetry.ready;
    const a = await telemetry.captureEvent('a');
    fail = 1;
    const b = await telemetry.captureEvent('b');
    expect(seen.dropped).toEqual([{ reason: 'quota', ids: [a], error: 'full' }]);
    expect((await inner.peek(10, 1e9)).map((i) => i.id)).toEqual([b]);
    // Storage failing altogether: the event is kept in memory and still counted.
    fail = 2;
    await telemetry.captureEvent('c');
    expect(telemetry.status().queuedEvents).toBe(2);
    expect(telemetry.status().lastError).toMatch(/storage failed/);
    await telemetry.destroy();
  });

  it('when the page is hidden mid-flush, then keepalive chunks under 60 KiB go out and only confirmed items are deleted', async () => {
    const { telemetry, transport, lifecycle, storage } = setup({ batchSize: 1000, connectivity: createManualConnectivity(false) });
    await telemetry.ready;
    for (let i = 0; i < 40; i++) await telemetry.captureEvent('e', { pad: 'y'.repeat(5_000), i });
    // The first keepalive response never comes back (the page died); later ones are confirmed.
    let n = 0;
    transport.setResponder((items) => (++n === 1 ? new Promise<SendOutcome>(() => undefined) : ok(items)));
    lifecycle.fire('pagehide');
    expect(transport.calls).toHaveLength(1);
    const chunk = JSON.stringify({ batchId: 'batch_x', items: transport.calls[0]!.items });
    expect(chunk.length).toBeLessThan(60 * 1024);
    expect(transport.calls[0]!.keepalive).toBe(true);
    await settle();
    expect((await storage.stats()).count).toBe(40);
    await telemetry.destroy();
  });

  it('when two instances share one storage and lock, then only the leader sends and the follower takes over when it goes', async () => {
    const indexedDB = new IDBFactory();
    const locks = createInProcessLocks();
    const transport = createFakeTransport();
    const channel = (name: string) => new BroadcastChannel(name) as unknown as import('../src/ports.js').ChannelPort;
    const make = async () =>
      createTelemetry({ storage: await createIndexedDbOutboxStorage({ indexedDB, dbName: 'tabs' }), transport, locks, channel, batchSize: 5 });
    const a = await make();
    await a.ready;
    const b = await make();
    await b.ready;
    await eventually(() => expect(a.status().leader).toBe(true));
    expect(b.status().leader).toBe(false);
    for (let i = 0; i < 23; i++) await (i % 2 ? a : b).captureEvent('e', { i });
    await a.flush();
    // The follower's flush is done by the leader, and the follower gets the leader's result
    // and sees the leader's sync events.
    const followerSaw: string[] = [];
    b.on('sync:complete', (e) => followerSaw.push(`complete:${e.reason}`));
    await b.captureEvent('from_follower');
    const delegated = await b.flush();
    expect(delegated.sent).toBe(1);
    expect(delegated.skipped).toBeUndefined();
    await eventually(() => expect(followerSaw).toContain('complete:follower'));
    await eventually(() => expect(transport.calls.flatMap((c) => c.items)).toHaveLength(24));
    expect(new Set(transport.calls.flatMap((c) => eventIds(c.items))).size).toBe(24);
    await eventually(() => expect(b.status().queuedEvents).toBe(0));
    await a.destroy();
    await eventually(() => expect(b.status().leader).toBe(true));
    await b.captureEvent('after');
    await b.flush();
    expect(transport.calls.flatMap((c) => c.items)).toHaveLength(25);
    await b.destroy();
  });

  it('when storage cannot be opened, then captures are kept in memory, still sent, and the status says why', async () => {
    const { telemetry, transport } = setup({ storage: Promise.reject(new Error('journal is locked')) });
    await telemetry.ready;
    await telemetry.captureEvent('e');
    expect(telemetry.status().lastError).toMatch(/memory only: journal is locked/);
    expect(telemetry.status().durable).toBe(false);
    await telemetry.flush();
    expect(transport.calls).toHaveLength(1);
    await telemetry.destroy();
  });

  it('when storage fails during a flush, then the flush reports it and retries instead of rejecting', async () => {
    const inner = createMemoryOutboxStorage();
    let broken = false;
    const storage: OutboxStorage = { ...inner, peek: (n, b) => (broken ? Promise.reject(new Error('database closed')) : inner.peek(n, b)) };
    const { telemetry, seen, clock, transport } = setup({ storage });
    await telemetry.ready;
    await telemetry.captureEvent('e');
    broken = true;
    const result = await telemetry.flush();
    expect(result.error).toMatch(/database closed/);
    expect(seen['sync:error']!.at(-1)).toMatchObject({ error: 'flush failed: database closed', attempt: 1 });
    broken = false;
    await clock.advance(1000);
    expect(transport.calls).toHaveLength(1);
    expect(telemetry.status().queuedEvents).toBe(0);
    await telemetry.destroy();
  });

  it('when the caller mutates its data after capture, then the queued event keeps the captured values', async () => {
    const { telemetry, storage, connectivity } = setup();
    connectivity.setOnline(false);
    await telemetry.ready;
    const data = { score: 1 };
    const p = telemetry.captureEvent('e', data);
    data.score = 2;
    await p;
    expect(((await storage.peek(1, 1e9))[0]!.itemData['eventData'] as { score: number }).score).toBe(1);
    await telemetry.destroy();
  });

  it('when the event type or data is invalid by the server schema, then capture rejects and nothing is queued', async () => {
    const { telemetry } = setup();
    await expect(telemetry.captureEvent('')).rejects.toThrow(TypeError);
    await expect(telemetry.captureEvent('ok', [] as never)).rejects.toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    await expect(telemetry.captureEvent('ok', cyclic as never)).rejects.toThrow(TypeError);
    await expect(telemetry.captureEvent('ok', { s: 'x'.repeat(40_000) })).rejects.toThrow(/at most 32768/);
    // The server's schema: lowercase event types, no prototype keys, valid assessments.
    await expect(telemetry.captureEvent('Lesson_Opened')).rejects.toThrow(/eventType: only lowercase/);
    await expect(telemetry.captureEvent('ok', JSON.parse('{"__proto__": {"x": 1}}') as never)).rejects.toThrow(TypeError);
    await expect(telemetry.captureItem('assessment', { assessmentId: 'a1', topicId: 't', score: 101, completedAt: 'yesterday' })).rejects.toThrow(/score/);
    await expect(telemetry.captureItem('progress', { topicId: 't1', status: 'in_progress' })).resolves.toBeTruthy();
    expect(telemetry.status().queuedEvents).toBe(1);
    await telemetry.destroy();
  });
});
