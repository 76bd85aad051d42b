// @vitest-environment node
/**
 * The practice plan in a real browser against the real server: the "Practise next" card after
 * logging practice, the plan settings, the same plan from `GET /api/plan`, and the plan updating
 * at once when practice is logged offline, on desktop and on a phone. Screenshots go to
 * test-artifacts/e2e/plan-*.png.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEADLINE, freshLearnerId, h1 as heading, nav as navTo, openDevice, openSignedIn, shot as shotOf, token, type Device } from './devices';
import { chromiumAvailable, useStage } from './harness';

const DAY = 86_400_000;

describe.skipIf(!chromiumAvailable())('practice plan in the browser', () => {
  const stage = useStage();
  /** One device and one learner, carried through the tests in order. */
  let d: Device;
  const userId = freshLearnerId('plan');

  const shot = (file: string): Promise<Buffer> => shotOf(d, file);
  const h1 = (): Promise<string> => heading(d);
  const nav = (label: string): Promise<void> => navTo(d, label);
  const reasons = (): Promise<string[]> => d.page.getByTestId('plan-today').getByTestId('plan-reason').allInnerTexts();
  const names = (): Promise<string[]> => d.page.getByTestId('plan-today').locator('.name').allInnerTexts();

  async function logPractice(topic: string, score: string, weak: string): Promise<void> {
    await nav('Log practice');
    await d.page.getByLabel(/^Topic/).fill(topic);
    await d.page.getByLabel('Score (0–100)').fill(score);
    await d.page.getByLabel('Duration (minutes)').fill('20');
    await d.page.getByLabel('Weak areas').fill(weak);
    await d.page.getByRole('button', { name: 'Save' }).click();
    await d.page.getByTestId('log-saved').waitFor({ timeout: DEADLINE });
  }

  beforeAll(async () => {
    d = await openDevice(stage.browser, 'A');
  });

  it('when a learner logs practice, then the dashboard says what to practise next and why', async () => {
    // The shell must be cached before the offline reload below.
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
    await d.page.getByTestId('plan-settings-link').click();
    await expect.poll(h1).toBe('Plan settings');
    const interview = new Date(Date.now() + 14 * DAY).toISOString().slice(0, 10);
    await d.page.getByLabel('Interview date').fill(interview);
    await d.page.getByLabel('Minutes a day').fill('45');
    await d.page.getByTestId('settings-save').click();
    await expect.poll(() => d.page.getByTestId('settings-status').innerText()).toContain('Saved.');
    await shot('plan-02-settings.png');

    await nav('Dashboard');
    await expect.poll(() => d.page.getByTestId('plan-summary').innerText()).toBe('Interview in 14 days · 45 min a day');
    await d.page.getByText('Next days until the interview').click();
    await shot('plan-03-desktop-interview.png');
  });

  it('when a REST client asks the server for the plan, then it is the plan the browser shows', async () => {
    const bearer = await token(d);
    const serverPlan = async (): Promise<{ details: string[]; interview: number | null }> => {
      const res = await fetch(`${stage.server.url}/api/plan`, { headers: { Authorization: `Bearer ${bearer}` } });
      const body = (await res.json()) as { data: { daysUntilInterview: number | null; days: { items: { detail: string }[] }[] } };
      return { details: body.data.days[0]!.items.map((i) => i.detail), interview: body.data.daysUntilInterview };
    };
    // The settings and facts reach the server through sync; poll until they have.
    const shown = await reasons();
    await expect.poll(serverPlan, { timeout: DEADLINE }).toEqual({ details: shown, interview: 14 });
  });

  it('when practice is logged offline, then the plan changes at once and survives an offline reload, on desktop and phone', async () => {
    await d.context.setOffline(true);
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

  it('when it is all over, then the page logged no console error, offline or online', () => {
    expect(d.errors).toEqual([]);
  });
});
