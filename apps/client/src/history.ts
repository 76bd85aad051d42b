/** Filtering and paging of the practice history, and the time ranges of the trend chart. Pure. */
import type { Assessment } from '@prepmate/crdt-model';

export interface HistoryFilter {
  /** `''`: every topic. */
  readonly topicId: string;
  /** `''`: every kind; `assessment` also matches sessions logged without a kind. */
  readonly kind: string;
  /** First day, `YYYY-MM-DD` in the learner's time zone; `''`: no lower bound. */
  readonly from: string;
  /** Last day, inclusive; `''`: no upper bound. */
  readonly to: string;
  /** Words to find in weak areas, the topic's notes and goal, its name and the kind. */
  readonly query: string;
}

export const EMPTY_FILTER: HistoryFilter = Object.freeze({ topicId: '', kind: '', from: '', to: '', query: '' });

/** What search sees of a session's topic (its notes and goal live on the topic, not the session). */
export interface TopicText {
  readonly label: string;
  readonly notes?: string;
  readonly goal?: string;
}

/** Local midnight of `YYYY-MM-DD` plus `days`, ms; NaN when it is not a date. */
function localDay(day: string, days = 0): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days).getTime() : Number.NaN;
}

const fold = (s: string): string => s.normalize('NFKD').replace(/\p{M}/gu, '').toLocaleLowerCase();

/** Sessions matching every part of `filter`, in the order given. Each word of the query must match. */
export function filterSessions(sessions: readonly Assessment[], filter: HistoryFilter, topicText: (topicId: string) => TopicText): Assessment[] {
  const from = filter.from ? localDay(filter.from) : Number.NaN;
  // The whole last day counts: up to the next local midnight.
  const until = filter.to ? localDay(filter.to, 1) : Number.NaN;
  const words = fold(filter.query).split(/\s+/).filter(Boolean);
  const texts = new Map<string, string>();
  const textOf = (a: Assessment): string => {
    let topic = texts.get(a.topicId);
    if (topic === undefined) {
      const t = topicText(a.topicId);
      topic = fold([a.topicId, t.label, t.notes ?? '', t.goal ?? ''].join('\n'));
      texts.set(a.topicId, topic);
    }
    return `${topic}\n${fold([a.kind ?? 'assessment', ...(a.weakAreas ?? [])].join('\n').replace(/_/g, ' '))}`;
  };
  return sessions.filter((a) => {
    if (filter.topicId && a.topicId !== filter.topicId) return false;
    if (filter.kind && (a.kind ?? 'assessment') !== filter.kind) return false;
    const at = Date.parse(a.completedAt);
    if (!Number.isNaN(from) && !(at >= from)) return false;
    if (!Number.isNaN(until) && !(at < until)) return false;
    if (words.length > 0) {
      const text = textOf(a);
      if (!words.every((w) => text.includes(w))) return false;
    }
    return true;
  });
}

export interface Page<T> {
  readonly items: T[];
  /** 1-based, clamped to the pages there are. */
  readonly page: number;
  readonly pages: number;
  readonly total: number;
  /** 1-based index of the first item shown; 0 when there are none. */
  readonly first: number;
  readonly last: number;
}

export function paginate<T>(list: readonly T[], page: number, size: number): Page<T> {
  const pages = Math.max(1, Math.ceil(list.length / size));
  const p = Math.min(pages, Math.max(1, Math.floor(page)));
  const start = (p - 1) * size;
  const items = list.slice(start, start + size);
  return { items, page: p, pages, total: list.length, first: items.length ? start + 1 : 0, last: start + items.length };
}

export type ChartRange = 'week' | 'month' | 'all';
export const CHART_RANGES: readonly { readonly value: ChartRange; readonly label: string }[] = [
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
  { value: 'all', label: 'All' },
];
const RANGE_MS: Record<Exclude<ChartRange, 'all'>, number> = { week: 7 * 86_400_000, month: 30 * 86_400_000 };

export interface RangedPoints<T> {
  /** The points drawn, oldest first. */
  readonly shown: T[];
  /** Points in the range. */
  readonly inRange: number;
  /** Points in the range left out because the chart draws at most `max`. */
  readonly leftOut: number;
}

/**
 * The points of `range` ending at `now` (oldest first in, oldest first out), at most the newest
 * `max`. `older` points before `points` were left out by the caller; they count in the `all`
 * range only (the caller keeps every point of the longest range).
 */
export function pointsInRange<T extends { readonly at: string }>(points: readonly T[], range: ChartRange, now: number, max: number, older = 0): RangedPoints<T> {
  const since = range === 'all' ? Number.NEGATIVE_INFINITY : now - RANGE_MS[range];
  // Every point is in `all`: no date to parse (a year holds 20 000).
  const inRange = range === 'all' ? points : points.filter((p) => Date.parse(p.at) >= since);
  const shown = inRange.slice(-max);
  const count = inRange.length + (range === 'all' ? older : 0);
  return { shown, inRange: count, leftOut: count - shown.length };
}
