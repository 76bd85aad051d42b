import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverRoot, spawnMain, type ServerProcess } from '../helpers/process.js';

const clientDist = join(serverRoot, '..', 'client', 'dist');

describe('npm start with no configuration', () => {
  let server: ServerProcess;
  let url: string;
  let dataDir: string;

  beforeAll(async () => {
    // `npm start` builds the client first; from sources we build it here when it is missing.
    if (!existsSync(join(clientDist, 'index.html'))) {
      execFileSync('npx', ['vite', 'build'], { cwd: join(serverRoot, '..', 'client'), stdio: 'ignore' });
    }
    const cwd = mkdtempSync(join(tmpdir(), 'prepmate-start-'));
    dataDir = join(cwd, 'data');
    // No DATA_DIR: the default ./data relative to the working directory must be used.
    server = spawnMain({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, cwd);
    url = await server.waitForUrl();
  });

  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });

  it('when started, then it prints its URL and health is healthy on embedded SQLite', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/api/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; services: Record<string, string> };
    expect(body.status).toBe('healthy');
    expect(body.services['database']).toBe('connected');
    expect(existsSync(dataDir)).toBe(true);
  });

  it('when / is requested, then the client page is served', async () => {
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<div id="app">');
  });

  it('when a dev token is issued, then it authenticates a request, and no token is refused', async () => {
    const issued = await fetch(`${url}/api/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'ada' }),
    });
    expect(issued.status).toBe(200);
    const { token } = (await issued.json()) as { token: string };
    const withToken = await fetch(`${url}/api/progress`, { headers: { authorization: `Bearer ${token}` } });
    expect(withToken.status).toBe(200);
    const without = await fetch(`${url}/api/progress`);
    expect(without.status).toBe(401);
    expect(await without.json()).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
    // The generated secret is kept, so tokens survive a restart.
    expect(readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim().length).toBeGreaterThanOrEqual(32);
  });

  it('when an unknown /api route is called, then it answers 404 in the API error shape', async () => {
    const res = await fetch(`${url}/api/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
  });

  it('when sent SIGTERM, then it exits 0 within 10 s', async () => {
    const started = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('invalid configuration', () => {
  it('when PORT=abc, then the server exits 1 naming PORT', async () => {
    const server = spawnMain({ PORT: 'abc', DATA_DIR: mkdtempSync(join(tmpdir(), 'prepmate-bad-')) });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/PORT="abc": accepts an integer port/);
  });

  it('when SYNC_INTERVAL_MINUTES=0, then the server exits 1 naming it', async () => {
    const server = spawnMain({ SYNC_INTERVAL_MINUTES: '0', DATA_DIR: mkdtempSync(join(tmpdir(), 'prepmate-bad-')) });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/SYNC_INTERVAL_MINUTES/);
  });
});
