// @vitest-environment node
/**
 * A learner whose account storage is full, against the real server with a small document quota:
 * the app's own edit is refused by the server (close 4430), and the header badge and the sync
 * panel say so in plain words while the edit stays on the device.
 */
import { existsSync } from 'node:fs';
import * as encoding from 'lib0/encoding';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CHROMIUM, buildClientIfStale, launchChromium, startServer, type RunningServer } from './harness';

const available = existsSync(CHROMIUM);
if (!available) {
  const why = `e2e: skipped, no Chromium at ${CHROMIUM} (set PREPMATE_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(why);
  console.warn(why);
}

const DEADLINE = 30_000;
const QUOTA = 64 * 1024;

/** `[0, 1, update]` (a sync step 2) holding a text of `chars` characters, and its size. */
function fillerFrame(chars: number): number[] {
  const doc = new Y.Doc();
  doc.getText('filler').insert(0, 'f'.repeat(chars));
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0);
  encoding.writeVarUint(encoder, 1);
  encoding.writeVarUint8Array(encoder, update);
  return [...encoding.toUint8Array(encoder)];
}

/** The size of the update {@link fillerFrame} carries for `chars` characters. */
function fillerUpdateBytes(chars: number): number {
  const doc = new Y.Doc();
  doc.getText('filler').insert(0, 'f'.repeat(chars));
  const size = Y.encodeStateAsUpdate(doc).byteLength;
  doc.destroy();
  return size;
}

describe.skipIf(!available && process.env['CI'] !== 'true')('a learner over the document quota', () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const userId = `e2e-quota-${Date.now().toString(36)}`;

  beforeAll(async () => {
    buildClientIfStale();
    server = await startServer(60_000, { SYNC_MAX_DOCUMENT_BYTES: String(QUOTA) });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
    context.setDefaultTimeout(DEADLINE);
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('when the app’s edit would pass the storage quota, then the badge and the sync panel say the account storage is full and the edit stays on the device', async () => {
    await page.goto(server.url);
    // Another device already filled the learner document to 40 bytes under the quota.
    const overhead = fillerUpdateBytes(1_000) - 1_000;
    const frame = fillerFrame(QUOTA - 40 - overhead);
    const filled = await page.evaluate(
      async ({ userId, frame }) => {
        const res = await fetch('/api/auth/dev-token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
        const { token } = (await res.json()) as { token: string };
        const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/sync/${userId}?token=${encodeURIComponent(token)}&ack=1`);
        ws.binaryType = 'arraybuffer';
        return new Promise<string>((resolve) => {
          ws.onopen = () => ws.send(new Uint8Array(frame));
          // Type 100: the durable ack of our update.
          ws.onmessage = (event) => {
            if (new Uint8Array(event.data as ArrayBuffer)[0] === 100) {
              ws.close();
              resolve('stored');
            }
          };
          ws.onclose = (event) => resolve(`closed ${event.code}`);
        });
      },
      { userId, frame },
    );
    expect(filled).toBe('stored');

    await page.getByLabel('Learner id').fill(userId);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.locator('main h1').innerText(), { timeout: DEADLINE }).toBe('Your practice');
    await page.getByLabel('New topic name').fill('Graphs');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => page.getByTestId('sync-badge').innerText(), { timeout: DEADLINE }).toContain('Not syncing · account storage full');

    await page.getByTestId('sync-badge').click();
    const summary = await page.getByTestId('sync-summary').innerText();
    expect(summary).toMatch(/storage limit of your account/);
    expect(summary).toMatch(/kept on this device/);
    expect(summary).not.toMatch(/4430|socket|quota/i);
    // The edit is still there on this device.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await expect.poll(() => page.getByTestId('topic-list').innerText(), { timeout: DEADLINE }).toContain('Graphs');
  });
});
