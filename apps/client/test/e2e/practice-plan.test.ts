// @vitest-environment node
/**
 * The practice plan in a real browser against the real server: the "Practise next" card after
 * logging practice, the plan settings, the same plan from `GET /api/plan`, and the plan updating
 * at once when practice is logged offline, on desktop and on a phone. Screenshots go to
 * test-artifacts/e2e/plan-*.png.
 *
 * Each test is independent: it gets its own learner and a fresh device, and the practice and
 * settings it starts from (but does not test) are written beforehand by another device of the
 * learner through the SDK, so the tests pass alone and in any order.
 */
import { topicIdForName } from '@prepmate/crdt-model';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEADLINE, devicesPerTest, freshLearnerId, goOffline, h1 as heading, nav as navTo, openSignedIn, shot as shotOf, token, type Device } from './devices';
import { chromiumAvailable, useStage } from './harness';
import { seedLearner } from './seed';

const DAY = 86_400_000;

/** The interview day 14 days from now, as the settings screen stores it (a UTC calendar date). */
const interviewIn14Days = (): string => new Date(Date.now() + 14 * DAY).toISOString().slice(0, 10);

describe.skipIf(!chromiumAvailable())('practice plan in the browser', () => {
  const stage = useStage();
  const device = devicesPerTest(() => stage.browser);
  /** A new learner and device per test: nothing one test stores is seen by another. */
  let userId: string;
  let d: Device;

  beforeEach(async () => {
    userId = freshLearnerId('plan');
    d = await device('A');
  });

  const shot = (file: string): Promise<Buffer> => shotOf(d, file);
  const h1 = (): Promise<string> => heading(d);
  const nav = (label: string): Promise<void> => navTo(d, label);
  const reasons = (): Promise<string[]> => d.page.getByTestId('plan-today').getByTestId('plan-reason').allInnerTexts();
  const names = (): Promise<string[]> => d.page.getByTestId('plan-today').locator('.name').allInnerTexts();
  const summary = (): Promise<string> => d.page.getByTestId('plan-summary').innerText();

  async function logPractice(topic: string, score: string, weak: string): Promise<void> {
    await nav('Log practice');
    await d.page.getByLabel(/^Topic/).fill(topic);
    await d.page.getByLabel('Score (0–100)').fill(score);
    await d.page.getByLabel('Duration (minutes)').fill('20');
    await d.page.getByLabel('Weak areas').fill(weak);
    await d.page.getByRole('button', { name: 'Save' }).click();
    await d.page.getByTestId('log-saved').waitFor({ timeout: DEADLINE });
  }

  /**
   * Setup: the practice the first test logs through the UI — a minute ago, 20 minutes each, SQL
   * scored 55 (weak at joins) and Algorithms 92 — and, with 'interview in 14 days', the settings
   * the second test saves: an interview 14 days from today and 45 minutes a day. Written by
   * another device of the learner: the real SDK in Node over the real WebSocket.
   */
  async function withPractice(settings: 'default settings' | 'interview in 14 days'): Promise<void> {
    const when = new Date(Date.now() - 60_000).toISOString();
    await seedLearner(stage.server.url, userId, (document) => {
      const sql = topicIdForName('sql');
      const algorithms = topicIdForName('algorithms');
      document.updateTopic(sql, { updatedAt: when });
      document.recordAssessment({ assessmentId: 'sql-1', topicId: sql, kind: 'mock_interview', score: 55, durationSec: 1200, completedAt: when, weakAreas: ['joins'] });
      document.updateTopic(algorithms, { updatedAt: when });
      document.recordAssessment({ assessmentId: 'algorithms-1', topicId: algorithms, kind: 'mock_interview', score: 92, durationSec: 1200, completedAt: when });
      if (settings === 'interview in 14 days') document.updateSettings({ interviewDate: interviewIn14Days(), dailyMinutes: 45 });
    });
  }

  /** Setup: the device signed in as this test's learner, with the app shell cached and the seeded plan shown. */
  async function signedInWithPlan(): Promise<void> {
    await openSignedIn(d, stage.server.url, userId);
    await expect.poll(names, { timeout: DEADLINE }).toContain('SQL');
  }

  it('when a learner logs practice, then the dashboard says what to practise next and why', async () => {
    await openSignedIn(d, stage.server.url, userId);
    await expect.poll(() => d.page.getByTestId('practise-next').innerText()).toContain('Nothing to plan yet');

    await logPractice('sql', '55', 'joins');
    await logPractice('algorithms', '92', '');
    await nav('Dashboard');
    await expect.poll(names, { timeout: DEADLINE }).toContain('SQL');
    expect((await reasons()).join('\n')).toMatch(/last scored 55, recall now ~100 %, due in \d+ days?/);
    expect(await d.page.getByTestId('topic-list').getByTestId('plan-due').first().innerText()).toMatch(/^Due in \d+ days? · recall ~100 %$/);
    await shot('plan-01-desktop.png');
  });

  it('when the learner sets an interview date and daily minutes, then the plan runs day by day until then', async () => {
    await withPractice('default settings');
    await signedInWithPlan();

    await d.page.getByTestId('plan-settings-link').click();
    await expect.poll(h1).toBe('Plan settings');
    await d.page.getByLabel('Interview date').fill(interviewIn14Days());
    await d.page.getByLabel('Minutes a day').fill('45');
    await d.page.getByTestId('settings-save').click();
    await expect.poll(() => d.page.getByTestId('settings-status').innerText()).toContain('Saved.');
    await shot('plan-02-settings.png');

    await nav('Dashboard');
    await expect.poll(summary).toBe('Interview in 14 days · 45 min a day');
    await d.page.getByText('Next days until the interview').click();
    await shot('plan-03-desktop-interview.png');
  });

  it('when a REST client asks the server for the plan, then it is the plan the browser shows', async () => {
    await withPractice('interview in 14 days');
    await signedInWithPlan();
    // The browser has the settings too, so the reasons read below are those of the same plan.
    await expect.poll(summary, { timeout: DEADLINE }).toBe('Interview in 14 days · 45 min a day');

    const bearer = await token(d);
    const serverPlan = async (): Promise<{ details: string[]; interview: number | null }> => {
      const res = await fetch(`${stage.server.url}/api/plan`, { headers: { Authorization: `Bearer ${bearer}` } });
      const body = (await res.json()) as { data: { daysUntilInterview: number | null; days: { items: { detail: string }[] }[] } };
      return { details: body.data.days[0]!.items.map((i) => i.detail), interview: body.data.daysUntilInterview };
    };
    const shown = await reasons();
    await expect.poll(serverPlan, { timeout: DEADLINE }).toEqual({ details: shown, interview: 14 });
  });

  it('when practice is logged offline, then the plan changes at once and survives an offline reload, on desktop and phone', async () => {
    await withPractice('interview in 14 days');
    // The shell is cached and the seeded practice is stored on the device before it goes offline.
    await signedInWithPlan();

    await goOffline(d);
    await logPractice('graphs', '20', 'bfs');
    await nav('Dashboard');
    await expect.poll(names, { timeout: DEADLINE }).toContain('Graphs');
    const graphs = (await names()).indexOf('Graphs');
    expect((await reasons())[graphs]).toMatch(/^last scored 20, recall now ~100 %, due in 1 day/);
    await expect.poll(() => d.page.getByTestId('sync-badge').innerText()).toMatch(/Offline/);
    await shot('plan-04-offline-desktop.png');

    await d.page.reload();
    await expect.poll(h1, { timeout: DEADLINE }).toBe('Your practice');
    await expect.poll(names, { timeout: DEADLINE }).toContain('Graphs');
    await d.page.setViewportSize({ width: 390, height: 844 });
    await shot('plan-05-offline-phone.png');

    await d.context.setOffline(false);
    await expect.poll(() => d.page.getByTestId('sync-badge').innerText(), { timeout: DEADLINE }).toContain('All changes saved');
    await shot('plan-06-phone.png');
  });
});
