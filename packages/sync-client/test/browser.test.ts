import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './fakes.js';
import { startTestServer, type TestServer } from './server-helper.js';

/**
 * The SDK in headless Chromium, served by the real server from the same origin: real IndexedDB,
 * real Web Locks, real BroadcastChannel, real `pagehide` and keepalive fetch.
 */
const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) {
  const why = `browser tests skipped: ${CHROMIUM} not found`;
  if (process.env['CI'] === 'true') throw new Error(why);
  console.log(why);
}

let server: TestServer;
let browser: Browser;
let clientDir: string;

beforeAll(async () => {
  if (!available) return;
  clientDir = await mkdtemp(join(tmpdir(), 'sdk-page-'));
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./browser/app.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['@prepmate/source'],
    outfile: join(clientDir, 'sdk.js'),
    logLevel: 'silent',
  });
  await writeFile(join(clientDir, 'index.html'), '<!doctype html><title>sdk</title><script type="module" src="/sdk.js"></script>');
  server = await startTestServer({}, undefined, { clientDir });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (clientDir) await rm(clientDir, { recursive: true, force: true });
});

/** Records the event ids of every batch request the context sends (keepalive ones included). */
function recordBatches(context: BrowserContext): string[][] {
  const batches: string[][] = [];
  context.on('request', (req) => {
    if (!req.url().endsWith('/api/telemetry/batch') || req.method() !== 'POST') return;
    const body = JSON.parse(req.postData() ?? '{"items":[]}') as { items: { itemData: { eventId: string } }[] };
    batches.push(body.items.map((i) => i.itemData.eventId));
  });
  return batches;
}

async function openTab(context: BrowserContext, userId: string, batchSize: number, documentSync = false): Promise<Page> {
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => typeof globalThis.sdk?.start === 'function');
  await page.evaluate(([u, b, d]) => globalThis.sdk.start(u, b, d), [userId, batchSize, documentSync] as const);
  return page;
}

const capture = (page: Page, n: number, tag: string): Promise<string[]> =>
  page.evaluate(([count, t]) => Promise.all(Array.from({ length: count }, (_, i) => globalThis.sdk.client!.captureEvent('browser_event', { i, t }))), [n, tag] as const);

describe.skipIf(!available && process.env['CI'] !== 'true')('in Chromium', () => {
  it('when two tabs capture at once, then exactly one sends and no event is sent twice', async () => {
    const context = await browser.newContext();
    const batches = recordBatches(context);
    const userId = 'chromium-tabs';
    const a = await openTab(context, userId, 20);
    const b = await openTab(context, userId, 20);
    const leaders = await Promise.all([a, b].map((p) => p.evaluate(() => globalThis.sdk.client!.status().telemetry.leader)));
    expect(leaders.filter(Boolean)).toHaveLength(1);
    const ids = (await Promise.all([capture(a, 150, 'a'), capture(b, 150, 'b')])).flat();
    await eventually(async () => expect(await server.store.telemetry.countEvents(userId)).toBe(300), 60_000, 100);
    await eventually(async () => expect(await b.evaluate(() => globalThis.sdk.client!.status().queuedEvents)).toBe(0));
    const sent = batches.flat();
    expect(new Set(sent).size).toBe(300);
    expect(sent).toHaveLength(300);
    expect([...(await server.listEventIds(userId))].sort()).toEqual([...ids].sort());
    await context.close();
  });

  it('when a tab is closed in the middle of a flush, then the next tab delivers the rest and nothing is stored twice', async () => {
    const context = await browser.newContext();
    const batches = recordBatches(context);
    const userId = 'chromium-unload';
    // Slow the server's answers so that the close lands while batches are in flight.
    await context.route('**/api/telemetry/batch', async (route) => {
      await new Promise((r) => setTimeout(r, 150));
      await route.continue().catch(() => undefined);
    });
    const first = await openTab(context, userId, 25);
    await context.setOffline(true);
    const ids = await capture(first, 400, 'unload');
    await context.setOffline(false);
    await eventually(() => expect(batches.length).toBeGreaterThan(0), 10_000, 5);
    await first.close({ runBeforeUnload: true });
    const stored = await server.store.telemetry.countEvents(userId);
    expect(stored).toBeLessThan(400);
    const second = await openTab(context, userId, 25);
    await eventually(async () => expect(await server.store.telemetry.countEvents(userId)).toBe(400), 60_000, 100);
    await eventually(async () => expect(await second.evaluate(() => globalThis.sdk.client!.status().queuedEvents)).toBe(0));
    expect([...(await server.listEventIds(userId))].sort()).toEqual([...ids].sort());
    await context.close();
  });

  it('when a learner edits offline and reloads, then the edits survive in IndexedDB and are saved once back online', async () => {
    const context = await browser.newContext();
    const userId = 'chromium-doc';
    const status = (p: Page) => p.evaluate(() => globalThis.sdk.client!.status());
    const first = await openTab(context, userId, 20, true);
    await eventually(async () => expect((await status(first)).synced).toBe(true));
    await first.evaluate(() => globalThis.sdk.client!.whenSaved()); // e.g. the schema genesis written after the first sync
    await context.setOffline(true);
    await eventually(async () => expect((await status(first)).connected).toBe(false));
    await first.evaluate(() => {
      const d = globalThis.sdk.client!.document;
      d.updateTopic('tries', { status: 'in_progress', goal: 'autocomplete' });
      d.recordAssessment({ assessmentId: 'chromium-a1', topicId: 'tries', score: 70, completedAt: '2026-11-28T09:00:00.000Z' });
    });
    expect((await status(first)).unsavedChanges).toBe(2);
    // With runBeforeUnload, close() returns before the tab is gone: wait for it, or the next
    // context-wide call races with a half-closed target.
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    await first.close({ runBeforeUnload: true });
    await closed;

    // The server never saw these edits (made offline, tab closed): the new tab has them from IndexedDB.
    const before = await server.getJson<{ data: { topics: Record<string, unknown> } }>('/api/progress', userId);
    expect(before.data.topics['tries']).toBeUndefined();
    await context.setOffline(false); // a page cannot load offline (no service worker here)
    const second = await openTab(context, userId, 20, true);
    expect(await second.evaluate(() => globalThis.sdk.client!.document.getTopic('tries')?.goal)).toBe('autocomplete');
    await second.evaluate(() => globalThis.sdk.client!.whenSaved());
    const p = await server.getJson<{ data: { topics: Record<string, { goal?: string }>; assessments: Record<string, unknown> } }>('/api/progress', userId);
    expect(p.data.topics['tries']?.goal).toBe('autocomplete');
    expect(p.data.assessments['chromium-a1']).toBeDefined();
    await context.close();
  });

  it('when a tab is closed right after a burst of edits, then the next tab has every edit from IndexedDB', async () => {
    // Each edit is its own task, as when a learner taps fast; the close follows the last one at
    // once. Before the SDK committed its IndexedDB writes itself, about half the closes lost edits.
    for (let round = 0; round < 8; round++) {
      const context = await browser.newContext();
      const userId = `chromium-burst-${round}`;
      const first = await openTab(context, userId, 20);
      await first.evaluate(async () => {
        const d = globalThis.sdk.client!.document;
        for (let i = 0; i < 5; i++) {
          d.recordAssessment({ assessmentId: `burst-${i}`, topicId: 'tries', score: 60 + i, completedAt: '2026-11-28T09:00:00.000Z' });
          await new Promise((r) => setTimeout(r, 0));
        }
      });
      const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
      await first.close({ runBeforeUnload: true });
      await closed;
      const second = await openTab(context, userId, 20);
      const kept = await second.evaluate(() => [0, 1, 2, 3, 4].filter((i) => globalThis.sdk.client!.document.getAssessment(`burst-${i}`)).length);
      expect(kept, `round ${round}`).toBe(5);
      await context.close();
    }
  });

  it('when events are captured offline and the tab is closed at once, then the next tab stores each of them once', async () => {
    // Each capture is its own task and the close follows the last one at once, offline, so the
    // keepalive send on unload cannot help. Before the rescue copy in localStorage, about a third
    // of the closes lost events whose IndexedDB write was still in progress.
    for (let round = 0; round < 8; round++) {
      const context = await browser.newContext();
      const userId = `chromium-offline-close-${round}`;
      const first = await openTab(context, userId, 10_000);
      await context.setOffline(true);
      await first.evaluate(async () => {
        for (let i = 0; i < 5; i++) {
          void globalThis.sdk.client!.captureEvent('answered', { i });
          await new Promise((r) => setTimeout(r, 0));
        }
      });
      const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
      await first.close({ runBeforeUnload: true });
      await closed;
      await context.setOffline(false);
      await openTab(context, userId, 10_000);
      // Five captures, five distinct eventIds: five stored means each once, none lost.
      await eventually(async () => expect(await server.store.telemetry.countEvents(userId), `round ${round}`).toBe(5), 20_000, 100);
      await context.close();
    }
  });

  it('when the tab becomes hidden, then queued events leave with a keepalive request and are confirmed', async () => {
    const context = await browser.newContext();
    const userId = 'chromium-hidden';
    // A batch size no capture reaches and an hour-long interval: only the lifecycle can send.
    const page = await openTab(context, userId, 10_000);
    const ids = await capture(page, 120, 'hidden');
    await page.evaluate(() => globalThis.sdk.client!.telemetry.flush()); // nothing in flight before: the startup flush is done
    expect(await server.store.telemetry.countEvents(userId)).toBe(120);
    const more = await capture(page, 80, 'hidden-2');
    expect(await server.store.telemetry.countEvents(userId)).toBe(120);
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await eventually(async () => expect(await server.store.telemetry.countEvents(userId)).toBe(200), 30_000, 50);
    await eventually(async () => expect(await page.evaluate(() => globalThis.sdk.client!.status().queuedEvents)).toBe(0));
    expect([...(await server.listEventIds(userId))].sort()).toEqual([...ids, ...more].sort());
    await context.close();
  });
});
