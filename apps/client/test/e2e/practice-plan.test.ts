// @vitest-environment node
/**
 * The practice plan in a real browser against the real server: the "Practise next" card after
 * logging practice, the plan settings, the same plan from `GET /api/plan`, and the plan updating
 * at once when practice is logged offline, on desktop and on a phone. Screenshots go to
 * test-artifacts/e2e/plan-*.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, CHROMIUM, buildClientIfStale, launchChromium, startServer, type RunningServer } from './harness';

const available = existsSync(CHROMIUM);
if (!available) {
  const why = `e2e: skipped, no Chromium at ${CHROMIUM} (set PREPMATE_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(why);
  console.warn(why);
}

/** Generous: the machine running the suite may be shared and busy. */
const DEADLINE = 30_000;
const DAY = 86_400_000;

describe.skipIf(!available && process.env['CI'] !== 'true')('practice plan in the browser', () => {
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  const userId = `plan-${Date.now().toString(36)}`;

  const shot = (file: string): Promise<Buffer> => page.screenshot({ path: join(ARTIFACTS, file), fullPage: true, animations: 'disabled' });
  const h1 = (): Promise<string> => page.locator('main h1').innerText();
  const nav = (label: string): Promise<void> => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
  const reasons = (): Promise<string[]> => page.getByTestId('plan-today').getByTestId('plan-reason').allInnerTexts();
  const names = (): Promise<string[]> => page.getByTestId('plan-today').locator('.name').allInnerTexts();

  async function logPractice(topic: string, score: string, weak: string): Promise<void> {
    await nav('Log practice');
    await page.getByLabel(/^Topic/).fill(topic);
    await page.getByLabel('Score (0–100)').fill(score);
    await page.getByLabel('Duration (minutes)').fill('20');
    await page.getByLabel('Weak areas').fill(weak);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('log-saved').waitFor({ timeout: DEADLINE });
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    buildClientIfStale();
    server = await startServer();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
    context.setDefaultTimeout(DEADLINE);
    page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('when a learner logs practice, then the dashboard says what to practise next and why', async () => {
    await page.goto(server.url);
    await page.getByLabel('Learner id').fill(userId);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(h1, { timeout: DEADLINE }).toBe('Your practice');
    // The shell must be cached before the offline reload below.
    await expect
      .poll(() => page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).some((r) => r.active?.state === 'activated')), { timeout: DEADLINE })
      .toBe(true);
    await expect.poll(() => page.getByTestId('practise-next').innerText()).toContain('Nothing to plan yet');

    await logPractice('sql', '55', 'joins');
    await logPractice('algorithms', '92', '');
    await nav('Dashboard');
    await expect.poll(names, { timeout: DEADLINE }).toContain('SQL');
    expect((await reasons()).join('\n')).toMatch(/last scored 55, recall now ~100 %, due in \d+ days?/);
    expect(await page.getByTestId('topic-list').getByTestId('plan-due').first().innerText()).toMatch(/^Due in \d+ days? · recall ~100 %$/);
    await shot('plan-01-desktop.png');
  });

  it('when the learner sets an interview date and daily minutes, then the plan runs day by day until then', async () => {
    await page.getByTestId('plan-settings-link').click();
    await expect.poll(h1).toBe('Plan settings');
    const interview = new Date(Date.now() + 14 * DAY).toISOString().slice(0, 10);
    await page.getByLabel('Interview date').fill(interview);
    await page.getByLabel('Minutes a day').fill('45');
    await page.getByTestId('settings-save').click();
    await expect.poll(() => page.getByTestId('settings-status').innerText()).toContain('Saved.');
    await shot('plan-02-settings.png');

    await nav('Dashboard');
    await expect.poll(() => page.getByTestId('plan-summary').innerText()).toBe('Interview in 14 days · 45 min a day');
    await page.getByText('Next days until the interview').click();
    await shot('plan-03-desktop-interview.png');
  });

  it('when a REST client asks the server for the plan, then it is the plan the browser shows', async () => {
    const token = await page.evaluate(() => (JSON.parse(localStorage.getItem('prepmate.session.v1') ?? '{}') as { token?: string }).token ?? '');
    const serverPlan = async (): Promise<{ details: string[]; interview: number | null }> => {
      const res = await fetch(`${server.url}/api/plan`, { headers: { Authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { data: { daysUntilInterview: number | null; days: { items: { detail: string }[] }[] } };
      return { details: body.data.days[0]!.items.map((i) => i.detail), interview: body.data.daysUntilInterview };
    };
    // The settings and facts reach the server through sync; poll until they have.
    const shown = await reasons();
    await expect.poll(serverPlan, { timeout: DEADLINE }).toEqual({ details: shown, interview: 14 });
  });

  it('when practice is logged offline, then the plan changes at once and survives an offline reload, on desktop and phone', async () => {
    await context.setOffline(true);
    await logPractice('graphs', '20', 'bfs');
    await nav('Dashboard');
    await expect.poll(names, { timeout: DEADLINE }).toContain('Graphs');
    const graphs = (await names()).indexOf('Graphs');
    expect((await reasons())[graphs]).toMatch(/^last scored 20, recall now ~100 %, due in 1 day/);
    await expect.poll(() => page.getByTestId('sync-badge').innerText()).toMatch(/Offline/);
    await shot('plan-04-offline-desktop.png');

    await page.reload();
    await expect.poll(h1, { timeout: DEADLINE }).toBe('Your practice');
    await expect.poll(names, { timeout: DEADLINE }).toContain('Graphs');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('plan-05-offline-phone.png');

    await context.setOffline(false);
    await expect.poll(() => page.getByTestId('sync-badge').innerText(), { timeout: DEADLINE }).toContain('All changes saved');
    await shot('plan-06-phone.png');
  });

  it('when it is all over, then the page logged no console error, offline or online', () => {
    expect(errors).toEqual([]);
  });
});
