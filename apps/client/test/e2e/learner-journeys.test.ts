// @vitest-environment node
/**
 * What a learner does beyond syncing, in Chromium against the real server: first use, drafts and
 * focus, a long history on a phone, every screen at 320 px and under axe, signing out offline and
 * back in, downloading and deleting the account (another device forgets it). Screenshots of the
 * new screens (desktop, phone, dark) go to test-artifacts/e2e/.
 *
 * Each test is independent: it gets its own learner and fresh devices, and the practice it starts
 * from (but does not test) is written beforehand by another device of the learner through the SDK
 * (the setup functions below), so the tests pass alone and in any order.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { clickNav, DEADLINE, DESKTOP, devicesPerTest, freshLearnerId, goOffline, goTo, h1, nav, openSignedIn, serviceWorkerActive, signIn, token, type Device } from './devices';
import { ARTIFACTS, chromiumAvailable, useStage } from './harness';
import { seedLearner } from './seed';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** Sessions seeded by another client, as a learner who has practised for a year would have. */
const SEEDED = 1500;
/** The topics the dashboard's "Add all" adds for a new learner. */
const SUGGESTED = ['algorithms', 'data-structures', 'system-design', 'behavioral', 'sql', 'javascript'];

describe.skipIf(!chromiumAvailable())('a learner, beyond sync', () => {
  const stage = useStage();
  const device = devicesPerTest(() => stage.browser);
  /** A new learner per test: nothing one test stores is seen by another. */
  let userId: string;
  /** Every test's first device; some open another. */
  let a: Device;

  beforeEach(async () => {
    userId = freshLearnerId('e2e-j');
    a = await device('A', { acceptDownloads: true });
  });

  /** Desktop as it is, then a phone, then dark; restores the desktop. */
  async function shots(d: Device, base: string): Promise<void> {
    const shot = (file: string): Promise<Buffer> => d.page.screenshot({ path: join(ARTIFACTS, file), fullPage: true, animations: 'disabled' });
    await shot(`${base}-desktop.png`);
    await d.page.setViewportSize({ width: 390, height: 844 });
    await shot(`${base}-phone.png`);
    await d.page.emulateMedia({ colorScheme: 'dark' });
    await shot(`${base}-dark.png`);
    await d.page.emulateMedia({ colorScheme: 'light' });
    await d.page.setViewportSize(DESKTOP);
  }

  const focused = (d: Device): Promise<string> =>
    d.page.evaluate(() => {
      const el = document.activeElement;
      return el ? `${el.tagName.toLowerCase()}${el.getAttribute('data-testid') ? `[${el.getAttribute('data-testid')}]` : ''}` : 'none';
    });
  const databases = (d: Device): Promise<string[]> => d.page.evaluate(async () => (await indexedDB.databases()).map((x) => x.name ?? '').sort());
  const badge = (d: Device): Promise<string> => d.page.getByTestId('sync-badge').innerText();

  /** No horizontal overflow, and axe finds nothing, on the screen shown. */
  async function fitsAndPassesAxe(d: Device, screen: string): Promise<void> {
    const widths = await d.page.evaluate(() => {
      // Named in the failure: the innermost elements that stick out on the right.
      const out = [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5 && ![...el.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5))
        .slice(0, 3)
        .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${(el.textContent ?? '').trim().slice(0, 30)}"`);
      return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth, out };
    });
    expect(widths.scroll, `${screen}: page wider than the screen: ${widths.out.join(', ')}`).toBeLessThanOrEqual(widths.inner);
    if (!(await d.page.evaluate(() => 'axe' in window))) await d.page.evaluate(AXE_SOURCE);
    const violations = await d.page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(ctx: Document): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }).axe;
      const result = await axe.run(document);
      return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`);
    });
    expect(violations, `${screen}: axe`).toEqual([]);
  }

  /**
   * Setup: the learner as first use leaves them — the suggested topics added and one session of
   * Algorithms logged (score 64, weak at recursion) — and, for a 'long history', the
   * {@link SEEDED} sessions of a year's practice: a third each of SQL, System design and
   * Algorithms, one of them weak at "lateral joins". Written by another device of the learner:
   * the real SDK in Node over the real WebSocket.
   */
  async function withPractice(history: 'first session' | 'long history'): Promise<void> {
    const now = Date.now();
    const start = now - SEEDED * 3_600_000;
    const topics = ['sql', 'system-design', 'algorithms'];
    const kinds = ['quiz', 'mock_interview', 'coding_exercise'];
    await seedLearner(stage.server.url, userId, (document) => {
      for (const topicId of SUGGESTED) document.updateTopic(topicId, { updatedAt: new Date(now - 60_000).toISOString() });
      document.recordAssessment({ assessmentId: 'first', topicId: 'algorithms', kind: 'quiz', score: 64, durationSec: 1800, completedAt: new Date(now - 60_000).toISOString(), weakAreas: ['recursion'] });
      if (history === 'first session') return;
      for (let i = 0; i < SEEDED; i++) {
        document.recordAssessment({
          assessmentId: `seed-${i}`,
          topicId: topics[i % 3]!,
          kind: kinds[Math.floor(i / 3) % 3]!,
          score: 40 + ((i * 7) % 60),
          durationSec: 1800,
          completedAt: new Date(start + i * 3_600_000).toISOString(),
          ...(i === 777 ? { weakAreas: ['lateral joins'] } : {}),
        });
      }
    });
  }

  /** Opens the app on `d` and signs in as this test's learner. */
  async function signInOn(d: Device): Promise<void> {
    await d.page.goto(stage.server.url);
    await signIn(d, userId, 'keyboard');
  }

  /** Setup: `d` signed in as this test's learner, with the app shell cached and the learner's topics loaded. */
  async function signedIn(d: Device): Promise<void> {
    await openSignedIn(d, stage.server.url, userId, 'keyboard');
    await expect.poll(() => d.page.getByTestId('topic-list').innerText(), { timeout: DEADLINE }).toContain('Algorithms');
  }

  /** Offline, `d` writes a goal and notes of Algorithms; returns its badge once it counts them. */
  async function editAlgorithmsOffline(d: Device): Promise<string> {
    await goOffline(d);
    await goTo(d, '#/topics/algorithms', 'Algorithms');
    await d.page.getByTestId('topic-goal').fill('Offline goal');
    await d.page.getByTestId('topic-save').click();
    await d.page.getByTestId('topic-notes').fill('Offline notes');
    await d.page.getByTestId('topic-save').click();
    await expect.poll(() => badge(d), { timeout: DEADLINE }).toMatch(/^Offline · [2-9] changes on this device/);
    return badge(d);
  }

  it('when a new learner signs in, then focus starts at the heading and the dashboard explains PrepMate and leads to the first session', async () => {
    await a.page.goto(stage.server.url);
    await signIn(a, userId, 'keyboard');
    await expect.poll(() => focused(a)).toBe('h1');
    const welcome = a.page.getByTestId('onboarding');
    expect(await welcome.innerText()).toContain('It holds no questions');
    await fitsAndPassesAxe(a, 'first use');
    await shots(a, '20-onboarding');
    await a.page.getByTestId('onboarding-add-all').click();
    await expect.poll(() => a.page.getByTestId('topic-list').innerText()).toMatch(/Algorithms[\s\S]*System design/);
    await a.page.getByTestId('onboarding-log').click();
    await expect.poll(() => h1(a)).toBe('Log practice');
    expect(await a.page.getByLabel(/^Topic/).inputValue()).toBe('Algorithms');
    expect(await a.page.getByTestId('first-session-guide').isVisible()).toBe(true);
    await a.page.getByLabel('Score (0–100)').fill('64');
    await a.page.getByLabel('Weak areas').fill('recursion');
    await a.page.getByRole('button', { name: 'Save' }).click();
    await a.page.getByTestId('log-saved').waitFor();
    await nav(a, 'Dashboard');
    await expect.poll(() => a.page.getByTestId('onboarding').count()).toBe(0);
    await serviceWorkerActive(a);
  });

  it('when a topic has a draft, then a link asks before dropping it, saving keeps focus, long notes are refused aloud, and arrow keys do not save the status', async () => {
    await withPractice('first session');
    await signInOn(a);
    await a.page.getByTestId('topic-list').getByRole('link', { name: 'SQL' }).click();
    await expect.poll(() => h1(a)).toBe('SQL');
    await a.page.getByTestId('topic-goal').fill('Window functions by Friday');
    const asked: string[] = [];
    a.page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await clickNav(a, 'Dashboard');
    await expect.poll(() => asked.length).toBe(1);
    expect(await h1(a)).toBe('SQL');
    expect(await a.page.getByTestId('topic-goal').inputValue()).toBe('Window functions by Friday');

    await a.page.getByTestId('topic-save').click();
    await expect.poll(() => focused(a)).toBe('span[topic-save-state]');

    await a.page.getByTestId('topic-notes').fill('n'.repeat(4100));
    expect(await a.page.getByTestId('topic-notes').inputValue()).toHaveLength(4100);
    expect(await a.page.getByTestId('topic-notes-count').innerText()).toContain('4 too many');
    await a.page.getByTestId('topic-save').click();
    await expect.poll(() => focused(a)).toBe('textarea[topic-notes]');
    await a.page.getByTestId('topic-notes').fill('Practise PARTITION BY');

    const select = a.page.getByTestId('topic-status');
    await select.focus();
    await select.press('ArrowDown');
    await select.press('ArrowDown');
    expect(await select.inputValue()).toBe('completed');
    expect(await a.page.locator('#topic-status-hint').innerText()).toContain('Press Enter');
    await select.press('Enter');
    await expect.poll(() => a.page.locator('#topic-status-hint').innerText()).toBe('Saves when you pick one.');
    await a.page.getByTestId('topic-save').click();
    await expect.poll(() => a.page.getByTestId('topic-save').isDisabled()).toBe(true);
  });

  it(`when ${SEEDED} sessions exist, then History pages and filters them, the topic screen stays short on a phone, and the chart says what it leaves out`, async () => {
    await withPractice('long history');
    await signInOn(a);

    await nav(a, 'History');
    await expect.poll(() => a.page.getByTestId('history-count').innerText(), { timeout: DEADLINE }).toBe(`1–20 of ${SEEDED + 1} sessions`);
    await a.page.getByTestId('history-next').click();
    await expect.poll(() => a.page.getByTestId('history-page').innerText()).toBe(`Page 2 of ${Math.ceil((SEEDED + 1) / 20)}`);
    await a.page.getByTestId('history-topic').selectOption('sql');
    await a.page.getByTestId('history-kind').selectOption('quiz');
    await expect.poll(() => a.page.getByTestId('history-count').innerText()).toMatch(/^1–20 of \d+ matching sessions \(of 1501\)$/);
    await a.page.getByTestId('history-query').fill('lateral');
    await expect.poll(() => a.page.getByTestId('history-count').innerText()).toMatch(/^(0|1) matching sessions? \(of 1501\)$|^No sessions match/);
    await a.page.getByRole('button', { name: 'Clear filters' }).click();
    await a.page.getByTestId('history-query').fill('lateral joins');
    await expect.poll(() => a.page.getByTestId('history-count').innerText()).toBe('1 matching session (of 1501)');
    await shots(a, '21-history');

    await goTo(a, '#/topics/sql', 'SQL');
    // 500 sessions of this topic: the page lists the latest and links to History (it was 11 000 px tall).
    await a.page.setViewportSize({ width: 390, height: 844 });
    expect(await a.page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThan(4000);
    expect(await a.page.getByTestId('topic-history-link').innerText()).toBe('All 500 sessions of this topic');
    await a.page.setViewportSize(DESKTOP);
    expect(await a.page.getByTestId('chart-note').innerText()).toMatch(/^Showing the latest 60 of 500 scores in all; 440 older ones are left out\./);
    await a.page.getByRole('radio', { name: 'Week' }).check();
    await expect.poll(() => a.page.getByTestId('chart-note').innerText()).toMatch(/^\d+ scores in the last 7 days\.$/);
    await a.page.getByText('Show these scores as a table').click();
    expect(await a.page.getByTestId('chart-table').locator('tbody tr').count()).toBeGreaterThan(10);
    await shots(a, '22-topic-chart');
  });

  it('when every screen is shown at 320 px, then nothing overflows sideways and axe finds nothing', async () => {
    // The screens as a learner with a long history sees them: full tables, a chart that leaves scores out.
    await withPractice('long history');
    await signInOn(a);
    await a.page.setViewportSize({ width: 320, height: 720 });
    const screens: [string, string | RegExp][] = [
      ['#/', 'Your practice'],
      ['#/log', 'Log practice'],
      ['#/history', 'History'],
      ['#/topics/sql', 'SQL'],
      ['#/sync', 'Sync'],
      ['#/account', 'Your data'],
      ['#/nowhere', 'Page not found'],
    ];
    for (const [hash, title] of screens) {
      await goTo(a, hash, title);
      if (hash === '#/sync') {
        // The upload table (a scrollable region) exists only after an upload, inside the details.
        await a.page.getByTestId('sync-details').locator('summary').click();
        await a.page.getByRole('button', { name: 'Send activity now' }).click();
        await a.page.getByTestId('flush-table').waitFor();
      }
      await fitsAndPassesAxe(a, hash);
    }
    // The same screens in dark mode (colour contrast is checked per scheme).
    await a.page.emulateMedia({ colorScheme: 'dark' });
    for (const [hash, title] of screens.slice(0, 6)) {
      await goTo(a, hash, title);
      await fitsAndPassesAxe(a, `${hash} dark`);
    }
    await a.page.emulateMedia({ colorScheme: 'light' });
    await a.page.setViewportSize(DESKTOP);
    await goTo(a, '#/sync', 'Sync');
    expect(await a.page.getByTestId('sync-where').innerText()).toMatch(/^Everything you record is saved on this device at once and copied to your account/);
    await a.page.getByTestId('sync-details').locator('summary').click();
    await shots(a, '27-sync-plain');
  });

  it('when offline on a phone with unsynced changes, then the header fits, the count survives a reload, and signing out warns and can keep the data', async () => {
    await withPractice('first session');
    await signedIn(a);
    const before = await editAlgorithmsOffline(a);

    for (const width of [390, 320]) {
      await a.page.setViewportSize({ width, height: 844 });
      const header = await a.page.evaluate(() => {
        const signOut = [...document.querySelectorAll('header button')].find((b) => b.textContent?.trim() === 'Sign out')!.getBoundingClientRect();
        const user = document.querySelector('[data-testid="account-link"]')!.getBoundingClientRect();
        return { scroll: document.documentElement.scrollWidth, inner: innerWidth, signOutRight: signOut.right, userWidth: user.width };
      });
      expect(header.scroll, `${width} px`).toBeLessThanOrEqual(header.inner);
      expect(header.signOutRight, `${width} px: Sign out on screen`).toBeLessThanOrEqual(header.inner);
      expect(header.userWidth, `${width} px: user id shown`).toBeGreaterThan(10);
    }
    await a.page.screenshot({ path: join(ARTIFACTS, '23-offline-header-phone.png'), animations: 'disabled' });
    await a.page.setViewportSize(DESKTOP);

    await a.page.reload();
    await expect.poll(() => h1(a), { timeout: DEADLINE }).toBe('Algorithms');
    await expect.poll(() => badge(a), { timeout: DEADLINE }).toBe(before);

    await a.page.getByRole('button', { name: 'Sign out' }).click();
    const dialog = a.page.getByTestId('signout-dialog');
    await expect.poll(() => dialog.innerText()).toMatch(/changes to your practice .*only on this device so far\.[\s\S]*You are offline/);
    await fitsAndPassesAxe(a, 'sign-out dialog');
    await shots(a, '24-signout-dialog');
    await dialog.getByRole('button', { name: 'Sign out, keep it on this device' }).click();
    await expect.poll(() => h1(a), { timeout: DEADLINE }).toBe('Sign in');
    expect(await a.page.getByTestId('signin-notice').innerText()).toContain('stays on this device');
    expect(await databases(a)).toEqual(expect.arrayContaining([`prepmate-doc:${userId}`]));

    // Reopened and back in, still offline: the service worker serves the app, and the practice
    // kept on this device opens.
    await a.page.reload();
    await a.page.getByLabel('Learner id').waitFor();
    await signIn(a, userId, 'keyboard');
    await goTo(a, '#/topics/algorithms', 'Algorithms');
    expect(await a.page.getByTestId('topic-goal').inputValue()).toBe('Offline goal');
    await expect.poll(() => badge(a)).toBe(before);
  });

  it('when back online, then waiting for the sync signs out and leaves nothing of the learner on the device', async () => {
    await withPractice('first session');
    await signedIn(a);
    await editAlgorithmsOffline(a);
    await a.context.setOffline(false);
    await a.page.getByRole('button', { name: 'Sign out' }).click();
    const dialog = a.page.getByTestId('signout-dialog');
    // Either everything synced at once (no question) or the learner is asked and waits.
    const asked = await Promise.race([
      dialog.getByRole('button', { name: 'Wait for the sync, then sign out' }).waitFor({ timeout: DEADLINE }).then(() => true),
      a.page.getByTestId('signin-notice').waitFor({ timeout: DEADLINE }).then(() => false),
    ]);
    if (asked) await dialog.getByRole('button', { name: 'Wait for the sync, then sign out' }).click();
    await expect.poll(() => h1(a), { timeout: DEADLINE }).toBe('Sign in');
    expect(await a.page.getByTestId('signin-notice').innerText()).toContain('nothing of it is left on this device');
    await expect.poll(() => databases(a), { timeout: DEADLINE }).not.toEqual(expect.arrayContaining([`prepmate-doc:${userId}`]));
    expect((await databases(a)).filter((n) => n.includes(userId))).toEqual([]);
    expect(await a.page.evaluate((id) => Object.keys(localStorage).filter((k) => k.includes(id)), userId)).toEqual([]);
    // The server has the offline edits.
    await signIn(a, userId, 'keyboard');
    const progress = await fetch(`${stage.server.url}/api/progress`, { headers: { Authorization: `Bearer ${await token(a)}` } });
    const body = (await progress.json()) as { data: { topics: Record<string, { goal?: string }> } };
    expect(body.data.topics['algorithms']?.goal).toBe('Offline goal');
  });

  it('when the learner downloads and then deletes the account, then the files hold the data, and another device forgets it too', async () => {
    await withPractice('long history');
    await signInOn(a);
    const b = await device('B');
    await signInOn(b);
    await expect.poll(() => b.page.getByTestId('sync-badge').innerText(), { timeout: DEADLINE }).toMatch(/^All changes saved/);

    await a.page.getByTestId('account-link').click();
    await expect.poll(() => h1(a)).toBe('Your data');
    const [json] = await Promise.all([a.page.waitForEvent('download'), a.page.getByTestId('download-json').click()]);
    const exported = JSON.parse(readFileSync((await json.path())!, 'utf8')) as { userId: string; progress: { assessments: Record<string, unknown> } };
    expect(exported.userId).toBe(userId);
    expect(Object.keys(exported.progress.assessments)).toHaveLength(SEEDED + 1);
    const [csv] = await Promise.all([a.page.waitForEvent('download'), a.page.getByTestId('download-csv').click()]);
    const rows = readFileSync((await csv.path())!, 'utf8').trim().split('\r\n');
    expect(rows[0]).toBe('completed_at,topic,kind,score,duration_minutes,questions_attempted,correct_answers,weak_areas,assessment_id');
    expect(rows).toHaveLength(SEEDED + 2);

    await a.page.getByTestId('delete-start').click();
    await a.page.locator('#delete-typed').fill(userId);
    await shots(a, '25-account-delete');
    await a.page.getByRole('button', { name: 'Delete everything' }).click();
    await expect.poll(() => h1(a), { timeout: DEADLINE }).toBe('Sign in');
    expect(await a.page.getByTestId('signin-notice').innerText()).toContain('deleted, on the server and on this device');
    await a.page.setViewportSize({ width: 320, height: 720 });
    await fitsAndPassesAxe(a, 'sign-in');
    await a.page.setViewportSize(DESKTOP);

    // B was connected: the server closed its document as erased, and B forgot it.
    await expect.poll(() => h1(b), { timeout: DEADLINE }).toBe('Sign in');
    expect(await b.page.getByTestId('signin-notice').innerText()).toContain('This account was deleted');
    await expect.poll(async () => (await databases(b)).filter((n) => n.includes(userId)), { timeout: DEADLINE }).toEqual([]);
    await shots(b, '26-erased-other-device');
  });
});
