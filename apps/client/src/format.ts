/** Display helpers shared by the screens. Pure, so they are tested without a DOM. */

/** Words that read wrong in sentence case. */
const ACRONYMS = new Set(['sql', 'api', 'apis', 'css', 'html', 'oop', 'os', 'dp', 'ml', 'ai', 'js', 'ts', 'aws', 'gcp', 'http', 'tcp', 'dns', 'ci', 'cd', 'ui', 'ux']);

/** `system-design` → `System design`, `sql` → `SQL`. */
export function topicLabel(topicId: string): string {
  const words = topicId.replace(/[_-]+/g, ' ').trim().split(/\s+/);
  if (words.join('') === '') return topicId;
  return words
    .map((w, i) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w))
    .join(' ');
}

/** 0–1 → `72%`. */
export function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/**
 * One formatter for every date and time: `toLocaleString` with options builds a new one per call,
 * which cost ≈ 0.3 ms each (a dashboard formats over a hundred). Immutable, so sharing it is safe.
 */
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A readable date and time in the learner's locale. */
export function dateTime(iso: string | number): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : DATE_TIME.format(d);
}

/** `just now`, `3 min ago`, `2 h ago`, else a date. */
export function relativeTime(ms: number | null, now: number = Date.now()): string {
  if (ms === null) return 'never';
  const s = Math.round((now - ms) / 1000);
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return dateTime(ms);
}

/** `mock_interview` → `Mock interview`. */
export function kindLabel(kind: string | undefined): string {
  return kind ? topicLabel(kind) : 'Assessment';
}

export const STATUS_LABELS = {
  not_started: 'Not started',
  in_progress: 'In progress',
  completed: 'Completed',
} as const;

/** A minutes figure for a duration in seconds. */
export function minutes(sec: number | undefined): string {
  return sec === undefined ? '—' : `${Math.round(sec / 60)} min`;
}
