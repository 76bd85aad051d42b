/**
 * `npm run bench` (fourth part): several instances on one Redis and one store.
 *
 * 1. `fanout-4-instances`: four server processes (`servers/ours.mjs` from dist/, one SQLite file
 *    in a shared temp dir, one Redis, a key prefix of their own). Two busy documents have clients
 *    on instances A and B (`BENCH_INSTANCES_CLIENTS` per document and instance, one of them
 *    writing at `BENCH_INSTANCES_RATE` updates/s); instances C and D hold `BENCH_INSTANCES_IDLE_DOCS`
 *    other documents each, one idle client per document. For `BENCH_INSTANCES_SECONDS` the
 *    writers write; the line reports delivery latency p50/p99 across instances (written on A, seen
 *    by a client of B, and the reverse) and on the same instance, deliveries per server
 *    CPU-second of A+B, and the CPU of each instance (C and D as a share of A's).
 * 2. `idle-sockets`: one instance (with Redis), `BENCH_IDLE_DOCS` documents opened with one
 *    authenticated socket each, then sockets up to `BENCH_IDLE_SOCKETS` (default 10 000) opened on
 *    those documents; RSS after a full GC at each step gives the RSS per idle socket, and per
 *    loaded document with its first socket; CPU per upgrade with and without a document load.
 *
 * Deliveries and latency as in clients.ts: a writer sets its key of map `w` to `{ s: seq, t: time }`,
 * a client seeing seq go from a to b counts b − a deliveries; clients and writers share this
 * process's clock. Redis: `REDIS_URL` (default redis://127.0.0.1:6379), or a Redis Cluster with
 * `BENCH_REDIS_CLUSTER_NODES` (e.g. the test cluster's `$REDIS_CLUSTER_NODES`; lines then carry
 * `redis: "cluster"`).
 * `BENCH_SERVER_ROOT`: run the servers of another checkout's `apps/sync-server` (built, with this
 * `servers/ours.mjs`) to compare fan-out designs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { createTokenService } from '../src/auth/tokens.js';
import { createRedisClient, type RedisClient, type RedisTarget } from '../src/redis/connection.js';
import { cpuSeconds, percentile, rssBytes, syncPortOf } from './proc.js';

const env = process.env;
const num = (name: string, fallback: number): number => {
  const value = Number(env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const SECONDS = num('BENCH_INSTANCES_SECONDS', 8);
const RATE = num('BENCH_INSTANCES_RATE', 50);
const CLIENTS = num('BENCH_INSTANCES_CLIENTS', 5);
const IDLE_DOCS_PER_INSTANCE = num('BENCH_INSTANCES_IDLE_DOCS', 25);
const IDLE_SOCKETS = num('BENCH_IDLE_SOCKETS', 10_000);
const IDLE_DOCS = Math.min(IDLE_SOCKETS, num('BENCH_IDLE_DOCS', 1_000));
const REDIS_URL = env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const CLUSTER_NODES = env['BENCH_REDIS_CLUSTER_NODES'] ?? '';
const redisTarget: RedisTarget = CLUSTER_NODES ? { kind: 'cluster', nodes: CLUSTER_NODES.split(',') } : { kind: 'single', url: REDIS_URL };
/** The instances' Redis variables. */
const redisEnv: Record<string, string> = CLUSTER_NODES ? { REDIS_CLUSTER_NODES: CLUSTER_NODES } : { REDIS_URL };
const redisKind = CLUSTER_NODES ? 'cluster' : 'single';

/** A ready admin client (keys, memory usage, clean-up). */
async function adminRedis(): Promise<RedisClient> {
  const client = createRedisClient(redisTarget);
  if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  return client;
}
/** KEYS on every primary: a cluster client sends it to one node only. */
async function keysOf(client: RedisClient, pattern: string): Promise<string[]> {
  if ('nodes' in client) return (await Promise.all(client.nodes('master').map((node) => node.keys(pattern)))).flat();
  return client.keys(pattern);
}
async function deleteUnder(client: RedisClient, prefix: string): Promise<void> {
  await Promise.all((await keysOf(client, `${prefix}:*`)).map((key) => client.del(key)));
}
const SECRET = 'bench-secret-of-at-least-thirty-two-characters';
/** The server's package directory; `BENCH_SERVER_ROOT` points at another build (e.g. an older commit's) to compare. */
const root = env['BENCH_SERVER_ROOT'] ?? fileURLToPath(new URL('..', import.meta.url));
const tokens = createTokenService(SECRET);
const gcHook = ['--expose-gc', '--require', './bench/servers/gc-on-signal.cjs'];
// Every stock provider adds a process 'exit' listener (removed on destroy): no leak to warn about.
process.setMaxListeners(0);

const print = (line: Record<string, number | string | boolean>): void => void process.stdout.write(JSON.stringify({ bench: 'instances', ...line }) + '\n');
const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Instance {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

async function startInstance(name: string, extra: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, [...gcHook, 'bench/servers/ours.mjs'], {
    cwd: root,
    env: { PATH: env['PATH'] ?? '', PORT: '0', JWT_SECRET: SECRET, SYNC_RATE: '1000000', ...redisEnv, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await syncPortOf(child, `instance ${name}`);
  return {
    name,
    child,
    pid: child.pid ?? 0,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** RSS of a server right after a full garbage collection (gc-on-signal.cjs). */
async function rssAfterGc(instance: Instance): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not answer the GC signal')), 10_000);
    const onData = (chunk: Buffer): void => {
      if (!chunk.toString().includes('GC_DONE')) return;
      clearTimeout(timer);
      instance.child.stdout?.off('data', onData);
      resolve();
    };
    instance.child.stdout?.on('data', onData);
    instance.child.kill('SIGUSR2');
  });
  return rssBytes(instance.pid);
}

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      process.stderr.write(`bench: gave up waiting for ${what}\n`);
      return false;
    }
    await sleep(20);
  }
  return true;
}

interface Client {
  readonly instance: string;
  readonly doc: Y.Doc;
  readonly provider: WebsocketProvider;
  readonly synced: Promise<void>;
}

function connect(instance: Instance, docName: string, token: string): Client {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`ws://127.0.0.1:${instance.port}/sync`, docName, doc, {
    params: { token },
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  const synced = new Promise<void>((resolve) => {
    if (provider.synced) resolve();
    else provider.once('sync', () => resolve());
  });
  return { instance: instance.name, doc, provider, synced };
}

async function fanoutAcrossInstances(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'prepmate-bench-instances-'));
  const prefix = `prepmate:bench:${randomUUID()}`;
  const names = ['A', 'B', 'C', 'D'];
  const instances: Instance[] = [];
  const clients: Client[] = [];
  try {
    for (const name of names) instances.push(await startInstance(name, { DATA_DIR: dataDir, REDIS_KEY_PREFIX: prefix }));
    const [a, b, c, d] = instances as [Instance, Instance, Instance, Instance];
    const busyDocs = ['busy-0', 'busy-1'];
    /** Writer key → instance of the writer. */
    const writerInstance = new Map<string, string>();
    const writers: Array<{ key: string; client: Client }> = [];
    for (const docName of busyDocs) {
      const token = await tokens.sign(docName, { expiresInSeconds: 3600 });
      for (const instance of [a, b]) {
        for (let i = 0; i < CLIENTS; i++) {
          const client = connect(instance, docName, token);
          clients.push(client);
          if (i === 0) {
            const key = `${docName}/${instance.name}`;
            writerInstance.set(key, instance.name);
            writers.push({ key, client });
          }
        }
      }
    }
    for (const instance of [c, d]) {
      for (let i = 0; i < IDLE_DOCS_PER_INSTANCE; i++) {
        const docName = `idle-${instance.name}-${i}`;
        clients.push(connect(instance, docName, await tokens.sign(docName, { expiresInSeconds: 3600 })));
      }
    }
    await Promise.all(clients.map((client) => client.synced));
    // Idle documents hold one small change each, as a learner's document does.
    for (const client of clients.filter((cl) => cl.instance === 'C' || cl.instance === 'D')) client.doc.getMap('m').set('opened', 1);

    const cross: number[] = [];
    const local: number[] = [];
    let deliveries = 0;
    let crossDeliveries = 0;
    const finalSeq = new Map<string, number>();
    /** Per client, the last seq seen per writer key. */
    const busyClients = clients.filter((cl) => cl.instance === 'A' || cl.instance === 'B');
    const seen = busyClients.map(() => new Map<string, number>());
    busyClients.forEach((client, index) => {
      client.doc.getMap('w').observe((event) => {
        const now = performance.now();
        for (const key of event.keysChanged) {
          const value = client.doc.getMap('w').get(key) as { s: number; t: number } | undefined;
          if (!value) continue;
          const last = seen[index]!.get(key) ?? 0;
          if (value.s <= last) continue;
          seen[index]!.set(key, value.s);
          if (event.transaction.local) continue;
          const isCross = writerInstance.get(key) !== client.instance;
          deliveries += value.s - last;
          if (isCross) crossDeliveries += value.s - last;
          (isCross ? cross : local).push(now - value.t);
        }
      });
    });
    await sleep(1_000);

    const cpuBefore = instances.map((instance) => cpuSeconds(instance.pid));
    const started = performance.now();
    let seq = 0;
    const interval = 1_000 / RATE;
    while (performance.now() - started < SECONDS * 1_000) {
      seq += 1;
      for (const writer of writers) writer.client.doc.getMap('w').set(writer.key, { s: seq, t: performance.now() });
      const next = started + seq * interval;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    for (const writer of writers) finalSeq.set(writer.key, seq);
    const drained = await until(
      () => busyClients.every((client, index) => [...writerInstance.keys()].filter((key) => key.startsWith(`${client.provider.roomname}/`)).every((key) => (seen[index]!.get(key) ?? 0) >= seq)),
      'every busy client to see the final values',
      20_000,
    );
    const cpu = instances.map((instance, i) => cpuSeconds(instance.pid) - cpuBefore[i]!);
    const [cpuA, cpuB, cpuC, cpuD] = cpu as [number, number, number, number];
    cross.sort((x, y) => x - y);
    local.sort((x, y) => x - y);
    const redis = await adminRedis();
    const streamKeys = await keysOf(redis, `${prefix}:*:d:*`);
    const busyKey = streamKeys.find((key) => key.endsWith(':d:busy-0'));
    const busyStreamBytes = busyKey ? Number(await redis.call('MEMORY', 'USAGE', busyKey)) : 0;
    const busyStreamLength = busyKey ? await redis.xlen(busyKey) : 0;
    const idleKey = streamKeys.find((key) => key.includes(':d:idle-'));
    const idleStreamBytes = idleKey ? Number(await redis.call('MEMORY', 'USAGE', idleKey)) : 0;
    await deleteUnder(redis, prefix);
    redis.disconnect();
    print({
      scenario: 'fanout-4-instances',
      redis: redisKind,
      seconds: SECONDS,
      writers: writers.length,
      rate_per_writer: RATE,
      clients_per_busy_doc: CLIENTS * 2,
      idle_docs_on_c_and_d: IDLE_DOCS_PER_INSTANCE,
      updates_written: seq * writers.length,
      deliveries,
      cross_deliveries: crossDeliveries,
      cross_p50_ms: round(percentile(cross, 50)),
      cross_p99_ms: round(percentile(cross, 99)),
      local_p50_ms: round(percentile(local, 50)),
      local_p99_ms: round(percentile(local, 99)),
      cpu_a_s: round(cpuA),
      cpu_b_s: round(cpuB),
      cpu_c_s: round(cpuC),
      cpu_d_s: round(cpuD),
      c_pct_of_a: round((cpuC / cpuA) * 100, 1),
      d_pct_of_a: round((cpuD / cpuA) * 100, 1),
      deliveries_per_cpu_s_ab: Math.round(deliveries / (cpuA + cpuB)),
      cpu_us_per_update_written_ab: round(((cpuA + cpuB) / (seq * writers.length)) * 1e6, 0),
      redis_bytes_busy_stream: busyStreamBytes,
      redis_entries_busy_stream: busyStreamLength,
      redis_bytes_idle_stream: idleStreamBytes,
      drained,
    });
  } finally {
    for (const client of clients) client.provider.destroy();
    for (const instance of instances) await instance.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Opens authenticated raw sockets (they answer pings, send nothing), `parallel` upgrades at a time. */
async function openSockets(port: number, targets: ReadonlyArray<{ docName: string; token: string }>, parallel = 100): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < targets.length) {
      const target = targets[next++]!;
      await new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/sync/${encodeURIComponent(target.docName)}?token=${target.token}`);
        sockets.push(ws);
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
        ws.once('error', reject);
      });
    }
  }
  await Promise.all(Array.from({ length: parallel }, () => worker()));
  return sockets;
}

async function idleSockets(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'prepmate-bench-idle-'));
  const prefix = `prepmate:bench:${randomUUID()}`;
  const sockets: WebSocket[] = [];
  const instance = await startInstance('idle', { DATA_DIR: dataDir, REDIS_KEY_PREFIX: prefix });
  try {
    const learners = await Promise.all(Array.from({ length: IDLE_DOCS }, async (_, i) => ({ docName: `learner-${i}`, token: await tokens.sign(`learner-${i}`, { expiresInSeconds: 3600 }) })));
    // Warm-up: open and close 50 sockets, so one-time allocations (JIT code, young generation) are in the baseline.
    const warmups = await Promise.all(Array.from({ length: 50 }, async (_, i) => ({ docName: `warmup-${i}`, token: await tokens.sign(`warmup-${i}`, { expiresInSeconds: 3600 }) })));
    const warm = await openSockets(instance.port, warmups);
    for (const ws of warm) ws.close();
    await sleep(3_000);
    const base = await rssAfterGc(instance);
    const cpu0 = cpuSeconds(instance.pid);
    sockets.push(...(await openSockets(instance.port, learners)));
    const cpu1 = cpuSeconds(instance.pid);
    await sleep(500);
    const withDocs = await rssAfterGc(instance);
    const extra = IDLE_SOCKETS - IDLE_DOCS;
    const targets = Array.from({ length: extra }, (_, i) => learners[i % learners.length]!);
    const cpu2 = cpuSeconds(instance.pid);
    sockets.push(...(await openSockets(instance.port, targets)));
    const cpu3 = cpuSeconds(instance.pid);
    await sleep(500);
    const full = await rssAfterGc(instance);
    const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
    const perSocket = extra > 0 ? (full - withDocs) / extra : Number.NaN;
    const perDocAndSocket = (withDocs - base) / IDLE_DOCS;
    print({
      scenario: 'idle-sockets',
      sockets: sockets.length,
      open_at_end: open,
      documents: IDLE_DOCS,
      rss_base_mb: round(base / 2 ** 20, 1),
      rss_end_mb: round(full / 2 ** 20, 1),
      rss_kb_per_idle_socket: round(perSocket / 1024, 1),
      rss_kb_per_document_with_first_socket: round(perDocAndSocket / 1024, 1),
      rss_kb_per_loaded_document: round((perDocAndSocket - perSocket) / 1024, 1),
      cpu_ms_per_upgrade_with_load: round(((cpu1 - cpu0) / IDLE_DOCS) * 1e3, 3),
      cpu_ms_per_upgrade_loaded_doc: extra > 0 ? round(((cpu3 - cpu2) / extra) * 1e3, 3) : 'n/a',
    });
  } finally {
    for (const ws of sockets) ws.terminate();
    await instance.stop();
    const redis = await adminRedis();
    await deleteUnder(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Every server runs as plain Node from dist/, as `npm start` runs it: build what is stale.
execFileSync(process.execPath, [join(root, '..', '..', 'scripts', 'build-if-missing.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
const only = env['BENCH_INSTANCES_SCENARIOS']?.split(',') ?? ['fanout-4-instances', 'idle-sockets'];
if (only.includes('fanout-4-instances')) await fanoutAcrossInstances();
if (only.includes('idle-sockets')) await idleSockets();
process.exit(0);
