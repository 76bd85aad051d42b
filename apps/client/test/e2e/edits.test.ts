// @vitest-environment node
/**
 * Two devices of one learner fixing and naming things, against the real server: a newer offline
 * edit wins over an older online one and the older one is offered back ("Restore mine");
 * topics named in any script; sessions corrected and deleted; topics renamed, archived and
 * deleted — each seen on the other device. Screenshots (desktop, phone, dark) of the new
 * screens go to test-artifacts/e2e/.
 *
 * Each test is independent: it gets its own learner and two fresh devices, and the "C++" topic
 * (and its session) it starts from is written beforehand by another device of the learner
 * through the SDK, so the tests pass alone and in any order.
 */
import { topicIdForName } from '@prepmate/crdt-model';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEADLINE, DESKTOP, devicesPerTest, freshLearnerId, goOffline, h1, nav, openSignedIn, shot, token, type Device } from './devices';
import { chromiumAvailable, useStage } from './harness';
import { seedLearner } from './seed';

/** The id every device derives for a topic named "C++" (the id is made from the name). */
const CPP_ID = topicIdForName('C++');

describe.skipIf(!chromiumAvailable())('fixing mistakes and naming things on two devices', () => {
  const stage = useStage();
  const device = devicesPerTest(() => stage.browser);
  /** A new learner per test: nothing one test stores is seen by another. */
  let userId: string;
  let a: Device;
  let b: Device;

  beforeEach(async () => {
    userId = freshLearnerId('e2e-edits');
    a = await device('A');
    b = await device('B');
  });

  /** Desktop (as is), dark, and phone screenshots of the current screen. */
  async function shots(d: Device, base: string): Promise<void> {
    // From the top, so the sticky header is not captured mid-page.
    await d.page.evaluate(() => window.scrollTo(0, 0));
    await shot(d, `${base}.png`);
    await d.page.emulateMedia({ colorScheme: 'dark' });
    await shot(d, `${base}-dark.png`);
    await d.page.emulateMedia({ colorScheme: 'light' });
    await d.page.setViewportSize({ width: 390, height: 844 });
    await shot(d, `${base}-phone.png`);
    await d.page.setViewportSize(DESKTOP);
  }
  const badge = (d: Device): Promise<string> => d.page.getByTestId('sync-badge').innerText();
  async function serverTopics(d: Device): Promise<Record<string, { goal?: string; name?: string; deleted?: boolean }>> {
    const res = await fetch(`${stage.server.url}/api/progress`, { headers: { Authorization: `Bearer ${await token(d)}` } });
    return ((await res.json()) as { data: { topics: Record<string, { goal?: string }> } }).data.topics;
  }

  /** Setup: both devices signed in as this test's learner, with the app shell cached (offline edits need it). */
  async function signedIn(): Promise<void> {
    await openSignedIn(a, stage.server.url, userId);
    await openSignedIn(b, stage.server.url, userId);
  }

  /**
   * Setup: the learner has a topic named "C++". With 'session', one session of it is logged (score
   * 70, weak at templates) and SQL is practised too, so the list of active topics stays on the
   * dashboard when C++ leaves it. Written by another device of the learner through the SDK.
   */
  async function withCpp(what: 'topic' | 'session'): Promise<void> {
    const when = new Date(Date.now() - 60_000).toISOString();
    await seedLearner(stage.server.url, userId, (document) => {
      document.updateTopic(CPP_ID, { name: 'C++', updatedAt: when });
      if (what === 'topic') return;
      document.recordAssessment({ assessmentId: 'cpp-1', topicId: CPP_ID, kind: 'quiz', score: 70, durationSec: 1800, completedAt: when, weakAreas: ['templates'] });
      document.updateTopic('sql', { updatedAt: when });
      document.recordAssessment({ assessmentId: 'sql-1', topicId: 'sql', kind: 'quiz', score: 45, durationSec: 1800, completedAt: when });
    });
  }

  async function openTopic(d: Device, label: string): Promise<void> {
    await nav(d, 'Dashboard');
    await d.page.getByTestId('topic-list').getByRole('link', { name: label, exact: true }).click();
    await expect.poll(() => h1(d), { timeout: DEADLINE }).toBe(label);
  }

  async function saveGoal(d: Device, value: string): Promise<void> {
    await d.page.getByTestId('topic-goal').fill(value);
    await d.page.getByTestId('topic-save').click();
    await expect.poll(() => d.page.getByTestId('topic-save').isDisabled(), { timeout: DEADLINE }).toBe(true);
  }

  async function logPractice(d: Device, topic: string, score: string, weak: string, when?: string): Promise<void> {
    await nav(d, 'Log practice');
    await d.page.getByLabel(/^Topic/).fill(topic);
    await d.page.getByLabel('Score (0–100)').fill(score);
    await d.page.getByLabel('Weak areas').fill(weak);
    if (when) await d.page.getByLabel(/^Finished at/).fill(when);
    await d.page.getByRole('button', { name: 'Save' }).click();
  }

  it('when a learner names a topic "C++" on one device, then both devices open it under that name', async () => {
    await signedIn();
    await a.page.getByLabel('New topic name').fill('C++');
    await a.page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => h1(a), { timeout: DEADLINE }).toBe('C++');
    const cppId = decodeURIComponent(new URL(a.page.url()).hash.replace('#/topics/', ''));
    expect(cppId).toMatch(/^u-[0-9a-z]+$/);
    // The topic the other tests start from is this one.
    expect(cppId).toBe(CPP_ID);
    await expect.poll(() => b.page.getByTestId('topic-list').innerText(), { timeout: DEADLINE }).toContain('C++');
    // No sessions yet: "no data", not 0 %.
    expect(await b.page.getByTestId('mastery-no-data').first().innerText()).toContain('No data');
    await openTopic(b, 'C++');
  });

  it('when B saves a goal online and later A saves a newer goal offline and reconnects, then both show A’s, A’s badge tells the truth, and B is offered its own back', async () => {
    await withCpp('topic');
    await signedIn();
    await openTopic(b, 'C++');
    await openTopic(a, 'C++');
    await goOffline(a);
    await expect.poll(() => badge(a), { timeout: DEADLINE }).toMatch(/Offline/);

    await saveGoal(b, 'Goal saved online on B');
    await expect.poll(() => badge(b), { timeout: DEADLINE }).toContain('All changes saved');
    expect((await serverTopics(b))[CPP_ID]?.goal).toBe('Goal saved online on B');

    await saveGoal(a, 'Newer goal saved offline on A');
    // Offline with an unsent change: A must not claim everything is saved.
    await expect.poll(() => badge(a), { timeout: DEADLINE }).toMatch(/Offline · \d+ changes? on this device/);

    await a.context.setOffline(false);
    for (const d of [a, b]) {
      await expect.poll(() => d.page.getByTestId('topic-goal').inputValue(), { timeout: DEADLINE, message: `${d.name} goal` }).toBe('Newer goal saved offline on A');
    }
    // When A says "All changes saved", the server really has A's goal.
    await expect.poll(() => badge(a), { timeout: DEADLINE }).toContain('All changes saved');
    expect((await serverTopics(a))[CPP_ID]?.goal).toBe('Newer goal saved offline on A');

    // B's older goal is kept as the losing value and offered on B (the device that wrote it); A is not interrupted.
    const notice = b.page.getByTestId('losing-edit');
    await notice.waitFor({ timeout: DEADLINE });
    expect(await notice.innerText()).toContain('Another device changed this while you were offline');
    expect(await b.page.getByTestId('losing-mine').innerText()).toBe('Goal saved online on B');
    expect(await a.page.getByTestId('losing-edit').count()).toBe(0);
    await shots(b, '20-topic-losing-edit');

    await b.page.getByTestId('restore-mine').click();
    for (const d of [a, b]) {
      await expect.poll(() => d.page.getByTestId('topic-goal').inputValue(), { timeout: DEADLINE, message: `${d.name} restored goal` }).toBe('Goal saved online on B');
    }
    await expect.poll(() => b.page.getByTestId('losing-edit').count()).toBe(0);
    await expect.poll(() => badge(b), { timeout: DEADLINE }).toContain('All changes saved');
    expect((await serverTopics(b))[CPP_ID]?.goal).toBe('Goal saved online on B');
  });

  it('when practice is logged under an Arabic name with an Arabic weak area, then the count stays beside it and the future is refused', async () => {
    await withCpp('topic');
    await signedIn();
    await logPractice(a, 'الخوارزميات', '45', 'المؤشرات, recursion', '2031-01-01T10:00');
    await expect.poll(() => a.page.locator('#log-when-error').innerText()).toMatch(/in the future/);
    await a.page.getByLabel(/^Finished at/).fill('2026-01-05T10:00');
    await a.page.getByRole('button', { name: 'Save' }).click();
    await a.page.getByTestId('log-saved').waitFor({ timeout: DEADLINE });
    await logPractice(a, 'C++', '70', 'templates');
    await a.page.getByTestId('log-saved').waitFor({ timeout: DEADLINE });

    await nav(b, 'Dashboard');
    await expect.poll(() => b.page.getByTestId('topic-list').innerText(), { timeout: DEADLINE }).toContain('الخوارزميات');
    // The first session moved the topic to "In progress".
    const arabic = b.page.getByTestId('topic-list').locator('li', { hasText: 'الخوارزميات' });
    expect(await arabic.locator('.pill').innerText()).toBe('In progress');
    // In a left-to-right page the "×1" of an Arabic chip sits to the right of the label.
    const chip = b.page.getByTestId('weak-areas').locator('li', { hasText: 'المؤشرات' });
    const sides = await chip.evaluate((li) => {
      const label = li.querySelector('bdi')!.getBoundingClientRect();
      const count = li.lastChild!;
      const range = document.createRange();
      range.selectNodeContents(count);
      const rects = [...range.getClientRects()];
      return { labelRight: label.right, countLeft: Math.min(...rects.map((r) => r.left)) };
    });
    expect(sides.countLeft).toBeGreaterThanOrEqual(sides.labelRight - 1);
    await shots(b, '21-dashboard-any-language');
  });

  it('when B corrects and deletes a session, then A’s scores follow, and undo brings it back', async () => {
    await withCpp('session');
    await signedIn();
    await openTopic(b, 'C++');
    await openTopic(a, 'C++');
    await b.page.getByTestId('session-edit').first().click();
    await b.page.getByTestId('edit-score').fill('90');
    await shots(b, '22-session-editor');
    await b.page.getByTestId('edit-save').click();
    // The topic's history table (the chart's table of values sits in closed details above it).
    const rows = a.page.getByRole('region', { name: 'Topic history, scrollable table' }).locator('tbody tr');
    await expect.poll(() => rows.first().innerText(), { timeout: DEADLINE }).toContain('90');

    await b.page.getByTestId('session-delete').first().click();
    await b.page.getByTestId('session-delete-confirm').click();
    await expect.poll(() => rows.count(), { timeout: DEADLINE }).toBe(0);
    await expect.poll(() => a.page.getByTestId('mastery-no-data').count()).toBe(1);
    await b.page.getByTestId('session-undo').click();
    await expect.poll(() => rows.count(), { timeout: DEADLINE }).toBe(1);
  });

  it('when a topic is renamed, archived and deleted on one device, then the other follows', async () => {
    await withCpp('session');
    await signedIn();
    await openTopic(a, 'C++');
    await openTopic(b, 'C++');
    await b.page.getByTestId('topic-name').fill('C++ templates');
    await b.page.getByTestId('topic-rename').click();
    await expect.poll(() => h1(a), { timeout: DEADLINE }).toBe('C++ templates');
    await shots(b, '23-topic-manage');

    await a.page.getByTestId('topic-archive').click();
    await nav(b, 'Dashboard');
    await expect.poll(() => b.page.getByTestId('archived-topics').innerText(), { timeout: DEADLINE }).toContain('Archived topics (1)');
    expect(await b.page.getByTestId('topic-list').innerText()).not.toContain('C++ templates');

    await a.page.getByTestId('topic-delete').click();
    await a.page.getByTestId('topic-delete-confirm').click();
    await a.page.getByTestId('topic-deleted').waitFor();
    await expect.poll(() => b.page.getByTestId('archived-topics').count(), { timeout: DEADLINE }).toBe(0);
    await expect.poll(async () => (await serverTopics(a))[CPP_ID]?.deleted, { timeout: DEADLINE }).toBe(true);
    await shots(a, '24-topic-deleted');
  });
});
