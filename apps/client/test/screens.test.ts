import { yjsEngine } from '@prepmate/crdt-model';
import { flushPromises } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';
import App from '../src/App.vue';
import { forStorage, utcDay, type DashboardData } from '../src/dashboard-data';
import { useLearnerStore } from '../src/stores/learner';
import { KEPT_VIEW_LOAD_GATE_MS, LOAD_GATE_MS } from '../src/stores/sync';
import DashboardView from '../src/views/DashboardView.vue';
import LogAssessmentView from '../src/views/LogAssessmentView.vue';
import SyncView from '../src/views/SyncView.vue';
import TopicView from '../src/views/TopicView.vue';
import { createHarness, fakeJwt, storeSignedIn } from './fakes';

const at = (day: number): string => new Date(Date.UTC(2026, 10, day, 10)).toISOString();

// What a page kept: in the app it is always the stored document's own dashboard; here its
// numbers differ from the (empty) fake document, so that the test sees which one is shown.
function keptDashboard(): DashboardData {
  return {
    topicCount: 1,
    assessmentCount: 2,
    average: 70,
    latest: { score: 80, completedAt: at(2) },
    topics: [{ topicId: 'sql', label: 'SQL', status: 'in_progress', mastery: 0.7, review: false, card: { reviews: 2, dueInDays: 1, recall: 0.9 } }],
    archived: [],
    plan: { today: utcDay(Date.now()), dailyMinutes: 30, daysUntilInterview: null, days: [], coaching: null },
    trend: { points: [{ at: at(2), score: 80, label: 'SQL · Assessment' }], older: 1, overall: { direction: 'flat', delta: 0, samples: 2 } },
    weakAreas: [],
    weakTopics: [],
    recent: [{ assessmentId: 'a2', topicId: 'sql', label: 'SQL', score: 80, completedAt: at(2) }],
  };
}

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
  document.body.innerHTML = '';
});
afterEach(() => vi.unstubAllGlobals());

describe('App', () => {
  it('when nobody is signed in, then the sign-in screen shows and a dev sign-in opens the dashboard', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ token: fakeJwt('ada') }), { status: 200 })));
    const h = createHarness();
    const w = h.mount(App);
    expect(w.find('h1').text()).toBe('Sign in');
    await w.find('#signin-user').setValue('ada');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(w.find('h1').text()).toBe('Your practice');
    expect(document.title).toBe('Dashboard · PrepMate');
    expect(h.sessions[0]!.events).toContainEqual({ eventType: 'screen_viewed', eventData: { screen: 'dashboard' } });
  });

  it('when quick sign-in is off, then the token form opens and a pasted token signs the learner in', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{}', { status: 404 })));
    const h = createHarness();
    const w = h.mount(App);
    await w.find('#signin-user').setValue('ada');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(w.find('#signin-user-error').text()).toMatch(/Paste a token/);
    expect(w.find('details').attributes('open')).toBeDefined();
    await w.find('#signin-token').setValue('not a token');
    await w.find('details form').trigger('submit');
    expect(w.find('#signin-token-error').text()).toMatch(/does not look like/);
    await w.find('#signin-token').setValue(fakeJwt('grace'));
    await w.find('details form').trigger('submit');
    await flushPromises();
    expect(w.find('h1').text()).toBe('Your practice');
    expect(h.sessions[0]!.userId).toBe('grace');
  });

  it('when the learner navigates, then a screen view is recorded, presence updated and focus moved to the heading', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    h.router.push('/topics/sql');
    await flushPromises();
    expect(w.find('h1').text()).toBe('SQL');
    // Focus moves once the screen is painted, in a task of its own.
    await vi.waitFor(() => expect(document.activeElement).toBe(w.find('h1').element));
    const s = h.sessions[0]!;
    expect(s.events.at(-1)).toEqual({ eventType: 'screen_viewed', eventData: { screen: 'topic', topicId: 'sql' } });
    expect(s.presence).toBe('topic');
    h.router.push('/nowhere');
    await flushPromises();
    expect(w.find('h1').text()).toBe('Page not found');
  });

  it('when the learner signs out, then the sign-in screen returns', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    await w.findAll('button').find((b) => b.text() === 'Sign out')!.trigger('click');
    // Everything is on the server (the fake says so): the device's copy is removed, then sign-in shows.
    await vi.waitFor(() => expect(w.find('h1').text()).toBe('Sign in'));
    expect(h.sessions[0]!.destroyed).toBe(true);
  });

  it('when the sync status changes, then the header badge says so in words', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    const badge = (): string => w.find('[data-testid="sync-badge"]').text();
    expect(badge()).toContain('All changes saved');
    h.sessions[0]!.setStatus({ online: false, connected: false, unsavedChanges: 2 });
    await nextTick();
    expect(badge()).toContain('Offline · 2 changes on this device');
    h.sessions[0]!.setStatus({ online: true, connected: true, unsavedChanges: 2 });
    await nextTick();
    expect(badge()).toContain('Saving');
  });
});

describe('Dashboard', () => {
  it('when the learner has data, then topics with mastery bars, recent assessments, weak areas and a trend line show', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    learner.logAssessment({ assessmentId: 'a1', topicId: 'sql', score: 40, completedAt: at(1), weakAreas: ['joins'] });
    learner.logAssessment({ assessmentId: 'a2', topicId: 'sql', score: 60, completedAt: at(2) });
    learner.logAssessment({ assessmentId: 'a3', topicId: 'system-design', kind: 'mock_interview', score: 90, completedAt: at(3) });
    const w = h.mount(DashboardView);
    const meters = w.findAll('[role="meter"]');
    expect(meters.map((m) => m.attributes('aria-label'))).toEqual(['Mastery of SQL', 'Mastery of System design']);
    expect(Number(meters[1]!.attributes('aria-valuenow'))).toBe(90);
    expect(w.find('[data-testid="recent-assessments"] li').text()).toContain('System design');
    expect(w.find('[data-testid="weak-areas"]').text()).toContain('joins');
    expect(w.find('svg path.line').attributes('d')).toMatch(/^M[\d.]+,[\d.]+ L[\d.]+,[\d.]+ L/);
    expect(w.find('svg desc').text()).toContain('3 assessments');
    expect(w.find('[data-testid="trend-pill"]').text()).toContain('▲');
  });

  it('when the learner adds a topic, then it is created and its screen opens', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(DashboardView);
    await w.find('#new-topic').setValue('Dynamic Programming');
    await w.find('form.add').trigger('submit');
    expect(h.run(() => useLearnerStore()).topics['dynamic-programming']).toMatchObject({ name: 'Dynamic Programming' });
    expect(h.router.route.value).toMatchObject({ name: 'topic', params: { topicId: 'dynamic-programming' } });
  });

  it('when the last page kept a dashboard for the stored document, then it shows, busy and without edits, until the document loads, and the loaded one replaces it and is kept', async () => {
    storeSignedIn('ada');
    const h = createHarness({ readStoredView: async () => forStorage(keptDashboard(), Date.now()) });
    const w = h.mount(App);
    await flushPromises();
    expect(w.find('[data-testid="dashboard-summary"]').text()).toMatch(/1 topic · 2 assessments · average 70/);
    expect(w.find('main').attributes('aria-busy')).toBe('true');
    expect(w.find('#new-topic').attributes('disabled')).toBeDefined();
    expect(w.find('[data-testid="chart-note"]').text()).toMatch(/latest 1 of 2 scores/);
    // The session opens after the stored dashboard was painted; once its document is loaded,
    // the dashboard is the document's own, and it is kept for the next page.
    await vi.waitFor(() => expect(w.find('[data-testid="dashboard-summary"]').text()).toMatch(/0 topics · 0 assessments/));
    expect(w.find('main').attributes('aria-busy')).toBeUndefined();
    expect(w.find('#new-topic').attributes('disabled')).toBeUndefined();
    await vi.waitFor(() => expect(h.sessions[0]!.savedViews).toHaveLength(1));
    expect(h.sessions[0]!.savedViews[0]).toMatchObject({ day: utcDay(Date.now()), data: { assessmentCount: 0, topicCount: 0 } });
  });

  it('when the dashboard first loads, then it is kept at once, and a burst of changes after it is kept again once the moment between saves has passed', async () => {
    storeSignedIn('ada');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const h = createHarness();
      const w = h.mount(App);
      // (Not vi.waitFor: with fake timers it moves the clock.)
      await flushPromises();
      expect(w.find('[data-testid="dashboard-summary"]').exists()).toBe(true);
      // A learner who reloads right after a first sync finds it kept: no quiet moment is waited for.
      await vi.advanceTimersByTimeAsync(0);
      expect(h.sessions[0]!.savedViews).toHaveLength(1);
      const learner = h.run(() => useLearnerStore());
      learner.logAssessment({ assessmentId: 'a1', topicId: 'sql', score: 40, completedAt: at(1) });
      await nextTick();
      learner.logAssessment({ assessmentId: 'a2', topicId: 'sql', score: 60, completedAt: at(2) });
      await nextTick();
      await vi.advanceTimersByTimeAsync(250);
      expect(h.sessions[0]!.savedViews).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(100);
      expect(h.sessions[0]!.savedViews).toHaveLength(2);
      expect(h.sessions[0]!.savedViews[1]).toMatchObject({ data: { assessmentCount: 2 } });
    } finally {
      vi.useRealTimers();
    }
  });

  it('when a kept dashboard has no sessions yet, then its onboarding card shows the kept topics and offers no edits until the document loads', async () => {
    storeSignedIn('ada');
    const kept: DashboardData = { ...keptDashboard(), assessmentCount: 0, average: null, latest: null, recent: [], trend: { points: [], older: 0, overall: { direction: 'flat', delta: 0, samples: 0 } } };
    const h = createHarness({ readStoredView: async () => forStorage(kept, Date.now()) });
    const w = h.mount(App);
    await flushPromises();
    const suggestions = (): ReturnType<typeof w.findAll> => w.findAll('[data-testid="onboarding"] .suggestions button');
    expect(w.find('[data-testid="onboarding"]').exists()).toBe(true);
    // The store knows no topics before the load: the card must not offer "+ SQL" for a topic the
    // learner has, nor write to the document that does not hold the learner's data yet.
    expect(suggestions().length).toBeGreaterThan(0);
    expect(suggestions().every((b) => b.attributes('disabled') !== undefined)).toBe(true);
    expect(w.find('[data-testid="onboarding"] [aria-pressed="true"]').text()).toMatch(/SQL/);
    expect(w.find('[data-testid="onboarding-add-all"]').attributes('disabled')).toBeDefined();
    await vi.waitFor(() => expect(w.find('main').attributes('aria-busy')).toBeUndefined());
    expect(suggestions().every((b) => b.attributes('disabled') === undefined)).toBe(true);
    expect(w.find('[data-testid="onboarding-add-all"]').attributes('disabled')).toBeUndefined();
  });

  it('when the document loads slower than the usual gate, then the kept dashboard stays (busy) instead of an empty one, until the load', async () => {
    storeSignedIn('ada');
    let loaded!: () => void;
    const load = new Promise<void>((resolve) => (loaded = resolve));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const h = createHarness({ readStoredView: async () => forStorage(keptDashboard(), Date.now()), whenLoaded: () => load });
      const w = h.mount(App);
      await vi.waitFor(() => expect(h.sessions).toHaveLength(1));
      // Past the usual gate the view the stored document was derived from still stands in.
      await vi.advanceTimersByTimeAsync(LOAD_GATE_MS + 1);
      expect(w.find('[data-testid="dashboard-summary"]').text()).toMatch(/1 topic · 2 assessments/);
      expect(w.find('main').attributes('aria-busy')).toBe('true');
      loaded();
      await vi.waitFor(() => expect(w.find('[data-testid="dashboard-summary"]').text()).toMatch(/0 topics · 0 assessments/));
      expect(w.find('main').attributes('aria-busy')).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('when a kept dashboard stands in and the load never finishes, then the app is shown anyway after the longer gate', async () => {
    storeSignedIn('ada');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const h = createHarness({ readStoredView: async () => forStorage(keptDashboard(), Date.now()), whenLoaded: () => new Promise<void>(() => undefined) });
      const w = h.mount(App);
      await vi.waitFor(() => expect(h.sessions).toHaveLength(1));
      await vi.advanceTimersByTimeAsync(KEPT_VIEW_LOAD_GATE_MS + 1);
      await vi.waitFor(() => expect(w.find('main').attributes('aria-busy')).toBeUndefined());
    } finally {
      vi.useRealTimers();
    }
  });

  it('when reading the kept dashboard never answers (IndexedDB stuck), then the session still opens and the dashboard loads', async () => {
    storeSignedIn('ada');
    const h = createHarness({ readStoredView: () => new Promise<unknown>(() => undefined) });
    const w = h.mount(App);
    await vi.waitFor(() => expect(h.sessions).toHaveLength(1), { timeout: 10_000 });
    await vi.waitFor(() => expect(w.find('[data-testid="dashboard-summary"]').text()).toMatch(/0 topics/), { timeout: 10_000 });
  });

  it('when the page reloads in a background tab (no animation frames), then the kept dashboard does not hold the session back', async () => {
    storeSignedIn('ada');
    // Browsers pause animation frames of hidden pages.
    vi.stubGlobal('requestAnimationFrame', () => 0);
    const visibility = vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
    try {
      const h = createHarness({ readStoredView: async () => forStorage(keptDashboard(), Date.now()) });
      const w = h.mount(App);
      await vi.waitFor(() => expect(h.sessions).toHaveLength(1));
      await vi.waitFor(() => expect(w.find('[data-testid="dashboard-summary"]').text()).toMatch(/0 topics/));
    } finally {
      visibility.mockRestore();
      vi.unstubAllGlobals();
    }
  });

  it('when a kept dashboard is of another day, then it is not shown', async () => {
    storeSignedIn('ada');
    const h = createHarness({ readStoredView: async () => ({ ...forStorage(keptDashboard(), Date.now()), day: '2000-01-01' }) });
    const w = h.mount(App);
    await flushPromises();
    expect(w.find('[data-testid="dashboard-summary"]').exists()).toBe(false);
    await vi.waitFor(() => expect(w.find('[data-testid="dashboard-summary"]').text()).toMatch(/0 topics/));
  });

  it('when topics have names in any script, then they are added, shown isolated, and one without sessions shows no data', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(DashboardView);
    for (const name of ['C++', '機械学習', 'الخوارزميات']) {
      await w.find('#new-topic').setValue(name);
      await w.find('form.add').trigger('submit');
    }
    const learner = h.run(() => useLearnerStore());
    expect(learner.activeTopics.map((t) => t.label).sort()).toEqual(['C++', 'الخوارزميات', '機械学習'].sort());
    expect(w.find('#new-topic-error').text()).toBe('');
    const links = w.findAll('[data-testid="topic-list"] a.topic-name');
    expect(links.every((a) => a.attributes('dir') === 'auto')).toBe(true);
    expect(w.findAll('[data-testid="mastery-no-data"]')).toHaveLength(3);
    expect(w.find('[role="meter"]').exists()).toBe(false);
    // An Arabic weak area keeps its count on the same side as any other chip.
    learner.logAssessment({ assessmentId: 'a1', topicId: learner.resolveTopicName('C++'), score: 40, completedAt: at(1), weakAreas: ['المؤشرات'] });
    await nextTick();
    const chip = w.find('[data-testid="weak-areas"] li');
    expect(chip.find('bdi').text()).toBe('المؤشرات');
    expect(chip.text()).toMatch(/×1$/);
    // The first session moves the topic to "In progress"; the others still show no data.
    expect(w.findAll('[data-testid="topic-list"] .pill').map((p) => p.text())).toContain('In progress');
    expect(w.findAll('[data-testid="mastery-no-data"]')).toHaveLength(2);
  });

  it('when a topic name is refused, then the learner is told why, in words', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(DashboardView);
    await w.find('#new-topic').setValue('x'.repeat(81));
    await w.find('form.add').trigger('submit');
    expect(w.find('#new-topic-error').text()).toMatch(/1 to 80 characters, in any language/);
  });
});

describe('Log practice', () => {
  it('when the form is invalid, then each problem is named at its field and focus goes to the first', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(LogAssessmentView);
    await w.find('#log-score').setValue('140');
    await w.find('#log-qa').setValue('3');
    await w.find('#log-ca').setValue('5');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(w.find('#log-topic').attributes('aria-invalid')).toBe('true');
    expect(w.find('#log-topic-error').text()).toMatch(/Name the topic/);
    expect(w.find('#log-score-error').text()).toMatch(/0 to 100/);
    expect(w.find('#log-ca-error').text()).toMatch(/more than the questions/);
    expect(document.activeElement).toBe(w.find('#log-topic').element);
    expect(h.run(() => useLearnerStore()).timeline).toHaveLength(0);
  });

  it('when the form is valid, then the assessment is recorded, reported and confirmed', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(LogAssessmentView);
    await w.find('#log-topic').setValue('System design');
    await w.find('#log-score').setValue('72');
    await w.find('#log-minutes').setValue('45');
    await w.find('#log-weak').setValue('capacity estimates, caching ,');
    await w.find('form').trigger('submit');
    await flushPromises();
    const [fact] = h.run(() => useLearnerStore()).timeline;
    expect(fact).toMatchObject({ topicId: 'system-design', score: 72, kind: 'mock_interview', durationSec: 2700, weakAreas: ['capacity estimates', 'caching'] });
    expect(w.find('[data-testid="log-saved"]').text()).toContain('Saved 72 for System design');
    // The confirmation takes focus once painted, so screen readers announce it and Tab continues from it.
    await vi.waitFor(() => expect(document.activeElement).toBe(w.find('[data-testid="log-saved"]').element));
    expect(h.sessions[0]!.events.map((e) => e.eventType)).toContain('assessment_logged');
    expect((w.find('#log-score').element as HTMLInputElement).value).toBe('');
  });
});

describe('Log practice in any language', () => {
  it('when a session names a new topic in Japanese and is dated in the future, then the date is refused; fixed, the topic is created with that name', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(LogAssessmentView);
    await w.find('#log-topic').setValue('機械学習');
    await w.find('#log-score').setValue('55');
    await w.find('#log-when').setValue('2031-01-01T10:00');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(w.find('#log-when-error').text()).toMatch(/in the future/);
    const learner = h.run(() => useLearnerStore());
    expect(learner.timeline).toHaveLength(0);
    await w.find('#log-when').setValue('2026-01-01T10:00');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(learner.timeline).toHaveLength(1);
    expect(learner.topic(learner.timeline[0]!.topicId)).toMatchObject({ label: '機械学習', status: 'in_progress' });
    expect(w.find('[data-testid="log-saved"] bdi').text()).toBe('機械学習');
  });
});

describe('Topic', () => {
  it('when status, goal and notes are edited, then they are written to the document', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(TopicView, { topicId: 'sql' });
    await w.find('#topic-status').setValue('in_progress');
    await w.find('#topic-goal').setValue('Window functions');
    await w.find('#topic-notes').setValue('Practise PARTITION BY');
    expect(w.find('[data-testid="topic-save"]').attributes('disabled')).toBeUndefined();
    await w.find('form').trigger('submit');
    expect(h.sessions[0]!.document.getTopic('sql')).toMatchObject({ status: 'in_progress', goal: 'Window functions', notes: 'Practise PARTITION BY' });
    expect(w.find('[data-testid="topic-save"]').attributes('disabled')).toBeDefined();
  });

  it('when another device changes a field, then an untouched field follows live and an edited one keeps the draft and says so', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(TopicView, { topicId: 'sql' });
    const doc = h.sessions[0]!.document;
    await w.find('#topic-notes').setValue('my draft');

    const other = yjsEngine.load(doc.save());
    other.updateTopic('sql', { goal: 'From the laptop', notes: 'Laptop notes' });
    doc.applyUpdate(other.encodeDiff(doc.syncState()));
    await nextTick();

    expect((w.find('#topic-goal').element as HTMLInputElement).value).toBe('From the laptop');
    expect((w.find('#topic-notes').element as HTMLTextAreaElement).value).toBe('my draft');
    expect(w.text()).toContain('Another device changed these notes');
    await w.findAll('button').find((b) => b.text() === 'Use theirs')!.trigger('click');
    expect((w.find('#topic-notes').element as HTMLTextAreaElement).value).toBe('Laptop notes');
  });

  it('when this device’s edit lost to a newer one from another device, then the topic says so and "Restore mine" brings it back', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(TopicView, { topicId: 'sql' });
    const doc = h.sessions[0]!.document;
    const laptop = yjsEngine.load(doc.save(), { node: 'laptop', now: () => Date.now() + 60_000 });
    await w.find('#topic-goal').setValue('Mine, older');
    await w.find('form').trigger('submit');
    laptop.updateTopic('sql', { goal: 'Laptop, newer' });
    doc.applyUpdate(laptop.encodeDiff(doc.syncState()));
    await nextTick();
    const dashboard = h.mount(DashboardView);
    expect(dashboard.find('[data-testid="topic-review"]').text()).toBe('Changed on another device');
    const notice = w.find('[data-testid="losing-edit"]');
    expect(notice.text()).toContain('Another device changed this while you were offline');
    expect(notice.find('[data-testid="losing-mine"]').text()).toBe('Mine, older');
    expect((w.find('#topic-goal').element as HTMLInputElement).value).toBe('Laptop, newer');
    await notice.find('[data-testid="restore-mine"]').trigger('click');
    expect(doc.getTopic('sql')?.goal).toBe('Mine, older');
    expect(w.find('[data-testid="losing-edit"]').exists()).toBe(false);
    expect((w.find('#topic-goal').element as HTMLInputElement).value).toBe('Mine, older');
    expect(dashboard.find('[data-testid="topic-review"]').exists()).toBe(false);
  });

  it('when a session is edited, deleted and restored, then the history and mastery follow', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    learner.logAssessment({ assessmentId: 'a1', topicId: 'sql', score: 40, completedAt: at(1) });
    learner.logAssessment({ assessmentId: 'a2', topicId: 'sql', score: 60, completedAt: at(2) });
    const w = h.mount(TopicView, { topicId: 'sql' });
    await w.findAll('[data-testid="session-edit"]')[1]!.trigger('click');
    await w.find('[data-testid="edit-score"]').setValue('80');
    await w.find('[data-testid="session-editor"]').trigger('submit');
    expect(learner.assessments['a1']?.score).toBe(80);
    expect(w.find('[data-testid="session-editor"]').exists()).toBe(false);

    await w.findAll('[data-testid="session-edit"]')[0]!.trigger('click');
    await w.find('[data-testid="edit-when"]').setValue('2099-01-01T10:00');
    await w.find('[data-testid="session-editor"]').trigger('submit');
    expect(w.find('[data-testid="edit-error"]').text()).toMatch(/future/);
    expect(learner.assessments['a2']?.completedAt).toBe(at(2));

    await w.findAll('[data-testid="session-delete"]')[0]!.trigger('click');
    await w.find('[data-testid="session-delete-confirm"]').trigger('click');
    expect(learner.timeline.map((a) => a.assessmentId)).toEqual(['a1']);
    // The session table, not the chart's table of values.
    expect(w.findAll('[aria-label="Topic history, scrollable table"] tbody tr')).toHaveLength(1);
    await w.find('[data-testid="session-undo"]').trigger('click');
    expect(learner.timeline.map((a) => a.assessmentId)).toEqual(['a1', 'a2']);
  });

  it('when a topic is renamed, archived, deleted and restored, then every list follows', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    learner.logAssessment({ assessmentId: 'a1', topicId: 'sql', score: 40, completedAt: at(1) });
    const w = h.mount(TopicView, { topicId: 'sql' });
    await w.find('[data-testid="topic-name"]').setValue('SQL für Analysten');
    await w.find('form.rename').trigger('submit');
    expect(w.find('h1').text()).toBe('SQL für Analysten');
    await w.find('[data-testid="topic-archive"]').trigger('click');
    expect(learner.archivedTopics.map((t) => t.topicId)).toEqual(['sql']);
    expect(learner.timeline).toHaveLength(1);
    await w.find('[data-testid="topic-delete"]').trigger('click');
    await w.find('[data-testid="topic-delete-confirm"]').trigger('click');
    expect(learner.topicList).toEqual([]);
    expect(learner.timeline).toEqual([]);
    expect(w.find('[data-testid="topic-deleted"]').exists()).toBe(true);
    await w.find('[data-testid="topic-restore"]').trigger('click');
    expect(learner.timeline).toHaveLength(1);
  });

  it('when the URL names an invalid topic, then nothing can be written and the learner is told', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(TopicView, { topicId: 'not valid!' });
    expect(w.text()).toContain('is not a valid topic name');
    expect(w.find('#topic-status').exists()).toBe(false);
  });
});

describe('Sync panel', () => {
  it('when the SDK reports its state, then the panel tells it as it is', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(SyncView);
    const s = h.sessions[0]!;
    s.setStatus({ online: false, connected: false, synced: false, unsavedChanges: 1, queuedEvents: 4, lastSyncTime: Date.now() - 120_000 });
    s.setPeers([]);
    await nextTick();
    const text = (id: string): string => w.find(`[data-testid="${id}"]`).text();
    expect(text('sync-online')).toBe('Offline');
    expect(text('sync-connected')).toBe('No');
    expect(text('sync-unsaved')).toBe('1');
    expect(text('sync-queued')).toBe('4');
    expect(text('sync-last')).toBe('2 min ago');
    expect(text('sync-where')).toMatch(/right now 1 change is only on this device, and it will be copied when you are back online\.$/);
    // The technical counters are there, folded away behind a details toggle.
    expect(w.find('[data-testid="sync-details"]').attributes('open')).toBeUndefined();
    expect(w.find('[data-testid="sync-details"] [data-testid="sync-queued"]').exists()).toBe(true);
    expect(w.find('[data-testid="sync-facts"]').text()).not.toMatch(/Queued|Duplicates|Rejected/);
    expect(text('peer-count')).toContain('None');

    s.setStatus({ online: true, connected: true, synced: true, unsavedChanges: 0, queuedEvents: 0 });
    s.setPeers([{ clientId: 9, label: 'Chrome on Linux · K2P4', screen: 'topic' }]);
    await nextTick();
    expect(text('sync-summary')).toContain('All changes saved');
    expect(text('peer-list')).toContain('Chrome on Linux · K2P4');

    expect(text('sync-where')).toMatch(/saved on this device at once and copied to your account .* both copies are the same\.$/);
    await w.findAll('button').find((b) => b.text() === 'Send activity now')!.trigger('click');
    await flushPromises();
    expect(w.find('[data-testid="flush-table"] tbody tr').text()).toContain('OK');
  });
});
