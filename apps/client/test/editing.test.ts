import { LIMITS } from '@prepmate/crdt-model';
import { flushPromises } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';
import App from '../src/App.vue';
import TopicView from '../src/views/TopicView.vue';
import { createHarness, fakeJwt, storeSignedIn } from './fakes';

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
  document.body.innerHTML = '';
});
afterEach(() => vi.unstubAllGlobals());

describe('drafts and in-app navigation', () => {
  it('when the goal has an unsaved edit, then leaving by a link asks first, and staying keeps the draft', async () => {
    storeSignedIn('ada');
    window.location.hash = '#/topics/sql';
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    await w.find('#topic-goal').setValue('Unsaved goal');
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);

    // A click on "Dashboard" moves the hash first; the router puts it back.
    window.location.hash = '#/';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    await flushPromises();
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(w.find('main h1').text()).toBe('SQL');
    expect(window.location.hash).toBe('#/topics/sql');
    expect((w.find('#topic-goal').element as HTMLInputElement).value).toBe('Unsaved goal');

    h.router.push('/sync');
    await flushPromises();
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(w.find('main h1').text()).toBe('SQL');

    confirm.mockReturnValue(true);
    h.router.push('/sync');
    await flushPromises();
    expect(w.find('main h1').text()).toBe('Sync');
    // Asked once per navigation, not again when the hashchange event arrives.
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    expect(confirm).toHaveBeenCalledTimes(3);
    expect(h.sessions[0]!.document.getTopic('sql')?.goal).toBeUndefined();
  });

  it('when nothing is unsaved, then navigation asks nothing', async () => {
    storeSignedIn('ada');
    window.location.hash = '#/topics/sql';
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);
    await w.find('#topic-goal').setValue('Saved goal');
    await w.find('form').trigger('submit');
    h.router.push('/');
    await flushPromises();
    expect(confirm).not.toHaveBeenCalled();
    expect(w.find('main h1').text()).toBe('Your practice');
  });
});

describe('text limits', () => {
  it('when notes exceed the limit, then nothing is cut, the counter says by how much, and saving is refused', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(TopicView, { topicId: 'sql' });
    const long = 'x'.repeat(LIMITS.maxNotesLength + 5);
    await w.find('#topic-notes').setValue(long);
    expect((w.find('#topic-notes').element as HTMLTextAreaElement).value).toHaveLength(LIMITS.maxNotesLength + 5);
    expect(w.find('#topic-notes').attributes('maxlength')).toBeUndefined();
    expect(w.find('[data-testid="topic-notes-count"]').text()).toBe(`${LIMITS.maxNotesLength + 5} / ${LIMITS.maxNotesLength} characters: 5 too many. Shorten it to save.`);
    expect(w.find('#topic-notes').attributes('aria-invalid')).toBe('true');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(h.sessions[0]!.document.getTopic('sql')).toBeUndefined();
    expect(document.activeElement).toBe(w.find('#topic-notes').element);
    expect(w.find('[data-testid="topic-save-state"]').text()).toMatch(/Too long to save/);

    await w.find('#topic-notes').setValue('x'.repeat(LIMITS.maxNotesLength));
    expect(w.find('[data-testid="topic-notes-count"]').text()).toBe(`${LIMITS.maxNotesLength} / ${LIMITS.maxNotesLength} characters`);
    await w.find('form').trigger('submit');
    expect(h.sessions[0]!.document.getTopic('sql')?.notes).toHaveLength(LIMITS.maxNotesLength);
  });
});

describe('focus', () => {
  it('when changes are saved, then focus moves to the confirmation, not to <body>', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(TopicView, { topicId: 'sql' });
    await w.find('#topic-goal').setValue('A goal');
    (w.find('[data-testid="topic-save"]').element as HTMLButtonElement).focus();
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(document.activeElement).toBe(w.find('[data-testid="topic-save-state"]').element);
    expect(w.find('[data-testid="topic-save-state"]').text()).toBe('Saved on this device');
  });

  it('when the learner signs in, then focus lands on the first screen heading', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ token: fakeJwt('ada') }), { status: 200 })));
    const h = createHarness();
    const w = h.mount(App);
    await w.find('#signin-user').setValue('ada');
    await w.find('form').trigger('submit');
    await flushPromises();
    await nextTick();
    expect(w.find('main h1').text()).toBe('Your practice');
    // Focus moves once the screen is painted, in a task of its own.
    await vi.waitFor(() => expect(document.activeElement).toBe(w.find('main h1').element));
  });

  it('when arrow keys step through the status list, then nothing is saved until Enter or leaving it', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(TopicView, { topicId: 'sql' });
    const select = w.find('#topic-status');
    const doc = h.sessions[0]!.document;
    const events = (): number => h.sessions[0]!.events.filter((e) => e.eventType === 'topic_updated').length;
    for (const value of ['in_progress', 'completed']) {
      await select.trigger('keydown', { key: 'ArrowDown' });
      await select.setValue(value);
    }
    expect(doc.getTopic('sql')).toBeUndefined();
    expect(w.find('#topic-status-hint').text()).toMatch(/Press Enter/);
    await select.trigger('keydown', { key: 'Enter' });
    expect(doc.getTopic('sql')?.status).toBe('completed');
    expect(events()).toBe(1);

    await select.trigger('keydown', { key: 'ArrowUp' });
    await select.setValue('in_progress');
    expect(doc.getTopic('sql')?.status).toBe('completed');
    await select.trigger('blur');
    expect(doc.getTopic('sql')?.status).toBe('in_progress');
    expect(events()).toBe(2);

    // A pick from the opened list (pointer, or Space then Enter) saves at once.
    await select.trigger('keydown', { key: ' ' });
    await select.setValue('not_started');
    expect(doc.getTopic('sql')?.status).toBe('not_started');
  });
});
