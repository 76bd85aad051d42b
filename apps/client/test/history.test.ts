import { flushPromises } from '@vue/test-utils';
import { beforeEach, describe, expect, it } from 'vitest';
import TrendChart from '../src/components/TrendChart.vue';
import { EMPTY_FILTER, filterSessions, paginate, pointsInRange } from '../src/history';
import { useLearnerStore } from '../src/stores/learner';
import HistoryView from '../src/views/HistoryView.vue';
import TopicView from '../src/views/TopicView.vue';
import { createHarness, storeSignedIn } from './fakes';
import type { Assessment } from '@prepmate/crdt-model';

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
  document.body.innerHTML = '';
});

const DAY = 86_400_000;
const localIso = (y: number, m: number, d: number, h = 12): string => new Date(y, m - 1, d, h).toISOString();

describe('history filter', () => {
  const sessions: Assessment[] = [
    { assessmentId: 'a1', topicId: 'sql', kind: 'quiz', score: 50, completedAt: localIso(2026, 11, 1, 0), weakAreas: ['Joins'] },
    { assessmentId: 'a2', topicId: 'sql', score: 70, completedAt: localIso(2026, 11, 2, 23) },
    { assessmentId: 'a3', topicId: 'graphs', kind: 'mock_interview', score: 80, completedAt: localIso(2026, 11, 3), weakAreas: ['Dijkstra', 'café'] },
  ];
  const text = (topicId: string) => (topicId === 'graphs' ? { label: 'Graphs', notes: 'Practise BFS on grids' } : { label: 'SQL' });
  const ids = (f: Partial<typeof EMPTY_FILTER>): string[] => filterSessions(sessions, { ...EMPTY_FILTER, ...f }, text).map((a) => a.assessmentId);

  it('when filters are combined, then only sessions matching all of them remain, days counted whole in local time', () => {
    expect(ids({})).toEqual(['a1', 'a2', 'a3']);
    expect(ids({ topicId: 'sql' })).toEqual(['a1', 'a2']);
    expect(ids({ kind: 'assessment' })).toEqual(['a2']);
    expect(ids({ kind: 'mock_interview' })).toEqual(['a3']);
    expect(ids({ from: '2026-11-02' })).toEqual(['a2', 'a3']);
    expect(ids({ to: '2026-11-02' })).toEqual(['a1', 'a2']);
    expect(ids({ from: '2026-11-01', to: '2026-11-01' })).toEqual(['a1']);
    expect(ids({ topicId: 'sql', from: '2026-11-03' })).toEqual([]);
  });

  it('when searching, then weak areas and the topic notes match, ignoring case and accents, every word required', () => {
    expect(ids({ query: 'joins' })).toEqual(['a1']);
    expect(ids({ query: 'bfs' })).toEqual(['a3']);
    expect(ids({ query: 'cafe' })).toEqual(['a3']);
    expect(ids({ query: 'dijkstra grids' })).toEqual(['a3']);
    expect(ids({ query: 'dijkstra joins' })).toEqual([]);
    expect(ids({ query: 'mock interview' })).toEqual(['a3']);
  });

  it('when paging, then the page is clamped and the range of items is named', () => {
    const list = Array.from({ length: 45 }, (_, i) => i);
    expect(paginate(list, 1, 20)).toMatchObject({ page: 1, pages: 3, total: 45, first: 1, last: 20 });
    expect(paginate(list, 3, 20)).toMatchObject({ items: [40, 41, 42, 43, 44], first: 41, last: 45 });
    expect(paginate(list, 9, 20).page).toBe(3);
    expect(paginate([], 1, 20)).toMatchObject({ pages: 1, total: 0, first: 0, last: 0 });
  });

  it('when a chart range is chosen, then only its points count, and a cap says how many it left out', () => {
    const now = Date.UTC(2026, 10, 30);
    const points = Array.from({ length: 100 }, (_, i) => ({ at: new Date(now - (99 - i) * DAY / 2).toISOString() }));
    expect(pointsInRange(points, 'all', now, 60)).toMatchObject({ inRange: 100, leftOut: 40 });
    expect(pointsInRange(points, 'all', now, 60).shown[0]).toBe(points[40]);
    expect(pointsInRange(points, 'month', now, 60)).toMatchObject({ inRange: 61, leftOut: 1 });
    expect(pointsInRange(points, 'week', now, 60)).toMatchObject({ inRange: 15, leftOut: 0 });
  });
});

describe('History screen', () => {
  function seed(n: number): ReturnType<typeof createHarness> {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    for (let i = 0; i < n; i++) {
      learner.logAssessment({
        assessmentId: `a${i}`,
        topicId: i % 3 === 0 ? 'graphs' : 'sql',
        kind: i % 2 === 0 ? 'quiz' : 'mock_interview',
        score: 40 + (i % 60),
        completedAt: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString(),
        ...(i === 7 ? { weakAreas: ['window functions'] } : {}),
      });
    }
    return h;
  }

  it('when there are many sessions, then one page shows at a time, newest first, and paging moves focus to the results', async () => {
    const h = seed(45);
    const w = h.mount(HistoryView);
    const count = (): string => w.find('[data-testid="history-count"]').text();
    expect(count()).toBe('1–20 of 45 sessions');
    expect(w.findAll('[data-testid="history-list"] > li')).toHaveLength(20);
    expect(w.find('[data-testid="history-list"] > li time').attributes('datetime')).toBe(new Date(Date.UTC(2026, 0, 1) + 44 * 3_600_000).toISOString());
    await w.find('[data-testid="history-next"]').trigger('click');
    await flushPromises();
    expect(w.find('[data-testid="history-page"]').text()).toBe('Page 2 of 3');
    expect(count()).toBe('21–40 of 45 sessions');
    expect(document.activeElement).toBe(w.find('#results-h').element);
  });

  it('when filters and search are used, then the list narrows, starts again at page one, and can be cleared', async () => {
    const h = seed(45);
    const w = h.mount(HistoryView);
    await w.find('[data-testid="history-next"]').trigger('click');
    await w.find('[data-testid="history-topic"]').setValue('graphs');
    expect(w.find('[data-testid="history-count"]').text()).toBe('15 matching sessions (of 45)');
    await w.find('[data-testid="history-kind"]').setValue('quiz');
    expect(w.find('[data-testid="history-count"]').text()).toBe('8 matching sessions (of 45)');
    await w.find('[data-testid="history-topic"]').setValue('');
    await w.find('[data-testid="history-kind"]').setValue('');
    await w.find('[data-testid="history-query"]').setValue('window');
    expect(w.find('[data-testid="history-count"]').text()).toBe('1 matching session (of 45)');
    expect(w.find('[data-testid="history-list"]').text()).toContain('window functions');
    await w.find('[data-testid="history-query"]').setValue('nothing like this');
    expect(w.find('[data-testid="history-count"]').text()).toBe('No sessions match these filters (of 45).');
    await w.findAll('button').find((b) => b.text() === 'Clear filters')!.trigger('click');
    expect(w.find('[data-testid="history-count"]').text()).toBe('1–20 of 45 sessions');
  });

  it('when opened from a topic, then it is filtered to it; the topic screen lists only its latest sessions', async () => {
    const h = seed(45);
    const t = h.mount(TopicView, { topicId: 'sql' });
    expect(t.findAll('.table-wrap tbody tr')).toHaveLength(10);
    expect(t.find('[data-testid="topic-history-link"]').attributes('href')).toBe('#/history/sql');
    expect(t.find('[data-testid="topic-history-link"]').text()).toBe('All 30 sessions of this topic');
    const w = h.mount(HistoryView, { topicId: 'sql' });
    expect(w.find('[data-testid="history-count"]').text()).toBe('1–20 of 30 matching sessions (of 45)');
  });
});

describe('trend chart', () => {
  const now = Date.now();
  const points = Array.from({ length: 80 }, (_, i) => ({ at: new Date(now - (79 - i) * DAY).toISOString(), score: i, label: 'Quiz' }));

  it('when there are more points than it draws, then it says how many are left out, and the table holds the drawn values', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(TrendChart, { points, summary: '80 assessments' });
    expect(w.findAll('circle')).toHaveLength(60);
    expect(w.find('[data-testid="chart-note"]').text()).toBe('Showing the latest 60 of 80 scores in all; 20 older ones are left out. The History screen lists every session.');
    const rows = w.findAll('[data-testid="chart-table"] tbody tr');
    expect(rows).toHaveLength(60);
    expect(rows[0]!.text()).toContain('79');

    await w.find('input[value="month"]').setValue(true);
    expect(w.findAll('circle')).toHaveLength(30);
    expect(w.find('[data-testid="chart-note"]').text()).toBe('30 scores in the last 30 days.');
    await w.find('input[value="week"]').setValue(true);
    expect(w.findAll('circle')).toHaveLength(7);
  });

  it('when a range holds no points, then it says so instead of drawing nothing silently', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const old = [{ at: new Date(now - 90 * DAY).toISOString(), score: 50, label: 'Quiz' }];
    const w = h.mount(TrendChart, { points: old, summary: '1 assessment' });
    await w.find('input[value="week"]').setValue(true);
    expect(w.find('svg').exists()).toBe(false);
    expect(w.find('[data-testid="chart-note"]').text()).toBe('No scores in the last 7 days.');
  });
});
