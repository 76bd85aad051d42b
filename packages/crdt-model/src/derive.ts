/**
 * Derived values: pure, deterministic functions of the facts (the assessments). Every replica
 * that holds the same facts computes bit-identical results, whatever engine stores them and
 * whatever order the facts arrived in, because:
 *
 * - inputs are sorted by a stable key (`completedAt` as epoch ms, then `assessmentId` by code
 *   units, never `localeCompare`) before anything is summed;
 * - there is no clock: recency is measured from the newest assessment, not from `Date.now()`;
 * - only `+ - * /` are used (IEEE 754 rounds each of them exactly, so browsers and Node agree;
 *   `Math.pow`/`Math.exp` may differ in the last bit between engines), and results are rounded.
 *
 * The formulas are written up in docs/crdt-model.md.
 */
import { isoToMs } from './iso-time.js';
import type { Assessment } from './schemas.js';

const DAY_MS = 86_400_000;

/** Tunables of the derived values. Changing one changes {@link DERIVATION_VERSION}. */
export const DERIVATION = Object.freeze({
  /** Age, in days before the newest assessment, at which an assessment counts half. */
  halfWeightDays: 30,
  /** Mastery below which a topic is reported as weak (0–1). */
  weakTopicMastery: 0.6,
  /** Most weak areas / weak topics reported. */
  maxWeakAreas: 10,
  /** Most assessments in each of the two windows the trend compares. */
  trendWindow: 3,
  /** Score difference, in points, from which a trend is `up` or `down`. */
  trendThreshold: 5,
});

/** Version of the formulas; stored with the insights so readers know what they look at. */
export const DERIVATION_VERSION = 1;

/** Direction and size of the score trend of a topic (or of all assessments). */
export interface Trend {
  readonly direction: 'up' | 'down' | 'flat';
  /** Mean score of the recent window minus mean score of the window before it, in points. */
  readonly delta: number;
  /** Number of assessments the trend is computed from. */
  readonly samples: number;
}

/** A weak-area label with its weight. */
export interface WeakArea {
  readonly area: string;
  /** Σ recency × severity over the assessments that flag the area (see docs). */
  readonly weight: number;
  /** Number of assessments that flag the area. */
  readonly occurrences: number;
}

/** A topic whose mastery is below {@link DERIVATION}.weakTopicMastery. */
export interface WeakTopic {
  readonly topicId: string;
  readonly mastery: number;
}

/** Everything derived from the facts; what the server writes into `getMap('insights')`. */
export interface Insights {
  readonly derivationVersion: number;
  readonly assessmentCount: number;
  /** `completedAt` of the newest assessment, or `null` when there is none. */
  readonly lastAssessmentAt: string | null;
  readonly weakAreas: readonly WeakArea[];
  readonly weakTopics: readonly WeakTopic[];
  readonly overallTrend: Trend;
  /** Trend per topicId, for topics with at least one assessment. */
  readonly trends: Readonly<Record<string, Trend>>;
}

const round = (x: number, digits: number): number => {
  const f = digits === 4 ? 10_000 : 100;
  return Math.round(x * f) / f;
};

const time = (a: Assessment): number => isoToMs(a.completedAt);

/** Stable order of facts: by completion time, then by id. */
export function compareAssessments(a: Assessment, b: Assessment): number {
  const ta = time(a);
  const tb = time(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.assessmentId === b.assessmentId) return 0;
  return a.assessmentId < b.assessmentId ? -1 : 1;
}

/** A sorted copy, so callers can pass facts in any order. */
export function sortAssessments(list: Iterable<Assessment>): Assessment[] {
  // The same order as `compareAssessments`, with each time parsed once rather than on every
  // comparison (a year of sessions is some 600 000 comparisons).
  const keyed = Array.from(list, (a) => ({ a, t: time(a) }));
  keyed.sort((x, y) => (x.t !== y.t ? (x.t < y.t ? -1 : 1) : x.a.assessmentId === y.a.assessmentId ? 0 : x.a.assessmentId < y.a.assessmentId ? -1 : 1));
  return keyed.map((k) => k.a);
}

/**
 * Weight of an assessment `ageMs` older than the reference: `H / (H + ageDays)`, 1 when new,
 * ½ at H days, ¼ at 3H days. Hyperbolic rather than exponential so that only division is used.
 */
export function recencyWeight(ageMs: number): number {
  const h = DERIVATION.halfWeightDays;
  return h / (h + Math.max(0, ageMs) / DAY_MS);
}

function groupByTopic(sorted: readonly Assessment[]): Map<string, Assessment[]> {
  const byTopic = new Map<string, Assessment[]>();
  for (const a of sorted) {
    const list = byTopic.get(a.topicId);
    if (list) list.push(a);
    else byTopic.set(a.topicId, [a]);
  }
  return byTopic;
}

/**
 * Mastery of one topic from its assessments, 0–1, rounded to 4 decimals:
 * `Σ wᵢ·scoreᵢ / (100·Σ wᵢ)` with `wᵢ = recencyWeight(newest − completedAtᵢ)`, the newest
 * assessment of the topic being the reference. 0 when there is no assessment.
 */
export function computeTopicMastery(assessments: Iterable<Assessment>): number {
  return masteryOfSorted(sortAssessments(assessments));
}

/** What is derived from one topic's sessions alone: its part of {@link Insights}. */
export interface TopicDerivation {
  readonly mastery: number;
  readonly trend: Trend;
}

/**
 * A topic's mastery and trend from its sessions, already in `sortAssessments` order. A client
 * keeps these per topic until one of the topic's sessions changes and passes them to
 * {@link insightsOfTopics}, so that logging one session re-derives one topic, not a year.
 */
export function deriveTopicOfSorted(sorted: readonly Assessment[]): TopicDerivation {
  return { mastery: masteryOfSorted(sorted), trend: trendOfSorted(sorted) };
}

// The `…OfSorted` functions take facts already in `sortAssessments` order, so that
// `deriveInsights` sorts a year of facts once rather than once per value it derives.

function masteryOfSorted(sorted: readonly Assessment[]): number {
  const newest = sorted.at(-1);
  if (!newest) return 0;
  const ref = time(newest);
  let num = 0;
  let den = 0;
  for (const a of sorted) {
    const w = recencyWeight(ref - time(a));
    num += w * a.score;
    den += w;
  }
  return round(num / (100 * den), 4);
}

/** Mastery of every topic that has assessments, keyed by topicId (see {@link computeTopicMastery}). */
export function computeMastery(assessments: Iterable<Assessment>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [topicId, list] of [...groupByTopic(sortAssessments(assessments))].sort(byKey)) {
    out[topicId] = masteryOfSorted(list);
  }
  return out;
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * Score trend: with `n` assessments in order and `k = min(3, ⌊n/2⌋)`, `delta` is the mean of the
 * last `k` scores minus the mean of the `k` before them (2 decimals); `up` from +5 points,
 * `down` from −5, else `flat`. Fewer than 2 assessments: flat, delta 0.
 */
export function computeTrend(assessments: Iterable<Assessment>): Trend {
  return trendOfSorted(sortAssessments(assessments));
}

function trendOfSorted(sorted: readonly Assessment[]): Trend {
  const n = sorted.length;
  const k = Math.min(DERIVATION.trendWindow, Math.floor(n / 2));
  if (k === 0) return { direction: 'flat', delta: 0, samples: n };
  let recent = 0;
  let previous = 0;
  for (let i = 0; i < k; i++) {
    recent += sorted[n - 1 - i]!.score;
    previous += sorted[n - 1 - k - i]!.score;
  }
  const delta = round(recent / k - previous / k, 2);
  const t = DERIVATION.trendThreshold;
  return { direction: delta >= t ? 'up' : delta <= -t ? 'down' : 'flat', delta, samples: n };
}

/**
 * Weak areas from the `weakAreas` labels and the scores: each assessment that flags an area adds
 * `recencyWeight(newest − completedAt) × (1 − score/200)` to it, so a flag on a failed
 * assessment counts up to twice a flag on a perfect one and old flags fade. Labels are trimmed
 * and compared exactly; the top 10 by weight (then label) are returned, weights to 4 decimals.
 */
export function computeWeakAreas(assessments: Iterable<Assessment>): WeakArea[] {
  return weakAreasOfSorted(sortAssessments(assessments));
}

function weakAreasOfSorted(sorted: readonly Assessment[]): WeakArea[] {
  const newest = sorted.at(-1);
  if (!newest) return [];
  const ref = time(newest);
  const acc = new Map<string, { weight: number; occurrences: number }>();
  for (const a of sorted) {
    if (!a.weakAreas || a.weakAreas.length === 0) continue;
    const contribution = recencyWeight(ref - time(a)) * (1 - a.score / 200);
    for (const area of new Set(a.weakAreas.map((s) => s.trim()).filter((s) => s.length > 0))) {
      const entry = acc.get(area) ?? { weight: 0, occurrences: 0 };
      entry.weight += contribution;
      entry.occurrences += 1;
      acc.set(area, entry);
    }
  }
  return [...acc]
    .map(([area, e]) => ({ area, weight: round(e.weight, 4), occurrences: e.occurrences }))
    .sort((a, b) => (a.weight !== b.weight ? b.weight - a.weight : a.area < b.area ? -1 : a.area > b.area ? 1 : 0))
    .slice(0, DERIVATION.maxWeakAreas);
}

/** Topics with mastery below 0.6, weakest first (then by topicId), at most 10. */
export function computeWeakTopics(mastery: Readonly<Record<string, number>>): WeakTopic[] {
  return Object.entries(mastery)
    .filter(([, m]) => m < DERIVATION.weakTopicMastery)
    .map(([topicId, m]) => ({ topicId, mastery: m }))
    .sort((a, b) => (a.mastery !== b.mastery ? a.mastery - b.mastery : a.topicId < b.topicId ? -1 : a.topicId > b.topicId ? 1 : 0))
    .slice(0, DERIVATION.maxWeakAreas);
}

/** All insights from the assessments; what `LearnerDocument.writeInsights()` stores. */
export function deriveInsights(assessments: Iterable<Assessment>): Insights {
  return deriveInsightsOfSorted(sortAssessments(assessments));
}

/**
 * {@link deriveInsights} of facts already in `sortAssessments` order: a client that keeps its
 * sessions sorted skips sorting a year of them again.
 */
export function deriveInsightsOfSorted(sorted: readonly Assessment[]): Insights {
  const topics = new Map<string, TopicDerivation>();
  // `groupByTopic` keeps the sorted order within each topic.
  for (const [topicId, list] of groupByTopic(sorted)) topics.set(topicId, deriveTopicOfSorted(list));
  return insightsOfTopics(sorted, topics);
}

/**
 * {@link deriveInsights} of facts already in `sortAssessments` order, given each topic's
 * {@link deriveTopicOfSorted} of its facts among them (one entry for every topic that has any).
 * What remains is a pass over the facts for the weak areas, whose weights depend on the newest
 * fact of all, and the overall trend from the last few.
 */
export function insightsOfTopics(sorted: readonly Assessment[], topics: ReadonlyMap<string, TopicDerivation>): Insights {
  const mastery: Record<string, number> = {};
  const trends: Record<string, Trend> = {};
  for (const [topicId, derived] of [...topics].sort(byKey)) {
    mastery[topicId] = derived.mastery;
    trends[topicId] = derived.trend;
  }
  return {
    derivationVersion: DERIVATION_VERSION,
    assessmentCount: sorted.length,
    lastAssessmentAt: sorted.at(-1)?.completedAt ?? null,
    weakAreas: weakAreasOfSorted(sorted),
    weakTopics: computeWeakTopics(mastery),
    overallTrend: trendOfSorted(sorted),
    trends,
  };
}
