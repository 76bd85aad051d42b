/** Runs in Chromium: captureEvent latency over real IndexedDB with 1 000 and 100 000 queued events. */
import { createIdGenerator } from '../src/ids.js';
import { createIndexedDbOutboxStorage } from '../src/outbox/indexeddb-storage.js';
import { createTelemetry } from '../src/outbox/telemetry.js';
import type { OutboxItem } from '../src/outbox/types.js';
import { createManualConnectivity } from '../src/ports.js';

function percentiles(xs: number[]): { p50: number; p99: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: round(at(0.5)), p99: round(at(0.99)), mean: round(s.reduce((a, b) => a + b, 0) / s.length) };
}

async function run(samples: number): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const queued of [1_000, 100_000]) {
    const dbName = `bench-${queued}-${Date.now()}`;
    const storage = await createIndexedDbOutboxStorage({ indexedDB, dbName });
    let t = Date.now() - queued - 1000;
    const next = createIdGenerator(() => t);
    for (let i = 0; i < queued; i += 10_000) {
      const items: OutboxItem[] = [];
      for (let j = i; j < Math.min(queued, i + 10_000); j++) {
        t++;
        const id = next();
        items.push({ id, itemType: 'event', itemData: { eventId: id, eventType: 'prefill', eventData: { j } }, createdAt: t, size: 120 });
      }
      await storage.append(items, { maxItems: 1e9, maxBytes: 1e12 });
    }
    const telemetry = createTelemetry({
      storage,
      transport: { send: async () => ({ kind: 'retry', error: 'offline bench' }) },
      connectivity: createManualConnectivity(false),
      locks: null,
      channel: null,
      maxQueueSize: queued + samples + 100,
      maxQueueBytes: 1e12,
    });
    await telemetry.ready;
    for (let i = 0; i < 50; i++) await telemetry.captureEvent('warm_up', { i });
    const lat: number[] = [];
    for (let i = 0; i < samples; i++) {
      const s = performance.now();
      await telemetry.captureEvent('question_answered', { questionId: `q${i}`, correct: i % 3 === 0, ms: 1234 });
      lat.push(performance.now() - s);
    }
    const count = telemetry.status().queuedEvents;
    await telemetry.destroy();
    indexedDB.deleteDatabase(dbName);
    out.push({ bench: 'captureEvent', runtime: 'chromium', adapter: 'indexeddb', queued, samples, unit: 'ms', ok: count === queued + samples + 50, ...percentiles(lat) });
  }
  return out;
}

(globalThis as unknown as { runBench: typeof run }).runBench = run;
