/**
 * End-to-end harness: builds the client when its output is missing or older than its sources,
 * starts the real server from sources on port 0 (as `npm start` runs it, minus the build), and
 * launches Debian's Chromium through playwright-core.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../../../..');
export const CLIENT = join(ROOT, 'apps/client');
export const ARTIFACTS = join(ROOT, 'test-artifacts/e2e');
export const CHROMIUM = process.env.PREPMATE_CHROMIUM ?? '/usr/bin/chromium';
/** Exactly these flags: no GPU, no QUIC, and none of Chromium's own background traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** Builds `apps/client/dist` unless it is newer than everything it is built from. */
export function buildClientIfStale(): void {
  const built = existsSync(join(CLIENT, 'dist/index.html')) ? statSync(join(CLIENT, 'dist/index.html')).mtimeMs : 0;
  // The bundle includes the model and the SDK from their sources (`@prepmate/source`).
  const inputs = [
    ...['src', 'public', 'index.html', 'vite.config.ts', 'package.json'].map((p) => join(CLIENT, p)),
    join(ROOT, 'packages/crdt-model/src'),
    join(ROOT, 'packages/sync-client/src'),
  ];
  if (built > 0 && Math.max(...inputs.map(newest)) <= built) return;
  // Vitest sets NODE_ENV=test, which Vite would honour and build a development bundle without
  // the service worker registration (`import.meta.env.PROD` false): build as `npm start` does.
  const result = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], {
    cwd: CLIENT,
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (result.status !== 0) throw new Error(`client build failed:\n${result.stdout}\n${result.stderr}`);
}

export interface RunningServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Builds the client into `outDir` with extra build-time variables (e.g. `VITE_API_URL`), for a
 * test that serves it itself; the shared `dist` stays as it is.
 */
export function buildClientInto(outDir: string, env: Record<string, string>): void {
  const result = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn', '--outDir', outDir, '--emptyOutDir'], {
    cwd: CLIENT,
    encoding: 'utf8',
    env: { ...process.env, ...env, NODE_ENV: 'production' },
  });
  if (result.status !== 0) throw new Error(`client build failed:\n${result.stdout}\n${result.stderr}`);
}

/**
 * The test run's environment for the server, without REDIS_CLUSTER_NODES: the services script
 * exports one Redis and a cluster side by side, and the server takes one or the other (one Redis here).
 */
function inheritedServerEnv(): NodeJS.ProcessEnv {
  const { REDIS_CLUSTER_NODES: _cluster, ...rest } = process.env;
  return rest;
}

/**
 * Starts the sync server from sources on a free port with a fresh data directory (`env` adds to its
 * environment; a key set to `undefined` is left out, as Node's spawn skips undefined values).
 */
export async function startServer(timeoutMs = 60_000, env: Record<string, string | undefined> = {}): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'prepmate-e2e-'));
  const loader = join(ROOT, 'node_modules/tsx/dist/loader.mjs');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@prepmate/source', '--import', loader, 'apps/sync-server/src/main.ts'],
    {
      cwd: ROOT,
      env: { ...inheritedServerEnv(), PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', AUTH_MODE: 'dev', NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /PrepMate Sync listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited (${code}) before listening:\n${output}`));
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Whether the e2e suites can run here. Without Chromium they are skipped with a warning on a
 * developer's machine, but in CI a missing browser fails the run rather than passing silently.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `e2e: skipped, no Chromium at ${CHROMIUM} (set PREPMATE_CHROMIUM)`;
  if (process.env['CI'] === 'true') throw new Error(why);
  console.warn(why);
  return false;
}

/** The server and the browser one suite shares; every test brings its own learner and devices. */
export interface Stage {
  readonly server: RunningServer;
  readonly browser: Browser;
}

/**
 * Registers, in the calling `describe`, the hooks that build the client if stale, start one
 * server and one Chromium before its tests, and stop them after. The returned stage may be read
 * only inside hooks and tests (before `beforeAll` ran there is nothing to read).
 */
export function useStage(): Stage {
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    buildClientIfStale();
    server = await startServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  return {
    get server(): RunningServer {
      if (!server) throw new Error('the e2e server is not started (read the stage inside a hook or a test)');
      return server;
    },
    get browser(): Browser {
      if (!browser) throw new Error('Chromium is not launched (read the stage inside a hook or a test)');
      return browser;
    },
  };
}
