// @vitest-environment node
/**
 * Two browser contexts are two devices of one learner, against the real server: live edits,
 * offline edits on both merged on reconnect, an offline reload, and a sync panel that tells the
 * truth at each step. Screenshots of every screen go to test-artifacts/e2e/.
 *
 * Each test is independent: it gets its own learner and two fresh devices (empty IndexedDB, no
 * service worker yet), and builds the state it starts from with the setup helpers below, so the
 * tests pass in any order (`--sequence.shuffle`). Only the server and the browser are shared.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { DEADLINE, devicesPerTest, freshLearnerId, goOffline, h1, nav, openSignedIn, shot, token, type Device } from './devices';
import { chromiumAvailable, useStage } from './harness';

/** Awareness forgets a silent peer after 30 s (y-protocols `outdatedTimeout`), checked every 3 s. */
const AWARENESS_DEADLINE = 45_000;

describe.skipIf(!chromiumAvailable())('two devices of one learner', () => {
  const stage = useStage();
  // Every test, online or offline: no device logged a console error or threw.
  const device = devicesPerTest(() => stage.browser);
  let a: Device;
  let b: Device;
  /** A new learner per test: nothing one test stores is seen by another. */
  let userId: string;

  const text = (d: Device, testId: string): Promise<string> => d.page.getByTestId(testId).innerText();

  /** Waits until the sync panel of `d` shows these values. */
  async function panelShows(d: Device, expected: Partial<Record<'sync-online' | 'sync-connected' | 'sync-unsaved' | 'sync-last' | 'peer-count', string | RegExp>>): Promise<void> {
    for (const [id, value] of Object.entries(expected)) {
      await expect.poll(() => text(d, id), { timeout: DEADLINE, message: `${d.name} ${id}` }).toMatch(value instanceof RegExp ? value : new RegExp(`^${value}$`));
    }
  }

  async function signIn(d: Device, how: 'mouse' | 'keyboard'): Promise<void> {
    // The app shell must be cached before the device can reload offline.
    await openSignedIn(d, stage.server.url, userId, how);
  }

  async function openTopic(d: Device, label: string): Promise<void> {
    await nav(d, 'Dashboard');
    await d.page.getByTestId('topic-list').getByRole('link', { name: label, exact: true }).click();
    await expect.poll(() => h1(d), { timeout: DEADLINE }).toBe(label);
  }

  async function editTopicField(d: Device, testId: 'topic-goal' | 'topic-notes', value: string): Promise<void> {
    await d.page.getByTestId(testId).fill(value);
    await d.page.getByTestId('topic-save').click();
    await expect.poll(() => d.page.getByTestId('topic-save').isDisabled(), { timeout: DEADLINE }).toBe(true);
  }

  async function logPractice(d: Device, topic: string, score: string, weak: string): Promise<void> {
    await nav(d, 'Log practice');
    await d.page.getByLabel(/^Topic/).fill(topic);
    await d.page.getByLabel('Score (0–100)').fill(score);
    await d.page.getByLabel('Duration (minutes)').fill('40');
    await d.page.getByLabel('Weak areas').fill(weak);
    await d.page.getByRole('button', { name: 'Save' }).click();
    await d.page.getByTestId('log-saved').waitFor({ timeout: DEADLINE });
  }

  /** Setup: both devices signed in as this test's learner, online and connected. */
  async function signedIn(): Promise<void> {
    await signIn(a, 'mouse');
    await signIn(b, 'keyboard');
  }

  /** Setup: three assessments logged on A (SQL twice, Algorithms once), and B has them. */
  async function withPractice(): Promise<void> {
    await logPractice(a, 'sql', '55', 'joins, window functions');
    await logPractice(a, 'sql', '68', 'joins');
    await logPractice(a, 'algorithms', '82', 'dynamic programming');
    await expect.poll(() => b.page.getByTestId('recent-assessments').innerText(), { timeout: DEADLINE }).toMatch(/Algorithms[\s\S]*SQL[\s\S]*SQL/);
  }

  /**
   * Setup: SQL in progress with a goal, set on A, and both devices showing SQL once B has it (so
   * a later goal written on B is causally after A's, not concurrent with it).
   */
  async function withSqlGoal(): Promise<void> {
    await openTopic(a, 'SQL');
    await a.page.getByTestId('topic-status').selectOption('in_progress');
    await editTopicField(a, 'topic-goal', 'Fluent window functions');
    await openTopic(b, 'SQL');
    await expect.poll(() => b.page.getByTestId('topic-goal').inputValue(), { timeout: DEADLINE }).toBe('Fluent window functions');
  }

  /** Setup: both devices offline; A wrote SQL's notes, B its goal and a new assessment. */
  async function withOfflineEdits(): Promise<void> {
    await goOffline(b);
    await goOffline(a);
    await openTopic(a, 'SQL');
    await editTopicField(a, 'topic-notes', 'Notes written offline on A');
    await openTopic(b, 'SQL');
    await editTopicField(b, 'topic-goal', 'Goal written offline on B');
    await logPractice(b, 'system-design', '74', 'capacity estimates');
  }

  beforeEach(async () => {
    userId = freshLearnerId('e2e');
    a = await device('A');
    b = await device('B');
  });

  it('when a learner signs in on two devices, then both open the dashboard and see each other', async () => {
    await a.page.goto(stage.server.url);
    await a.page.getByLabel('Learner id').waitFor();
    await shot(a, '01-sign-in.png');
    await signIn(a, 'mouse');
    await signIn(b, 'keyboard');
    await shot(a, '02-dashboard-empty.png');
    for (const d of [a, b]) {
      await nav(d, 'Sync');
      await panelShows(d, { 'sync-online': 'Online', 'sync-connected': 'Yes', 'sync-unsaved': '0', 'peer-count': /1 other device/ });
    }
    await nav(b, 'Dashboard');
  });

  it('when one device logs practice, then the other shows it', async () => {
    await signedIn();
    await nav(a, 'Log practice');
    // The form refuses what the model's schema refuses, and says where.
    await a.page.getByLabel('Score (0–100)').fill('140');
    await a.page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => a.page.getByLabel('Score (0–100)').getAttribute('aria-invalid')).toBe('true');
    await shot(a, '03-log-invalid.png');

    await logPractice(a, 'sql', '55', 'joins, window functions');
    await shot(a, '04-log-saved.png');
    await logPractice(a, 'sql', '68', 'joins');
    await logPractice(a, 'algorithms', '82', 'dynamic programming');

    await expect.poll(() => b.page.getByTestId('recent-assessments').innerText(), { timeout: DEADLINE }).toMatch(/Algorithms[\s\S]*SQL[\s\S]*SQL/);
    await expect.poll(() => b.page.getByTestId('topic-list').innerText()).toMatch(/Algorithms[\s\S]*SQL/);
    expect(await b.page.getByTestId('weak-areas').innerText()).toContain('joins');
    await shot(b, '05-dashboard-device-b.png');
  });

  it('when a topic is edited on one device, then the other, showing it, updates live', async () => {
    await signedIn();
    await withPractice();
    await openTopic(a, 'SQL');
    await openTopic(b, 'SQL');
    await a.page.getByTestId('topic-status').selectOption('in_progress');
    await editTopicField(a, 'topic-goal', 'Fluent window functions');
    await expect.poll(() => b.page.getByTestId('topic-goal').inputValue(), { timeout: DEADLINE }).toBe('Fluent window functions');
    await expect.poll(() => b.page.getByTestId('topic-status').inputValue()).toBe('in_progress');
    await shot(b, '06-topic.png');
    await nav(a, 'Sync');
    await panelShows(a, { 'sync-connected': 'Yes', 'sync-unsaved': '0', 'peer-count': /1 other device/ });
    await shot(a, '07-sync-online.png');
  });

  it('when both devices go offline and both edit, then each says so, and an offline reload keeps the data', async () => {
    await signedIn();
    await withPractice();
    await withSqlGoal();
    await nav(a, 'Sync');
    // One device leaves: the other sees it go. Offline emulation blocks B's frames without closing
    // its socket (as a real network loss does), so A learns it from Yjs awareness expiry (30 s
    // without a renewal; B renews every 15 s) or the server's missed-pong check, not at once.
    await goOffline(b);
    await panelShows(a, { 'sync-online': 'Online', 'sync-connected': 'Yes' });
    await expect.poll(() => text(a, 'peer-count'), { timeout: AWARENESS_DEADLINE, message: 'A drops B' }).toMatch(/None/);
    await goOffline(a);
    await panelShows(a, { 'sync-online': 'Offline', 'sync-connected': 'No', 'peer-count': /None/ });

    // A edits the notes of SQL; B edits its goal and logs new practice.
    await openTopic(a, 'SQL');
    await editTopicField(a, 'topic-notes', 'Notes written offline on A');
    await editTopicField(b, 'topic-goal', 'Goal written offline on B');
    await logPractice(b, 'system-design', '74', 'capacity estimates');

    for (const d of [a, b]) {
      await expect.poll(() => text(d, 'sync-badge'), { timeout: DEADLINE, message: `${d.name} badge` }).toMatch(/Offline · \d+ changes? on this device/);
      await nav(d, 'Sync');
      await panelShows(d, { 'sync-online': 'Offline', 'sync-connected': 'No', 'sync-unsaved': /^[1-9]\d*$/, 'peer-count': /None/ });
    }
    await shot(b, '08-sync-offline.png');

    // No network at all: the service worker serves the shell, IndexedDB the learner's data.
    await a.page.reload();
    await expect.poll(() => h1(a), { timeout: DEADLINE }).toBe('Sync');
    // Still unsaved (the server has not acknowledged), and the last sync is remembered, not "never".
    await panelShows(a, { 'sync-online': 'Offline', 'sync-connected': 'No', 'sync-unsaved': /^[1-9]\d*$/, 'sync-last': /ago|just now/ });
    await shot(a, '09-offline-reload-sync.png');
    await openTopic(a, 'SQL');
    expect(await a.page.getByTestId('topic-notes').inputValue()).toBe('Notes written offline on A');
    expect(await a.page.getByTestId('topic-goal').inputValue()).toBe('Fluent window functions');
    await shot(a, '10-offline-reload-topic.png');
  });

  it('when both reconnect, then both show both edits and the panel says everything is saved', async () => {
    await signedIn();
    await withPractice();
    await withSqlGoal();
    await withOfflineEdits();
    await a.context.setOffline(false);
    await b.context.setOffline(false);
    await openTopic(b, 'SQL');
    for (const d of [a, b]) {
      await expect.poll(() => d.page.getByTestId('topic-notes').inputValue(), { timeout: DEADLINE, message: `${d.name} notes` }).toBe('Notes written offline on A');
      await expect.poll(() => d.page.getByTestId('topic-goal').inputValue(), { timeout: DEADLINE, message: `${d.name} goal` }).toBe('Goal written offline on B');
    }
    for (const d of [a, b]) {
      await nav(d, 'Dashboard');
      await expect.poll(() => d.page.getByTestId('topic-list').innerText(), { timeout: DEADLINE }).toMatch(/System design/);
      await nav(d, 'Sync');
      await panelShows(d, { 'sync-online': 'Online', 'sync-connected': 'Yes', 'sync-unsaved': '0', 'peer-count': /1 other device/ });
      await expect.poll(() => text(d, 'sync-badge')).toContain('All changes saved');
    }
    // The server holds the merge too, not only the two browsers.
    const bearer = await token(a);
    const res = await fetch(`${stage.server.url}/api/progress`, { headers: { Authorization: `Bearer ${bearer}` } });
    const progress = (await res.json()) as { data: { topics: Record<string, { goal?: string; notes?: string; status?: string }>; assessments: Record<string, unknown> } };
    expect(progress.data.topics['sql']).toMatchObject({ goal: 'Goal written offline on B', notes: 'Notes written offline on A' });
    expect(Object.keys(progress.data.assessments)).toHaveLength(4);

    await nav(a, 'Dashboard');
    await shot(a, '11-dashboard-merged.png');
    await a.page.emulateMedia({ colorScheme: 'dark' });
    await shot(a, '11-dashboard-dark.png');
    await a.page.emulateMedia({ colorScheme: 'light' });
    // The same screens on a phone.
    await b.page.setViewportSize({ width: 390, height: 844 });
    await nav(b, 'Dashboard');
    await shot(b, '12-phone-dashboard.png');
    await openTopic(b, 'SQL');
    await shot(b, '13-phone-topic.png');
  });

  it('when the learner uses the app, then the server receives the usage events exactly as captured', async () => {
    await signedIn();
    await withPractice();
    await withSqlGoal();
    await nav(a, 'Sync');
    await nav(b, 'Sync');
    // The upload counters are technical details, folded away until asked for.
    for (const d of [a, b]) await d.page.getByTestId('sync-details').locator('summary').click();
    await a.page.getByRole('button', { name: 'Send activity now' }).click();
    await b.page.getByRole('button', { name: 'Send activity now' }).click();
    await a.page.getByTestId('flush-table').waitFor({ timeout: DEADLINE });
    for (const d of [a, b]) await expect.poll(() => text(d, 'sync-queued'), { timeout: DEADLINE, message: `${d.name} queued` }).toBe('0');
    await shot(a, '14-sync-after-flush.png');
    const bearer = await token(a);
    const types = async (): Promise<string[]> => {
      const res = await fetch(`${stage.server.url}/api/telemetry/events?limit=200`, { headers: { Authorization: `Bearer ${bearer}` } });
      const body = (await res.json()) as { data?: { events?: { eventType: string }[] } };
      return (body.data?.events ?? []).map((e) => e.eventType);
    };
    await expect.poll(async () => new Set(await types()), { timeout: DEADLINE }).toEqual(new Set(['screen_viewed', 'assessment_logged', 'topic_updated']));
    const all = await types();
    // withPractice logged three assessments, each captured once.
    expect(all.filter((t) => t === 'assessment_logged')).toHaveLength(3);
  });
});
