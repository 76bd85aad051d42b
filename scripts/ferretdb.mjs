#!/usr/bin/env node
// Starts and stops the FerretDB used by the MongoDB side of the test suites.
//
//   node scripts/ferretdb.mjs start [--port 27217] [--keep-data]   prints MONGODB_URI=...
//   node scripts/ferretdb.mjs stop
//
// FerretDB runs on the local PostgreSQL (database `prepmate_test`, recreated on every start so
// runs never see each other's data). `--keep-data` keeps the database: outage tests stop FerretDB
// and start it again and expect their data back. No dependencies: only node's own modules.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolDir = join(root, 'tools', 'ferretdb');
const binary = join(toolDir, 'bin', 'ferretdb');
const tmpDir = join(root, '.tmp');
const pidFile = join(tmpDir, 'ferretdb.pid');
const logFile = join(tmpDir, 'ferretdb.log');
const pgDatabase = 'prepmate_test';
const defaultPort = 27217;
const startDeadlineMs = 30_000;

function fail(message) {
  console.error(`ferretdb: ${message}`);
  process.exit(1);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (r.error) fail(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout;
}

function parsePort(argv) {
  const i = argv.indexOf('--port');
  if (i === -1) return defaultPort;
  const port = Number(argv[i + 1]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail('--port accepts an integer from 1 to 65535');
  return port;
}

function readPid() {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function canConnect(port) {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok) => {
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
    socket.setTimeout(1000, () => finish(false));
  });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(predicate, what, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await delay(100);
  }
  fail(`${what} within ${deadlineMs} ms (log: ${logFile})`);
}

async function start(port, keepData) {
  mkdirSync(tmpDir, { recursive: true });
  const existing = readPid();
  if (existing !== null && isAlive(existing)) {
    // A second `start` must not drop the database under a running FerretDB.
    if (await canConnect(port)) {
      console.log(`MONGODB_URI=mongodb://127.0.0.1:${port}/prepmate`);
      return;
    }
    fail(`FerretDB already runs as pid ${existing} but not on port ${port}; run stop first`);
  }
  if (await canConnect(port)) fail(`port ${port} is already taken by another process`);

  if (!existsSync(binary)) {
    console.error('ferretdb: building tools/ferretdb (first run)…');
    run('go', ['build', '-o', 'bin/ferretdb', '.'], { cwd: toolDir, stdio: ['ignore', 'inherit', 'inherit'] });
  }

  const psql = ['-h', '127.0.0.1', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q', '-d', 'postgres', '-c'];
  const exists = run('psql', [...psql.slice(0, -1), '-tA', '-c', `SELECT 1 FROM pg_database WHERE datname = '${pgDatabase}'`]).trim() === '1';
  if (!keepData || !exists) {
    // FORCE: a FerretDB killed with -9 may leave backend connections that would block the drop.
    run('psql', [...psql, `DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`]);
    run('psql', [...psql, `CREATE DATABASE ${pgDatabase}`]);
  }

  const out = openSync(logFile, 'a');
  const child = spawn(
    binary,
    [
      `--listen-addr=127.0.0.1:${port}`,
      '--handler=postgresql',
      `--postgresql-url=postgres://postgres@127.0.0.1:5432/${pgDatabase}`,
      '--log-level=warn',
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  writeFileSync(pidFile, String(child.pid));
  child.unref();

  await waitFor(async () => {
    if (!isAlive(child.pid)) fail(`FerretDB exited at start (log: ${logFile})`);
    return canConnect(port);
  }, `FerretDB did not accept connections on ${port}`, startDeadlineMs);
  console.log(`MONGODB_URI=mongodb://127.0.0.1:${port}/prepmate`);
}

async function stop() {
  const pid = readPid();
  if (pid === null || !isAlive(pid)) {
    rmSync(pidFile, { force: true });
    console.error('ferretdb: not running');
    return;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (isAlive(pid) && Date.now() < deadline) await delay(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(pidFile, { force: true });
  console.error(`ferretdb: stopped pid ${pid}`);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'start') await start(parsePort(rest), rest.includes('--keep-data'));
else if (command === 'stop') await stop();
else fail('usage: node scripts/ferretdb.mjs start [--port N] [--keep-data] | stop');
