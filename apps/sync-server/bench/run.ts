/**
 * `npm run bench -w apps/sync-server`: ours (durable log on SQLite) against @y/websocket-server
 * 0.1.1 and @hocuspocus/server 3.4.4 (defaults), each server in its own child process with a
 * fresh instance per scenario, clients in another process (bench/clients.ts). Prints one JSON line
 * per measurement, then the median of every compared figure over the rounds and the ratios of
 * ours to each peer. Loopback only, bounded loops.
 *
 * Rounds: single runs on a shared 2-core machine vary by 2–5× (a VM stall of 30 ms moves a p99),
 * so every scenario runs BENCH_ROUNDS times (default 3) with the servers interleaved and the
 * starting server rotated, and the comparison uses each server's median: noise that lasts a few
 * seconds then lands on every server alike instead of on whichever ran at that moment.
 *
 * BENCH_SERVERS=ours,yws  BENCH_SCENARIOS=fanout-1x50  BENCH_ROUNDS=1  narrow a run.
 * BENCH_SCENARIOS=storm-1x50 BENCH_ROUNDS=20: only the 50-client sync of a fresh server, many rounds.
 * BENCH_UPDATE_FLUSH_MS: our durable log's group-commit window (default 50, as deployed) for comparison.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTokenService } from '../src/auth/tokens.js';
import { rssBytes } from './proc.js';

type ServerKind = 'ours' | 'yws' | 'hocuspocus';
type Scenario = 'fanout-1x50' | 'fanout-500x2' | 'rss-1000' | 'late-joiner' | 'storm-1x50';

const root = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'bench-secret-of-at-least-thirty-two-characters';
const allServers: ServerKind[] = ['ours', 'yws', 'hocuspocus'];
const allScenarios: Scenario[] = ['fanout-1x50', 'fanout-500x2', 'rss-1000', 'late-joiner', 'storm-1x50'];
/** storm-1x50 only when asked for: it repeats fanout-1x50's first figure, for many rounds. */
const defaultScenarios = allScenarios.filter((s) => s !== 'storm-1x50');
const pick = <T extends string>(name: string, all: readonly T[], defaults: readonly T[] = all): T[] => {
  const wanted = process.env[name]?.split(',').map((s) => s.trim()).filter(Boolean);
  return wanted ? all.filter((x) => wanted.includes(x)) : [...defaults];
};
const servers = pick('BENCH_SERVERS', allServers);
const scenarios = pick('BENCH_SCENARIOS', allScenarios, defaultScenarios);
const rounds = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 3) || 1);
const tsx = ['--conditions=@prepmate/source', '--import', 'tsx'];
/** Every server gets the same preload: a full GC on SIGUSR2 before RSS is read (gc-on-signal.cjs). */
const gcHook = ['--expose-gc', '--require', './bench/servers/gc-on-signal.cjs'];

type Line = Record<string, number | string>;
const results: Line[] = [];
const print = (line: Line): void => {
  results.push(line);
  process.stdout.write(JSON.stringify(line) + '\n');
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startServer(kind: ServerKind, port: number): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  let child: ChildProcess;
  let dataDir: string | null = null;
  const base = { PATH: process.env['PATH'] ?? '', PORT: String(port), HOST: '127.0.0.1' };
  if (kind === 'ours') {
    dataDir = mkdtempSync(join(tmpdir(), 'prepmate-bench-'));
    child = spawn(process.execPath, [...gcHook, ...(process.env['BENCH_PROF'] ? ['--require', process.env['BENCH_PROF']] : []), 'bench/servers/ours.mjs'], {
      cwd: root,
      // Durable log on SQLite with the default 50 ms flush; no per-connection rate limit (peers have none).
      env: {
        ...base,
        DATA_DIR: dataDir,
        JWT_SECRET: SECRET,
        UPDATE_FLUSH_MS: process.env['BENCH_UPDATE_FLUSH_MS'] ?? '50',
        SYNC_RATE: '1000000',
        ...(process.env['BENCH_TURN_INTERVAL_MS'] ? { SYNC_TURN_INTERVAL_MS: process.env['BENCH_TURN_INTERVAL_MS'] } : {}),
        // BENCH_DEFLATE_MIN_BYTES=0: permessage-deflate never negotiated, for comparison.
        ...(process.env['BENCH_DEFLATE_MIN_BYTES'] ? { SYNC_DEFLATE_MIN_BYTES: process.env['BENCH_DEFLATE_MIN_BYTES'] } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } else if (kind === 'yws') {
    const serverJs = join(dirname(createRequire(import.meta.url).resolve('@y/websocket-server/package.json')), 'src', 'server.js');
    child = spawn(process.execPath, [...gcHook, serverJs], { cwd: root, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
  } else {
    child = spawn(process.execPath, [...gcHook, 'bench/servers/hocuspocus.mjs'], { cwd: root, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start:\n${out}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (/SYNC_PORT=|running at/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`${kind} exited (${code}):\n${out}`)));
  });
  return {
    child,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** RSS of a server right after a full garbage collection (see gc-on-signal.cjs). */
async function rssAfterGc(child: ChildProcess): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not answer the GC signal')), 10_000);
    const onData = (chunk: Buffer): void => {
      if (!chunk.toString().includes('GC_DONE')) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve();
    };
    child.stdout?.on('data', onData);
    child.kill('SIGUSR2');
  });
  return rssBytes(child.pid ?? 0);
}

async function runScenario(kind: ServerKind, scenario: Scenario, token: string, round: number): Promise<void> {
  const port = await freePort();
  const server = await startServer(kind, port);
  const pid = server.child.pid ?? 0;
  try {
    let rss0 = 0;
    const clients = spawn(process.execPath, [...tsx, 'bench/clients.ts'], {
      cwd: root,
      env: { PATH: process.env['PATH'] ?? '', BENCH: JSON.stringify({ server: kind, port, pid, scenario, token, warmup: process.env['BENCH_RSS_WARMUP'] !== '0' }) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => clients.once('exit', resolve));
    const timeout = setTimeout(() => clients.kill('SIGKILL'), 180_000);
    for await (const line of createInterface({ input: clients.stdout! })) {
      if (line === 'READY_FOR_BASELINE') {
        rss0 = await rssAfterGc(server.child);
        clients.stdin!.write('go\n');
        continue;
      }
      if (line === 'READY_FOR_RSS') {
        const rss1 = await rssAfterGc(server.child);
        print({ server: kind, scenario, round, metric: 'rss_per_loaded_doc', docs: 1000, baselineMb: Math.round(rss0 / 1048576), loadedMb: Math.round(rss1 / 1048576), perDocKB: Math.round((rss1 - rss0) / 1000 / 1024 * 10) / 10 });
        clients.stdin!.write('done\n');
        continue;
      }
      try {
        print({ ...(JSON.parse(line) as Line), round });
      } catch {
        process.stderr.write(`[${kind}] ${line}\n`);
      }
    }
    clearTimeout(timeout);
    const code = await exited;
    if (code !== 0) print({ server: kind, scenario, round, metric: 'error', message: `client process exited ${code}` });
  } finally {
    await server.stop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One server's values of `field` over the rounds. */
function values(server: ServerKind, metric: string, field: string, where: (l: Line) => boolean = () => true): number[] {
  return results
    .filter((l) => l['server'] === server && l['metric'] === metric && where(l))
    .map((l) => l[field])
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

function ratios(): void {
  const rows: Array<{ name: string; metric: string; field: string; where?: (l: Line) => boolean; better: 'higher' | 'lower' }> = [
    { name: 'deliveries_per_server_cpu_second_1x50', metric: 'fanout_unthrottled', field: 'deliveriesPerCpuSecond', better: 'higher' },
    { name: 'deliveries_per_second_1x50', metric: 'fanout_unthrottled', field: 'deliveriesPerSecond', better: 'higher' },
    { name: 'p99_unthrottled_1x50_ms', metric: 'fanout_unthrottled', field: 'latency_p99', better: 'lower' },
    { name: 'p50_throttled_1x50_ms', metric: 'fanout_latency_ms', field: 'p50', where: (l) => l['docs'] === 1, better: 'lower' },
    { name: 'p99_throttled_1x50_ms', metric: 'fanout_latency_ms', field: 'p99', where: (l) => l['docs'] === 1, better: 'lower' },
    { name: 'server_cpu_s_throttled_1x50', metric: 'fanout_latency_ms', field: 'serverCpuSeconds', where: (l) => l['docs'] === 1, better: 'lower' },
    { name: 'p50_throttled_500x2_ms', metric: 'fanout_latency_ms', field: 'p50', where: (l) => l['docs'] === 500, better: 'lower' },
    { name: 'p99_throttled_500x2_ms', metric: 'fanout_latency_ms', field: 'p99', where: (l) => l['docs'] === 500, better: 'lower' },
    { name: 'sync_all_1x50_ms', metric: 'sync_all_ms', field: 'ms', where: (l) => l['clients'] === 50, better: 'lower' },
    { name: 'server_cpu_ms_storm_1x50', metric: 'sync_all_ms', field: 'serverCpuMs', where: (l) => l['clients'] === 50, better: 'lower' },
    { name: 'sync_all_500x2_ms', metric: 'sync_all_ms', field: 'ms', where: (l) => l['docs'] === 500, better: 'lower' },
    { name: 'rss_per_loaded_doc_kb', metric: 'rss_per_loaded_doc', field: 'perDocKB', better: 'lower' },
    { name: 'late_joiner_20k_ms', metric: 'late_joiner_ms', field: 'median', better: 'lower' },
  ];
  const medians = new Map<string, number>();
  for (const row of rows) {
    for (const server of servers) {
      const all = values(server, row.metric, row.field, row.where);
      if (all.length === 0) continue;
      const m = median(all);
      medians.set(`${server}/${row.name}`, m);
      print({ metric: 'median', name: row.name, server, median: m, min: Math.min(...all), max: Math.max(...all), rounds: all.length, better: row.better });
    }
  }
  for (const row of rows) {
    const ours = medians.get(`ours/${row.name}`);
    for (const peer of ['yws', 'hocuspocus'] as const) {
      const theirs = medians.get(`${peer}/${row.name}`);
      if (ours === undefined || theirs === undefined || theirs === 0) continue;
      print({ metric: 'ratio', name: row.name, vs: peer, ours, peer: theirs, ratio: Math.round((ours / theirs) * 100) / 100, better: row.better });
    }
  }
}

// Every server runs as plain Node, ours from dist/ as `npm start` runs it: build what is stale.
execFileSync(process.execPath, [join(root, '..', '..', 'scripts', 'build-if-missing.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
const token = await createTokenService(SECRET).sign('bench', { role: 'service', expiresInSeconds: 3600 });
for (const scenario of scenarios) {
  for (let round = 1; round <= rounds; round++) {
    // Rotate who goes first so no server always runs right after a fresh start or a heavy peer.
    const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]!);
    for (const kind of order) {
      try {
        await runScenario(kind, scenario, token, round);
      } catch (error) {
        print({ server: kind, scenario, round, metric: 'error', message: error instanceof Error ? error.message : String(error) });
      }
    }
  }
}
ratios();
