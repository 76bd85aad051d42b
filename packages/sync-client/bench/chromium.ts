import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const CHROMIUM = '/usr/bin/chromium';

/**
 * Runs `bench/browser-entry.ts` (bundled with esbuild) in headless Chromium against real
 * IndexedDB, served from a local origin (IndexedDB refuses opaque origins such as data: URLs).
 * Returns the JSON lines, or one line saying why it was skipped.
 */
export async function runChromiumBench(samples: number): Promise<Record<string, unknown>[]> {
  if (!existsSync(CHROMIUM)) return [{ bench: 'captureEvent', runtime: 'chromium', skipped: `${CHROMIUM} not found` }];
  const esbuild = await import('esbuild');
  const entry = fileURLToPath(new URL('./browser-entry.ts', import.meta.url));
  const bundle = await esbuild.build({ entryPoints: [entry], bundle: true, write: false, format: 'esm', platform: 'browser', conditions: ['@prepmate/source'], target: 'es2022' });
  const js = bundle.outputFiles[0]!.text;
  const http = createServer((req, res) => {
    if (req.url === '/bench.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><script type="module" src="/bench.js"></script>');
    }
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => typeof (globalThis as { runBench?: unknown }).runBench === 'function');
    const version = browser.version();
    const lines = (await page.evaluate(
      async (n) => (globalThis as unknown as { runBench: (n: number) => Promise<Record<string, unknown>[]> }).runBench(n),
      samples,
    )) as Record<string, unknown>[];
    return lines.map((l) => ({ ...l, browser: version }));
  } finally {
    await browser.close();
    http.close();
  }
}
