import { flushPromises } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../src/App.vue';
import { csvCell, sessionsCsv } from '../src/account-data';
import { useLearnerStore } from '../src/stores/learner';
import { createHarness, storeSignedIn } from './fakes';

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
  document.body.innerHTML = '';
});
afterEach(() => vi.unstubAllGlobals());

describe('CSV of practice sessions', () => {
  it('when cells hold commas, quotes, line breaks or formula starts, then the CSV still reads back as the same text', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a, b')).toBe('"a, b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell(undefined)).toBe('');
    const csv = sessionsCsv([
      { assessmentId: 'a1', topicId: 'sql', kind: 'quiz', score: 55, completedAt: '2026-11-01T10:00:00.000Z', durationSec: 2400, weakAreas: ['joins', 'window, functions'] },
      { assessmentId: 'a2', topicId: 'graphs', score: 80, completedAt: '2026-11-02T10:00:00.000Z', questionsAttempted: 5, correctAnswers: 4 },
    ], (id) => (id === 'sql' ? 'Базы данных SQL' : id));
    expect(csv.split('\r\n')).toEqual([
      'completed_at,topic,kind,score,duration_minutes,questions_attempted,correct_answers,weak_areas,assessment_id',
      '2026-11-01T10:00:00.000Z,Базы данных SQL,quiz,55,40,,,"joins; window, functions",a1',
      '2026-11-02T10:00:00.000Z,graphs,assessment,80,,5,4,,a2',
      '',
    ]);
  });
});

describe('Your data screen', () => {
  function capture(): { files: { name: string; text: Promise<string> }[] } {
    const files: { name: string; text: Promise<string> }[] = [];
    const blobs = new Map<string, Blob>();
    let n = 0;
    vi.stubGlobal('URL', Object.assign(Object.create(URL) as typeof URL, {
      createObjectURL: (b: Blob) => {
        const url = `blob:test/${n++}`;
        blobs.set(url, b);
        return url;
      },
      revokeObjectURL: () => undefined,
    }));
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      files.push({ name: this.download, text: blobs.get(this.getAttribute('href') ?? '')!.text() });
    });
    return { files };
  }

  it('when the learner downloads JSON and CSV, then the JSON is the server export (with the token) and the CSV holds the sessions', async () => {
    const token = storeSignedIn('ada');
    window.location.hash = '#/account';
    const fetch = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify({ success: true, data: { userId: 'ada', events: [] } }), { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    const { files } = capture();
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    const learner = h.run(() => useLearnerStore());
    // The CSV names a topic as the learner does, not by its derived id.
    const topicId = learner.createTopic('Базы данных');
    learner.logAssessment({ assessmentId: 'a1', topicId, score: 60, completedAt: '2026-11-01T10:00:00.000Z' });
    expect(w.find('main h1').text()).toBe('Your data');

    await w.find('[data-testid="download-json"]').trigger('click');
    await flushPromises();
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch.mock.calls[0]![0]).toBe(`${window.location.origin}/api/users/me/export`);
    expect((fetch.mock.calls[0]![1]!.headers as Record<string, string>)['Authorization']).toBe(`Bearer ${token}`);
    expect(files[0]!.name).toMatch(/^prepmate-ada-\d{4}-\d{2}-\d{2}\.json$/);
    expect(JSON.parse(await files[0]!.text)).toEqual({ userId: 'ada', events: [] });

    await w.find('[data-testid="download-csv"]').trigger('click');
    expect(files[1]!.name).toMatch(/^prepmate-ada-sessions-.*\.csv$/);
    expect(await files[1]!.text).toContain('2026-11-01T10:00:00.000Z,Базы данных,assessment,60,');
    expect(w.text()).toContain('Your 1 practice session was downloaded as CSV.');
  });

  it('when the learner deletes the account, then it takes a typed confirmation, erases on the server, and forgets the device', async () => {
    storeSignedIn('ada');
    window.location.hash = '#/account';
    const fetch = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify({ success: true, data: {} }), { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    await w.find('[data-testid="delete-start"]').trigger('click');
    await flushPromises();
    expect(document.activeElement).toBe(w.find('#delete-typed').element);
    await w.find('#delete-typed').setValue('not-ada');
    await w.find('[data-testid="delete-confirm"]').trigger('submit');
    await flushPromises();
    expect(fetch).not.toHaveBeenCalled();
    expect(w.find('#delete-error').text()).toBe('Type your learner id exactly to confirm.');

    await w.findAll('button').find((b) => b.text() === 'Keep my account')!.trigger('click');
    expect(w.find('#delete-typed').exists()).toBe(false);
    await w.find('[data-testid="delete-start"]').trigger('click');
    await w.find('#delete-typed').setValue('ada');
    await w.find('[data-testid="delete-confirm"]').trigger('submit');
    await flushPromises();
    expect(fetch.mock.calls.map((c) => [c[0], c[1]?.method])).toEqual([[`${window.location.origin}/api/users/me`, 'DELETE']]);
    await vi.waitFor(() => expect(w.find('h1').text()).toBe('Sign in'));
    expect(h.sessions[0]!.forgotten).toBe(true);
    expect(w.find('[data-testid="signin-notice"]').text()).toContain('deleted, on the server and on this device');
  });

  it('when the server refuses the deletion, then nothing is forgotten and the learner is told', async () => {
    storeSignedIn('ada');
    window.location.hash = '#/account';
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{}', { status: 503 })));
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    await w.find('[data-testid="delete-start"]').trigger('click');
    await w.find('#delete-typed').setValue('ada');
    await w.find('[data-testid="delete-confirm"]').trigger('submit');
    await flushPromises();
    expect(w.find('#delete-error').text()).toBe('The server refused the request (HTTP 503).');
    expect(h.sessions[0]!.forgotten).toBe(false);
    expect(w.find('main h1').text()).toBe('Your data');
  });
});
