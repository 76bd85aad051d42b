#!/usr/bin/env node
// The services the full test suite needs, on this kind of machine:
//
//   node scripts/test-services.mjs up     PostgreSQL + Redis if down, FerretDB on 27217, and a
//                                         3-primary Redis Cluster on 7001–7003 (cluster-up);
//                                         prints MONGODB_URI=..., REDIS_URL=... and
//                                         REDIS_CLUSTER_NODES=... (also written to
//                                         .tmp/test-services.env for `set -a; . file`)
//   node scripts/test-services.mjs down   stops FerretDB and the cluster, and PostgreSQL/Redis
//                                         only if `up` started them (a developer's own stay up)
//   node scripts/test-services.mjs cluster-up     only the Redis Cluster: reuses a healthy one,
//                                         else starts it; adds REDIS_CLUSTER_NODES to the env file
//   node scripts/test-services.mjs cluster-down   stops the cluster if this script started it
//
// Progress goes to stderr so stdout is exactly the env lines. No dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tmpDir = join(root, '.tmp');
const envFile = join(tmpDir, 'test-services.env');
const stateFile = join(tmpDir, 'test-services.state.json');
const ferretPort = 27217;
const redisUrl = 'redis://127.0.0.1:6379';
/** Three primaries, no replicas: enough for keys to spread over nodes and for MOVED redirects. */
const clusterPorts = [7001, 7002, 7003];
const clusterDir = join(tmpDir, 'redis-cluster');
const clusterNodes = clusterPorts.map((port) => `redis://127.0.0.1:${port}`).join(',');
const deadlineMs = 30_000;

const log = (message) => console.error(`test-services: ${message}`);
function fail(message) {
  log(message);
  process.exit(1);
}

/** Runs a command; returns true on exit 0. Never throws for a missing binary (that is a "no"). */
function ok(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return !r.error && r.status === 0;
}

function output(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return r.error || r.status !== 0 ? null : r.stdout.trim();
}

function mustRun(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) fail(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitUntil(check, what) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await delay(200);
  }
  fail(`${what} not ready within ${deadlineMs} ms`);
}

const postgresReady = () => ok('pg_isready', ['-h', '127.0.0.1', '-q']);
const redisReady = () => output('redis-cli', ['-h', '127.0.0.1', 'ping']) === 'PONG';

function readState() {
  try {
    return { startedCluster: false, ...JSON.parse(readFileSync(stateFile, 'utf8')) };
  } catch {
    return { startedPostgres: null, startedRedis: false, startedCluster: false };
  }
}

const clusterNodeUp = (port) => output('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping']) === 'PONG';
/** Every node answers, sees the whole cluster and has all 16384 slots covered. */
function clusterHealthy() {
  return clusterPorts.every((port) => {
    const info = output('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info']);
    return (
      info !== null &&
      /cluster_state:ok/.test(info) &&
      /cluster_slots_assigned:16384/.test(info) &&
      new RegExp(`cluster_known_nodes:${clusterPorts.length}\\b`).test(info)
    );
  });
}

function stopClusterNodes() {
  for (const port of clusterPorts) {
    if (clusterNodeUp(port)) ok('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'shutdown', 'nosave']);
  }
}

/** Writes `name=value` into the env file (or removes the line when value is null), keeping its other lines. */
function setEnvLine(name, value) {
  if (!existsSync(envFile) && value === null) return;
  const lines = existsSync(envFile) ? readFileSync(envFile, 'utf8').split('\n').filter((l) => l && !l.startsWith(`${name}=`)) : [];
  if (value !== null) lines.push(`${name}=${value}`);
  writeFileSync(envFile, lines.length ? lines.join('\n') + '\n' : '');
}

/**
 * The Redis Cluster, idempotent: a healthy cluster on the ports is reused as it is; anything
 * else there (a half-started or broken one) is stopped and a fresh one created, with its node
 * files in .tmp/redis-cluster (no persistence).
 */
async function clusterUp() {
  mkdirSync(tmpDir, { recursive: true });
  const state = readState();
  if (!clusterHealthy()) {
    if (clusterPorts.some(clusterNodeUp)) {
      log('a Redis Cluster on 7001–7003 is not healthy; recreating it');
      stopClusterNodes();
      await waitUntil(() => !clusterPorts.some(clusterNodeUp), 'old cluster nodes stopping');
    }
    rmSync(clusterDir, { recursive: true, force: true });
    log(`starting a Redis Cluster on ${clusterPorts.join(', ')}`);
    for (const port of clusterPorts) {
      const dir = join(clusterDir, String(port));
      mkdirSync(dir, { recursive: true });
      mustRun('redis-server', [
        '--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--dir', dir,
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '5000',
        '--save', '', '--appendonly', 'no', '--logfile', join(dir, 'redis.log'),
      ]);
    }
    await waitUntil(() => clusterPorts.every(clusterNodeUp), 'Redis Cluster nodes');
    mustRun('redis-cli', ['--cluster', 'create', ...clusterPorts.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntil(clusterHealthy, 'Redis Cluster (cluster_state:ok on every node)');
    state.startedCluster = true;
    writeFileSync(stateFile, JSON.stringify(state));
  }
  setEnvLine('REDIS_CLUSTER_NODES', clusterNodes);
  return `REDIS_CLUSTER_NODES=${clusterNodes}\n`;
}

function clusterDown() {
  const state = readState();
  if (!state.startedCluster) return;
  log('stopping the Redis Cluster');
  stopClusterNodes();
  rmSync(clusterDir, { recursive: true, force: true });
  setEnvLine('REDIS_CLUSTER_NODES', null);
  state.startedCluster = false;
  writeFileSync(stateFile, JSON.stringify(state));
}

async function up() {
  mkdirSync(tmpDir, { recursive: true });
  const state = readState();

  if (!postgresReady()) {
    const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
    const version = versions.sort().at(-1);
    if (version === undefined) fail('PostgreSQL is not running and no cluster is configured under /etc/postgresql');
    log(`starting PostgreSQL ${version}`);
    mustRun('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
    state.startedPostgres = version;
    await waitUntil(postgresReady, 'PostgreSQL');
  }

  if (!redisReady()) {
    log('starting Redis');
    mustRun('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no']);
    state.startedRedis = true;
    await waitUntil(redisReady, 'Redis');
  }
  writeFileSync(stateFile, JSON.stringify(state));

  const ferret = spawnSync(process.execPath, [join(root, 'scripts', 'ferretdb.mjs'), 'start', '--port', String(ferretPort)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (ferret.status !== 0) fail('FerretDB did not start');
  const mongoLine = ferret.stdout.split('\n').find((l) => l.startsWith('MONGODB_URI='));
  if (mongoLine === undefined) fail('FerretDB did not print MONGODB_URI');

  const env = `${mongoLine}\nREDIS_URL=${redisUrl}\n`;
  writeFileSync(envFile, env);
  process.stdout.write(env + (await clusterUp()));
}

async function down() {
  clusterDown();
  const state = readState();
  spawnSync(process.execPath, [join(root, 'scripts', 'ferretdb.mjs'), 'stop'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (state.startedRedis && redisReady()) {
    log('stopping Redis');
    ok('redis-cli', ['-h', '127.0.0.1', 'shutdown', 'nosave']);
  }
  if (state.startedPostgres) {
    log(`stopping PostgreSQL ${state.startedPostgres}`);
    ok('pg_ctlcluster', ['--skip-systemctl-redirect', state.startedPostgres, 'main', 'stop']);
  }
  rmSync(stateFile, { force: true });
  rmSync(envFile, { force: true });
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await down();
else if (command === 'cluster-up') process.stdout.write(await clusterUp());
else if (command === 'cluster-down') clusterDown();
else fail('usage: node scripts/test-services.mjs up | down | cluster-up | cluster-down');
