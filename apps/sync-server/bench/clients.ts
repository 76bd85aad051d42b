/**
 * The client side of the benchmark, in its own process: stock y-websocket 3.1.0 clients
 * (`disableBc`) for ours and @y/websocket-server, HocuspocusProvider for Hocuspocus. Runs one
 * scenario against one server and prints one JSON line per measurement.
 *
 * Env: BENCH = JSON { server: 'ours' | 'yws' | 'hocuspocus', port, pid, scenario, token?, warmup }.
 *
 * Deliveries: each writer sets its own key `w<i>` of map `w` to `{ s: seq, t: time }`; a client
 * that observes the key go from seq a to seq b counts b − a deliveries (a coalesced message that
 * carries several of one writer's updates delivers all of them: Y.mergeUpdates keeps every one).
 * Latency is measured on the value observed (clients share one clock: one process).
 */
import { setImmediate as turn } from 'node:timers/promises';
import { HocuspocusProvider } from '@hocuspocus/provider';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { cpuSeconds, percentile } from './proc.js';

interface BenchEnv {
  readonly server: 'ours' | 'yws' | 'hocuspocus';
  readonly port: number;
  readonly pid: number;
  readonly scenario: 'fanout-1x50' | 'fanout-500x2' | 'rss-1000' | 'late-joiner' | 'storm-1x50';
  readonly token: string;
  /** rss-1000 only: open, write and close 50 documents before the baseline (BENCH_RSS_WARMUP=0: no). */
  readonly warmup: boolean;
}

const env = JSON.parse(process.env['BENCH'] ?? '{}') as BenchEnv;
// In Node every stock provider adds a process 'exit' listener, so a scenario's 50 to 1 000
// providers exceed the default of 10 and Node prints a leak warning per run; they are removed on
// destroy, so there is no leak to report.
process.setMaxListeners(0);

interface Client {
  readonly doc: Y.Doc;
  readonly synced: Promise<void>;
  bufferedAmount(): number;
  destroy(): void;
}

function makeClient(docName: string): Client {
  const doc = new Y.Doc();
  if (env.server === 'hocuspocus') {
    let resolveSynced!: () => void;
    const synced = new Promise<void>((resolve) => (resolveSynced = resolve));
    const provider = new HocuspocusProvider({
      url: `ws://127.0.0.1:${env.port}`,
      name: docName,
      document: doc,
      onSynced: () => resolveSynced(),
      // The provider hands its whole configuration to its websocket, which takes the polyfill.
      ...({ WebSocketPolyfill: WebSocket } as object),
    });
    return {
      doc,
      synced,
      bufferedAmount: () => (provider.configuration.websocketProvider as unknown as { webSocket: WebSocket | null }).webSocket?.bufferedAmount ?? 0,
      destroy: () => provider.destroy(),
    };
  }
  const serverUrl = env.server === 'ours' ? `ws://127.0.0.1:${env.port}/sync` : `ws://127.0.0.1:${env.port}`;
  const provider = new WebsocketProvider(serverUrl, docName, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: env.server === 'ours' ? { token: env.token } : {},
  });
  const synced = new Promise<void>((resolve) => {
    if (provider.synced) resolve();
    provider.on('sync', (s: boolean) => s && resolve());
  });
  return {
    doc,
    synced,
    bufferedAmount: () => (provider.ws as unknown as WebSocket | null)?.bufferedAmount ?? 0,
    destroy: () => provider.destroy(),
  };
}

function emit(metric: string, values: Record<string, number | string>): void {
  process.stdout.write(JSON.stringify({ server: env.server, scenario: env.scenario, metric, ...values }) + '\n');
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** Connects `count` clients in parallel waves (bounded, loopback) and returns them with the time to sync all. */
async function connectAll(names: readonly string[]): Promise<{ clients: Client[]; ms: number }> {
  const t0 = performance.now();
  const clients: Client[] = [];
  const WAVE = 100;
  for (let i = 0; i < names.length; i += WAVE) {
    const wave = names.slice(i, i + WAVE).map((name) => makeClient(name));
    clients.push(...wave);
    await Promise.all(wave.map((c) => c.synced));
  }
  return { clients, ms: performance.now() - t0 };
}

interface Receiver {
  deliveries: number;
  readonly last: Map<string, number>;
  latencies: number[];
}

function observeWrites(client: Client, ownKey: string | null): Receiver {
  const map = client.doc.getMap<{ s: number; t: number }>('w');
  const receiver: Receiver = { deliveries: 0, last: new Map(), latencies: [] };
  map.observe((event) => {
    const now = performance.now();
    for (const key of event.keysChanged) {
      if (key === ownKey) continue;
      const value = map.get(key);
      if (!value) continue;
      receiver.deliveries += value.s - (receiver.last.get(key) ?? 0);
      receiver.last.set(key, value.s);
      receiver.latencies.push(now - value.t);
    }
  });
  return receiver;
}

function latencySummary(receivers: readonly Receiver[]): { p50: number; p99: number; samples: number } {
  const all = receivers.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return { p50: round(percentile(all, 50)), p99: round(percentile(all, 99)), samples: all.length };
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Writers at a fixed rate, `perWriterPerSecond`, for `durationMs`; staggered so they do not tick together. */
async function throttled(writers: Array<{ client: Client; key: string; seq: number }>, perWriterPerSecond: number, durationMs: number): Promise<void> {
  const interval = 1000 / perWriterPerSecond;
  const end = performance.now() + durationMs;
  await Promise.all(
    writers.map(async (w, i) => {
      await new Promise((resolve) => setTimeout(resolve, (interval * i) / writers.length));
      const map = w.client.doc.getMap('w');
      while (performance.now() < end) {
        map.set(w.key, { s: ++w.seq, t: performance.now() });
        await new Promise((resolve) => setTimeout(resolve, interval));
      }
    }),
  );
}

async function fanout1x50(): Promise<void> {
  const { clients, ms } = await connectAll(Array.from({ length: 50 }, () => 'bench-1x50'));
  emit('sync_all_ms', { clients: 50, ms: round(ms) });
  const writers = clients.slice(0, 5).map((client, i) => ({ client, key: `w${i}`, seq: 0 }));
  const receivers = clients.map((c, i) => observeWrites(c, i < 5 ? `w${i}` : null));
  const expected = (): boolean => receivers.every((r, ri) => writers.every((w, wi) => wi === ri || (r.last.get(w.key) ?? 0) === w.seq));

  // Throttled: 5 writers × 20 updates/s for 10 s; latency under light load (≈ 49 000 samples).
  const throttledCpu0 = cpuSeconds(env.pid);
  await throttled(writers, 20, 10_000);
  await waitFor(expected, 10_000);
  const throttledCpu = round(cpuSeconds(env.pid) - throttledCpu0);
  emit('fanout_latency_ms', { phase: 'throttled', docs: 1, clients: 50, writers: 5, serverCpuSeconds: throttledCpu, ...latencySummary(receivers) });

  // Unthrottled: writers as fast as their socket drains, for 5 s.
  for (const r of receivers) {
    r.deliveries = 0;
    r.latencies = [];
  }
  const cpu0 = cpuSeconds(env.pid);
  const t0 = performance.now();
  const end = t0 + 5_000;
  await Promise.all(
    writers.map(async (w) => {
      const map = w.client.doc.getMap('w');
      while (performance.now() < end) {
        if (w.client.bufferedAmount() < 64 * 1024) map.set(w.key, { s: ++w.seq, t: performance.now() });
        await turn();
      }
    }),
  );
  const drained = await waitFor(expected, 60_000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(env.pid) - cpu0;
  const deliveries = receivers.reduce((sum, r) => sum + r.deliveries, 0);
  const writes = writers.reduce((sum, w) => sum + w.seq, 0);
  emit('fanout_unthrottled', {
    docs: 1,
    clients: 50,
    writers: 5,
    writes,
    deliveries,
    drained: drained ? 'yes' : 'no',
    seconds: round(seconds),
    serverCpuSeconds: round(cpu),
    deliveriesPerSecond: Math.round(deliveries / seconds),
    deliveriesPerCpuSecond: Math.round(deliveries / cpu),
    ...Object.fromEntries(Object.entries(latencySummary(receivers)).map(([k, v]) => [`latency_${k}`, v])),
  });
  for (const c of clients) c.destroy();
}

/**
 * fanout-1x50's first figure alone: 50 clients of one document on a fresh server, time until all
 * are synced, and the server's CPU meanwhile (/proc, 10 ms ticks). Seconds per round instead of
 * half a minute, so it can run the many rounds this figure's spread needs.
 */
async function storm1x50(): Promise<void> {
  const cpu0 = cpuSeconds(env.pid);
  const { clients, ms } = await connectAll(Array.from({ length: 50 }, () => 'bench-1x50'));
  emit('sync_all_ms', { clients: 50, ms: round(ms), serverCpuMs: Math.round((cpuSeconds(env.pid) - cpu0) * 1000) });
  for (const c of clients) c.destroy();
}

async function fanout500x2(): Promise<void> {
  const names = Array.from({ length: 500 }, (_, i) => `bench-500-${i}`).flatMap((n) => [n, n]);
  const { clients, ms } = await connectAll(names);
  emit('sync_all_ms', { clients: 1000, docs: 500, ms: round(ms) });
  const writers = Array.from({ length: 500 }, (_, i) => ({ client: clients[2 * i]!, key: 'w0', seq: 0 }));
  const receivers = Array.from({ length: 500 }, (_, i) => observeWrites(clients[2 * i + 1]!, null));
  // 500 writers × 2 updates/s = 1000 updates/s across 500 documents.
  await throttled(writers, 2, 5_000);
  await waitFor(() => receivers.every((r, i) => (r.last.get('w0') ?? 0) === writers[i]!.seq), 10_000);
  emit('fanout_latency_ms', { phase: 'throttled', docs: 500, clients: 1000, writers: 500, ...latencySummary(receivers) });
  for (const c of clients) c.destroy();
}

/** Resolves on the orchestrator's next line on stdin. */
const nextInput = (): Promise<void> => new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

async function rss1000(): Promise<void> {
  // Warm-up: 50 documents opened, written and closed first, so the baseline already holds what
  // any server allocates once (JIT code, pools, lazily created structures) and the figure is per
  // document. 5 s lets every server unload them (ours and Hocuspocus after ~2 s, yws at once).
  if (env.warmup) {
    const warm = await connectAll(Array.from({ length: 50 }, (_, i) => `bench-warm-${i}`));
    warm.clients.forEach((c, i) => c.doc.getMap('m').set('x', i));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const c of warm.clients) c.destroy();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
  process.stdout.write('READY_FOR_BASELINE\n');
  await nextInput();
  const { clients, ms } = await connectAll(Array.from({ length: 1000 }, (_, i) => `bench-rss-${i}`));
  clients.forEach((c, i) => c.doc.getMap('m').set('x', i));
  // Let the server process the writes and settle before the orchestrator reads its RSS.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  emit('sync_all_ms', { clients: 1000, docs: 1000, ms: round(ms) });
  process.stdout.write('READY_FOR_RSS\n');
  await nextInput();
  for (const c of clients) c.destroy();
}

async function lateJoiner(): Promise<void> {
  const [writer, observer] = (await connectAll(['bench-typing', 'bench-typing'])).clients as [Client, Client];
  const text = writer.doc.getText('t');
  const TOTAL = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < TOTAL; i++) {
    text.insert(i, String.fromCharCode(97 + (i % 26))); // one transaction, one update per keystroke
    if (i % 100 === 0) {
      while (writer.bufferedAmount() > 256 * 1024) await new Promise((resolve) => setTimeout(resolve, 1));
      await turn();
    }
  }
  const ok = await waitFor(() => observer.doc.getText('t').length === TOTAL, 120_000);
  emit('typing_written', { updates: TOTAL, ms: round(performance.now() - t0), complete: ok ? 'yes' : 'no' });
  const times: number[] = [];
  for (let run = 0; run < 3; run++) {
    const started = performance.now();
    const joiner = makeClient('bench-typing');
    await joiner.synced;
    await waitFor(() => joiner.doc.getText('t').length === TOTAL, 30_000);
    times.push(performance.now() - started);
    joiner.destroy();
  }
  times.sort((a, b) => a - b);
  emit('late_joiner_ms', { updates: TOTAL, median: round(times[1]!), min: round(times[0]!), max: round(times[2]!) });
  writer.destroy();
  observer.destroy();
}

const scenarios = { 'fanout-1x50': fanout1x50, 'fanout-500x2': fanout500x2, 'rss-1000': rss1000, 'late-joiner': lateJoiner, 'storm-1x50': storm1x50 };
await scenarios[env.scenario]();
process.exit(0);
