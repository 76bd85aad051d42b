import { yjsEngine } from '@prepmate/crdt-model';
import { flushPromises } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';
import App from '../src/App.vue';
import { useLearnerStore } from '../src/stores/learner';
import DashboardView from '../src/views/DashboardView.vue';
import LogAssessmentView from '../src/views/LogAssessmentView.vue';
import SyncView from '../src/views/SyncView.vue';
import TopicView from '../src/views/TopicView.vue';
import { createHarness, fakeJwt, storeSignedIn } from './fakes';

const at = (day: number): string => new Date(Date.UTC(2026, 10, day, 10)).toISOString();

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
    expect(document.activeElement).toBe(w.find('h1').element);
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
    expect(h.run(() => useLearnerStore()).topics['dynamic-programming']).toMatchObject({ status: 'not_started' });
    expect(h.router.route.value).toMatchObject({ name: 'topic', params: { topicId: 'dynamic-programming' } });
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
    expect(h.sessions[0]!.events.map((e) => e.eventType)).toContain('assessment_logged');
    expect((w.find('#log-score').element as HTMLInputElement).value).toBe('');
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
