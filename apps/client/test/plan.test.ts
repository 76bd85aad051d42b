import { COACHING_INSIGHT_KEY, yjsEngine } from '@prepmate/crdt-model';
import { flushPromises } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';
import App from '../src/App.vue';
import { dueLabel, planDay, planItemName } from '../src/plan-format';
import { parseHash } from '../src/router';
import { useLearnerStore } from '../src/stores/learner';
import { usePlanStore } from '../src/stores/plan';
import DashboardView from '../src/views/DashboardView.vue';
import SettingsView from '../src/views/SettingsView.vue';
import { createHarness, storeSignedIn } from './fakes';

const DAY = 86_400_000;
/** A time `days` from now (negative: in the past), at the same time of day. */
const daysFromNow = (days: number): string => new Date(Date.now() + days * DAY).toISOString();
const isoDay = (days: number): string => daysFromNow(days).slice(0, 10);

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
  document.body.innerHTML = '';
});
afterEach(() => vi.unstubAllGlobals());

describe('plan display helpers', () => {
  it('when a due date is near, far or past, then it reads as a learner would say it', () => {
    expect([dueLabel(0), dueLabel(1), dueLabel(3), dueLabel(-1), dueLabel(-4)]).toEqual(['Due today', 'Due in 1 day', 'Due in 3 days', 'Overdue by 1 day', 'Overdue by 4 days']);
    expect(planItemName({ kind: 'topic', label: 'system-design' })).toBe('System design');
    expect(planItemName({ kind: 'weakArea', label: 'joins' })).toBe('joins');
    expect(planDay('not a date')).toBe('not a date');
  });
  it('when the URL is #/settings, then the settings screen is the route', () => {
    expect(parseHash('#/settings')).toEqual({ name: 'settings', params: {}, path: '/settings' });
  });
});

describe('Practise next', () => {
  it('when the learner has assessments, then today\'s plan lists topics with their reasons and each topic shows due date and recall', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    learner.logAssessment({ assessmentId: 'a1', topicId: 'sql', score: 55, completedAt: daysFromNow(-20), weakAreas: ['joins'] });
    learner.logAssessment({ assessmentId: 'a2', topicId: 'system-design', score: 95, completedAt: daysFromNow(-1) });
    const w = h.mount(DashboardView);
    const items = w.findAll('[data-testid="plan-today"] li');
    expect(items.length).toBeGreaterThan(0);
    expect(items[0]!.find('.name').text()).toBe('SQL');
    expect(items[0]!.find('[data-testid="plan-reason"]').text()).toMatch(/^last scored 55, recall now ~\d+ %, due \d+ days? ago$/);
    expect(w.find('[data-testid="plan-summary"]').text()).toBe('30 min a day');
    const dues = w.findAll('[data-testid="topic-list"] [data-testid="plan-due"]').map((d) => d.text());
    expect(dues[0]).toMatch(/^Overdue by \d+ days? · recall ~\d+ %$/);
    expect(dues[1]).toMatch(/^Due in \d+ days? · recall ~\d+ %$/);
  });

  it('when an assessment is logged while offline, then the plan changes at once', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    learner.logAssessment({ assessmentId: 'a1', topicId: 'graphs', score: 90, completedAt: daysFromNow(-2) });
    const w = h.mount(DashboardView);
    h.sessions[0]!.setStatus({ online: false, connected: false });
    const before = w.find('[data-testid="plan-today"]').text();
    expect(before).not.toContain('Recursion');

    learner.logAssessment({ assessmentId: 'a2', topicId: 'recursion', score: 30, completedAt: daysFromNow(0) });
    await nextTick();
    const first = w.find('[data-testid="plan-today"] li');
    expect(first.find('.name').text()).toBe('Recursion');
    expect(first.find('[data-testid="plan-reason"]').text()).toMatch(/^last scored 30, recall now ~100 %, due in 1 day$/);
  });

  it('when another device writes a coaching note for today\'s plan, then it shows; one for another day does not', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    h.run(() => useLearnerStore()).logAssessment({ assessmentId: 'a1', topicId: 'sql', score: 40, completedAt: daysFromNow(-3) });
    const w = h.mount(DashboardView);
    const doc = h.sessions[0]!.document;
    const server = yjsEngine.load(doc.save());
    const note = { text: 'Start with SQL joins today.', planKey: 'k1', planDay: isoDay(0), model: 'test', createdAt: new Date().toISOString() };
    server.insightsMap.set(COACHING_INSIGHT_KEY, note);
    doc.applyUpdate(server.encodeDiff(doc.syncState()));
    await nextTick();
    expect(w.find('[data-testid="coaching-note"]').text()).toContain('Start with SQL joins today.');

    server.insightsMap.set(COACHING_INSIGHT_KEY, { ...note, planDay: isoDay(-1) });
    doc.applyUpdate(server.encodeDiff(doc.syncState()));
    await nextTick();
    expect(w.find('[data-testid="coaching-note"]').exists()).toBe(false);
  });
});

describe('Plan settings', () => {
  it('when an interview date and daily minutes are saved, then they are in the document and the plan covers each day until then', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    for (let i = 0; i < 6; i++) learner.logAssessment({ assessmentId: `a${i}`, topicId: `t${i}`, score: 40 + i * 10, completedAt: daysFromNow(-5 + i), durationSec: 600 });
    const w = h.mount(SettingsView);
    await w.find('#interview-date').setValue(isoDay(10));
    await w.find('#daily-minutes').setValue('20');
    await w.find('form').trigger('submit');
    expect(h.sessions[0]!.document.getSettings()).toEqual({ interviewDate: isoDay(10), dailyMinutes: 20 });
    expect(w.find('[data-testid="settings-status"]').text()).toContain('Saved.');
    expect(h.sessions[0]!.events.map((e) => e.eventType)).toContain('settings_updated');

    const plan = h.run(() => usePlanStore()).plan;
    expect(plan.daysUntilInterview).toBe(10);
    expect(plan.days).toHaveLength(11);
    for (const day of plan.days) expect(day.minutes).toBeLessThanOrEqual(20);

    const dash = h.mount(DashboardView);
    expect(dash.find('[data-testid="plan-summary"]').text()).toBe('Interview in 10 days · 20 min a day');
    expect(dash.find('details.upcoming').text()).toContain('Next days until the interview');
  });

  it('when the minutes are out of range or the date has passed, then the fields say so and nothing is written', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(SettingsView);
    await w.find('#interview-date').setValue(isoDay(-3));
    await w.find('#daily-minutes').setValue('2');
    await w.find('form').trigger('submit');
    expect(w.find('#interview-date-error').text()).toBe('Pick today or a later day.');
    expect(w.find('#daily-minutes-error').text()).toBe('Enter whole minutes from 5 to 720.');
    expect(w.find('#daily-minutes').attributes('aria-invalid')).toBe('true');
    expect(h.sessions[0]!.document.getSettings()).toEqual({});
  });

  it('when another device changes the settings, then the form and the plan follow', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(SettingsView);
    const doc = h.sessions[0]!.document;
    const laptop = yjsEngine.load(doc.save());
    laptop.updateSettings({ dailyMinutes: 50 });
    doc.applyUpdate(laptop.encodeDiff(doc.syncState()));
    await nextTick();
    expect((w.find('#daily-minutes').element as HTMLInputElement).value).toBe('50');
    expect(h.run(() => usePlanStore()).plan.settings.dailyMinutes).toBe(50);
  });

  it('when the learner opens #/settings in the app, then the settings screen shows with its title', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    h.router.push('/settings');
    await flushPromises();
    expect(w.find('h1').text()).toBe('Plan settings');
    expect(document.title).toBe('Plan settings · PrepMate');
  });
});
