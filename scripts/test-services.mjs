#!/usr/bin/env node
// The services the full test suite needs, on this kind of machine:
//
//   node scripts/test-services.mjs up     PostgreSQL + Redis if down, FerretDB on 27217;
//                                         prints MONGODB_URI=... and REDIS_URL=... (also written
//                                         to .tmp/test-services.env for `set -a; . file`)
//   node scripts/test-services.mjs down   stops FerretDB, and PostgreSQL/Redis only if `up`
//                                         started them (a developer's own services stay up)
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
    return JSON.parse(readFileSync(stateFile, 'utf8'));
  } catch {
    return { startedPostgres: null, startedRedis: false };
  }
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
  process.stdout.write(env);
}

async function down() {
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
else fail('usage: node scripts/test-services.mjs up | down');
