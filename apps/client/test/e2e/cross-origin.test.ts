// @vitest-environment node
/**
 * The app served from another origin than the API: built with `VITE_API_URL` pointing at the
 * real server, served by a plain static server on another port, and the server allowing exactly
 * that origin (`CLIENT_URL`). Sign-in, a logged practice and its sync all cross origins in
 * Chromium; the server then has the learner's data.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEADLINE, freshLearnerId, nav, openDevice, signIn } from './devices';
import { buildClientInto, chromiumAvailable, launchChromium, startServer, type RunningServer } from './harness';
import { devToken } from './seed';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json',
  '.json': 'application/json',
};

/** Serves `dir()` (read per request: the build lands there after the server started). */
async function startStaticServer(dir: () => string): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(dir(), path);
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(dir(), 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe.skipIf(!chromiumAvailable())('the app on another origin than the API', () => {
  let api: RunningServer;
  let app: { origin: string; server: Server };
  let browser: Browser;
  const outDir = mkdtempSync(join(tmpdir(), 'prepmate-app-'));
  const userId = freshLearnerId('xo');

  beforeAll(async () => {
    app = await startStaticServer(() => outDir);
    api = await startServer(60_000, { CLIENT_URL: app.origin });
    buildClientInto(outDir, { VITE_API_URL: api.url });
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    await new Promise<void>((ok) => (app ? app.server.close(() => ok()) : ok()));
    rmSync(outDir, { recursive: true, force: true });
  });

  it('when a learner signs in and logs practice on the app origin, then the API origin stores it', async () => {
    expect(new URL(app.origin).port).not.toBe(new URL(api.url).port);
    const device = await openDevice(browser, 'app');
    const { page } = device;
    const apiRequests: string[] = [];
    page.on('request', (r) => void (r.url().startsWith(api.url) && apiRequests.push(`${r.method()} ${new URL(r.url()).pathname}`)));

    await page.goto(app.origin);
    await signIn(device, userId);

    await nav(device, 'Log practice');
    await page.getByLabel(/^Topic/).fill('graphs');
    await page.getByLabel('Score (0–100)').fill('72');
    await page.getByLabel('Duration (minutes)').fill('40');
    await page.getByLabel('Weak areas').fill('bfs');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('log-saved').waitFor({ timeout: DEADLINE });
    await expect.poll(() => page.getByTestId('sync-badge').innerText(), { timeout: DEADLINE }).toMatch(/All changes saved/);

    // What the server has, read as the learner.
    const token = await devToken(api.url, userId);
    const progress = (await (await fetch(`${api.url}/api/progress`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      data: { assessments: Record<string, { topicId: string; score: number }> };
    };
    expect(Object.values(progress.data.assessments)).toEqual([expect.objectContaining({ topicId: 'graphs', score: 72 })]);
    expect(apiRequests).toContain('POST /api/auth/dev-token');
    expect(device.errors).toEqual([]);
    await device.context.close();
  });
});
