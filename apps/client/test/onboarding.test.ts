import { flushPromises } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../src/App.vue';
import { SUGGESTED_TOPICS, useLearnerStore } from '../src/stores/learner';
import { createHarness, storeSignedIn } from './fakes';

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
  document.body.innerHTML = '';
});
afterEach(() => vi.unstubAllGlobals());

describe('first use', () => {
  it('when the account is empty, then the dashboard says what PrepMate is, adds suggested topics in one click, and leads to the first log', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    const card = (): ReturnType<typeof w.find> => w.find('[data-testid="onboarding"]');
    expect(card().text()).toContain('It holds no questions');
    expect(card().text()).toContain('keeps a log of your interview practice');

    await card().findAll('button').find((b) => b.text().includes('SQL'))!.trigger('click');
    const learner = h.run(() => useLearnerStore());
    expect(Object.keys(learner.topics)).toEqual(['sql']);
    expect(card().findAll('button').find((b) => b.text().includes('SQL'))!.attributes('aria-pressed')).toBe('true');
    await w.find('[data-testid="onboarding-add-all"]').trigger('click');
    expect(Object.keys(learner.topics).sort()).toEqual([...SUGGESTED_TOPICS].sort());
    expect(w.find('[data-testid="onboarding-add-all"]').exists()).toBe(false);

    // The first topic in the list is filled in on the log form (by its name), with a word on what to enter.
    expect(w.find('[data-testid="onboarding-log"]').attributes('href')).toBe('#/log/algorithms');
    h.router.push('/log/algorithms');
    await flushPromises();
    expect((w.find('#log-topic').element as HTMLInputElement).value).toBe('Algorithms');
    expect(w.find('[data-testid="first-session-guide"]').exists()).toBe(true);
    await w.find('#log-score').setValue('72');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(learner.timeline).toHaveLength(1);
    expect(w.find('[data-testid="first-session-guide"]').exists()).toBe(false);

    h.router.push('/');
    await flushPromises();
    expect(card().exists()).toBe(false);
  });

  it('when the log form has typed values, then leaving asks first', async () => {
    storeSignedIn('ada');
    window.location.hash = '#/log';
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);
    await w.find('#log-score').setValue('50');
    h.router.push('/');
    await flushPromises();
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(w.find('main h1').text()).toBe('Log practice');
  });
});
