/**
 * The practice plan: what to practise next, derived from the learner document's facts by the
 * FSRS spaced-repetition scheduler (`ts-fsrs`). It is a pure function of the facts, the settings
 * and the current UTC day, so the server, the SDK and the app compute the same plan offline.
 *
 * - Every topic and every weak-area label named by assessments is a *card*.
 * - Every assessment is a *review* of its topic's card (and of each weak area it flags), replayed
 *   in the canonical order of the facts (`completedAt`, then `assessmentId`); the score becomes an
 *   FSRS rating through {@link PLAN_CONFIG}.ratingThresholds.
 * - Time is counted in whole UTC days (as `ts-fsrs` does), so the plan changes once a day, not
 *   every millisecond, and two devices on the same day agree.
 *
 * Determinism: the replay order is canonical, fuzz is off, `ts-fsrs` rounds every state to 8
 * decimals, and the outputs are rounded again (stability/difficulty to 2 decimals, recall to 2,
 * priority to 4) with our own arithmetic limited to `+ - * /`. See docs/crdt-model.md.
 *
 * {@link PlanModel} keeps each card's replayed state, so one new assessment re-replays only the
 * cards it touches; {@link computePlan} is the same code run from scratch.
 */
import { Rating, computeDecayFactor, roundTo, type FSRSAlgorithm, type Grade } from 'ts-fsrs';
import { planScheduler } from './plan-fsrs.js';
import { DERIVATION, recencyWeight, type Trend } from './derive.js';
import { isoToMs } from './iso-time.js';
import type { LearnerFacts, TopicState } from './model.js';
import type { Assessment, TopicStatus } from './schemas.js';
import { lowerMedianInPlace } from './median.js';
import { cardPriority, explain, type CardBase } from './plan-rank.js';
import type { LearnerSettings } from './settings.js';
import { PLAN_CONFIG, PLAN_VERSION, type PlanCard, type PlanConfig, type PlanDay, type PlanItem, type PlanOptions, type PracticePlan, type RatingThresholds } from './plan-types.js';

export * from './plan-types.js';
export { isoToMs } from './iso-time.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const round = (x: number, f: number): number => Math.round(x * f) / f;

const DAY_MS = 86_400_000;
const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);
const dateOf = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The FSRS rating of a score under the thresholds. */
export function ratingForScore(score: number, t: RatingThresholds = PLAN_CONFIG.ratingThresholds): Grade {
  if (score < t.again) return Rating.Again;
  if (score < t.hard) return Rating.Hard;
  if (score < t.good) return Rating.Good;
  return Rating.Easy;
}

function checkConfig(c: PlanConfig): void {
  const t = c.ratingThresholds;
  if (!(t.again >= 0 && t.again <= t.hard && t.hard <= t.good && t.good <= 100)) {
    throw new RangeError(`rating thresholds must satisfy 0 ≤ again ≤ hard ≤ good ≤ 100, got ${JSON.stringify(t)}`);
  }
  if (!(c.requestRetention > 0.5 && c.requestRetention < 1)) throw new RangeError(`requestRetention must be in (0.5, 1), got ${c.requestRetention}`);
}

/** One review: an assessment as the replay needs it. */
interface Review {
  /** UTC day number (days since 1970-01-01). */
  readonly day: number;
  /**
   * Ms into that day. Time is kept as (day, ms into the day), two small integers, rather than
   * epoch ms, which V8 boxes in a heap number per review: on a year of facts those boxes were
   * much of what the garbage collector had to copy.
   */
  readonly time: number;
  readonly id: string;
  readonly score: number;
  /** The assessment's duration in seconds, or -1 without one. */
  readonly durationSec: number;
}

const compareReviews = (a: Review, b: Review): number =>
  a.day !== b.day ? a.day - b.day : a.time !== b.time ? a.time - b.time : a.id === b.id ? 0 : a.id < b.id ? -1 : 1;

/** A card's replayed FSRS state. */
interface Memory {
  stability: number;
  difficulty: number;
  lastDay: number;
  reps: number;
  lapses: number;
  /** Days between the last two reviews (what FSRS's interval takes). */
  elapsed: number;
}

/** A card's facts and, when `fresh`, its replayed state. */
interface CardEntry {
  readonly id: string;
  readonly kind: 'topic' | 'weakArea';
  readonly label: string;
  readonly reviews: Review[];
  memory: Memory | null;
  /** Reviews already folded into `memory` (a prefix of `reviews`). */
  replayed: number;
  /** `false` when a review was inserted before the replayed prefix ended: replay from scratch. */
  fresh: boolean;
  /** `false` when reviews were appended out of canonical order since the last replay. */
  sorted: boolean;
  summary: { mastery: number; trend: Trend; minutes: number } | null;
  /** The last view and what it was computed from, reused while neither changed. */
  view: { readonly today: number; readonly topic: TopicState | undefined; readonly card: PlanCard } | null;
}

/**
 * The plan's incremental state: per-card reviews and replayed FSRS memory. Feed it facts as they
 * arrive (any order, duplicates ignored); {@link plan} replays only cards that changed. The
 * result equals {@link computePlan} over the same facts.
 */
export class PlanModel {
  readonly #config: PlanConfig;
  readonly #fsrs: FSRSAlgorithm;
  /** The forgetting curve's constants, which `ts-fsrs` recomputes on every call. */
  readonly #decay: { readonly decay: number; readonly factor: number };
  /** Cards by topicId and by weak-area label (two maps: no key is built per fact). */
  readonly #topicCards = new Map<string, CardEntry>();
  readonly #areaCards = new Map<string, CardEntry>();
  /**
   * Ids of the assessments fed, or `null` after a bulk load into an empty model, whose ids are
   * the record's keys and so already distinct: the set is then built only if more facts come.
   */
  #seen: Set<string> | null = new Set<string>();
  #count = 0;
  #topics: Readonly<Record<string, TopicState>> = {};

  constructor(config: Partial<PlanConfig> = {}) {
    this.#config = { ...PLAN_CONFIG, ...config };
    checkConfig(this.#config);
    this.#fsrs = planScheduler(this.#config.requestRetention);
    this.#decay = computeDecayFactor(this.#fsrs.parameters.w);
  }

  /**
   * Recall probability `t` days after a review with stability `s`: `ts-fsrs`'s forgetting curve
   * (`forgetting_curve`), the same operations in the same order, with its constants computed once.
   */
  #recall(t: number, s: number): number {
    const { decay, factor } = this.#decay;
    return roundTo(Math.pow(1 + (factor * t) / s, decay), 8);
  }

  /** Number of assessments fed. */
  get assessmentCount(): number {
    return this.#count;
  }

  /** Adds assessments (already known ids are ignored). Returns the ids of the cards touched. */
  addAssessments(list: Iterable<Assessment>): string[] {
    const touched = new Set<CardEntry>();
    for (const a of list) this.#add(a, touched);
    return [...touched].map((e) => e.id).sort(byString);
  }

  #add(a: Assessment, touched: Set<CardEntry> | null): void {
    const id = a.assessmentId;
    const seen = this.#seen ?? this.#collectSeen();
    if (seen.has(id)) return;
    const ms = isoToMs(a.completedAt);
    // Stored facts are validated; one that is not (a foreign writer) has no place in time.
    if (!Number.isFinite(ms)) return;
    seen.add(id);
    this.#addValid(a, id, ms, touched);
  }

  /** The ids of the assessments fed, from the topic cards (each assessment is a review of exactly one). */
  #collectSeen(): Set<string> {
    const seen = new Set<string>();
    for (const entry of this.#topicCards.values()) for (const r of entry.reviews) seen.add(r.id);
    this.#seen = seen;
    return seen;
  }

  #addValid(a: Assessment, id: string, ms: number, touched: Set<CardEntry> | null): void {
    this.#count += 1;
    const day = dayOf(ms);
    const review: Review = { day, time: ms - day * DAY_MS, id, score: a.score, durationSec: a.durationSec ?? -1 };
    const topic = this.#addReview(this.#topicCards, 'topic', a.topicId, review);
    touched?.add(topic);
    const areas = a.weakAreas;
    if (areas === undefined) return;
    for (let i = 0; i < areas.length; i++) {
      const area = areas[i]!.trim();
      if (area.length === 0 || !firstOccurrence(areas, area, i)) continue;
      const entry = this.#addReview(this.#areaCards, 'weakArea', area, review);
      touched?.add(entry);
    }
  }

  /** Replaces the topics' state (status, goal); cheap, nothing is replayed. A topic whose state changed must come as a new object (views are reused per state object). */
  setTopics(topics: Readonly<Record<string, TopicState>>): void {
    this.#topics = topics;
  }

  /** Feeds a whole document's facts (assessments added, topics replaced). */
  setFacts(facts: LearnerFacts): void {
    const all = facts.assessments;
    if (this.#count === 0) {
      // Into an empty model the record's keys are the ids, distinct by construction, so no set
      // of ids is built (on a year of facts, building it cost a few milliseconds).
      this.#seen = null;
      // Own keys only, as `for … in` with `Object.hasOwn` gives, in one call instead of two per key.
      const ids = Object.keys(all);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        const a = all[id]!;
        // A fact filed under another key (not written by the engines) goes through the set.
        if (this.#seen !== null || a.assessmentId !== id) {
          this.#add(a, null);
          continue;
        }
        const ms = isoToMs(a.completedAt);
        if (Number.isFinite(ms)) this.#addValid(a, id, ms, null);
      }
    } else {
      for (const id in all) if (Object.hasOwn(all, id)) this.#add(all[id]!, null);
    }
    this.setTopics(facts.topics);
  }

  /** The plan for the UTC day of `now`. */
  plan(options: Omit<PlanOptions, 'config'>): PracticePlan {
    const c = this.#config;
    const nowMs = options.now instanceof Date ? options.now.getTime() : typeof options.now === 'number' ? options.now : Date.parse(options.now);
    if (!Number.isFinite(nowMs)) throw new RangeError(`now must be a valid time, got ${String(options.now)}`);
    const today = dayOf(nowMs);
    const settings = options.settings ?? {};
    const dailyMinutes = settings.dailyMinutes ?? c.defaultDailyMinutes;
    const interviewDay = settings.interviewDate ? dayOf(Date.parse(`${settings.interviewDate}T00:00:00Z`)) : null;
    const daysUntilInterview = interviewDay !== null && interviewDay >= today ? interviewDay - today : null;

    // Topics with state but no assessment are cards too (never reviewed).
    for (const topicId of Object.keys(this.#topics)) {
      if (!this.#topicCards.has(topicId)) this.#topicCards.set(topicId, newEntry('topic', topicId));
    }
    const cards: PlanCard[] = [];
    const entries = new Map<string, CardEntry>();
    for (const entry of [...this.#topicCards.values(), ...this.#areaCards.values()]) {
      if (entry.kind === 'topic' && entry.reviews.length === 0 && !Object.hasOwn(this.#topics, entry.label)) continue;
      this.#replay(entry);
      entries.set(entry.id, entry);
      cards.push(this.#view(entry, today));
    }
    cards.sort(compareCards);

    return {
      planVersion: PLAN_VERSION,
      today: dateOf(today),
      settings: { interviewDate: daysUntilInterview !== null ? (settings.interviewDate ?? null) : null, dailyMinutes },
      daysUntilInterview,
      ratingThresholds: { ...c.ratingThresholds },
      assessmentCount: this.#count,
      next: cards.slice(0, c.maxSuggestions),
      cards,
      days: this.#schedule(cards, entries, today, daysUntilInterview ?? 0, dailyMinutes),
    };
  }

  #addReview(cards: Map<string, CardEntry>, kind: 'topic' | 'weakArea', label: string, review: Review): CardEntry {
    let entry = cards.get(label);
    if (!entry) {
      entry = newEntry(kind, label);
      cards.set(label, entry);
    }
    const list = entry.reviews;
    const last = list.at(-1);
    list.push(review);
    if (last && compareReviews(last, review) > 0) {
      // Out of order (a late fact, or a bulk load in id order): sorted once before the replay,
      // which restarts from scratch only if the fact belongs before what was replayed.
      entry.sorted = false;
      if (entry.replayed > 0 && compareReviews(review, list[entry.replayed - 1]!) < 0) entry.fresh = false;
    }
    entry.summary = null;
    entry.view = null;
    return entry;
  }

  /** Folds the card's unreplayed reviews into its memory (from scratch when one arrived late). */
  #replay(entry: CardEntry): void {
    if (!entry.sorted) {
      entry.reviews.sort(compareReviews);
      entry.sorted = true;
    }
    if (!entry.fresh) {
      entry.memory = null;
      entry.replayed = 0;
      entry.fresh = true;
    }
    const t = this.#config.ratingThresholds;
    for (let i = entry.replayed; i < entry.reviews.length; i++) {
      const r = entry.reviews[i]!;
      const day = r.day;
      let grade = ratingForScore(r.score, t);
      // An assessment that names a weak area did not show it mastered: at best Hard for the area.
      if (entry.kind === 'weakArea' && grade > Rating.Hard) grade = Rating.Hard;
      const m = entry.memory;
      const elapsed = m ? day - m.lastDay : 0;
      const next = this.#fsrs.next_state(m, elapsed, grade, m ? this.#recall(elapsed, m.stability) : undefined);
      if (m) {
        if (grade === Rating.Again) m.lapses += 1;
        m.stability = next.stability;
        m.difficulty = next.difficulty;
        m.lastDay = day;
        m.reps += 1;
        m.elapsed = elapsed;
      } else {
        entry.memory = { stability: next.stability, difficulty: next.difficulty, lastDay: day, reps: 1, lapses: 0, elapsed };
      }
    }
    entry.replayed = entry.reviews.length;
    if (!entry.summary) {
      entry.summary = { mastery: masteryOf(entry.reviews), trend: trendOf(entry.reviews), minutes: this.#sessionMinutes(entry.reviews) };
    }
  }

  /** Day the card is due: the FSRS interval of its last state after its last review. */
  #dueDay(m: Memory): number {
    return m.lastDay + this.#fsrs.next_interval(m.stability, m.elapsed);
  }

  /** Median duration of the card's assessments in minutes, to 5 minutes, within bounds. */
  #sessionMinutes(reviews: readonly Review[]): number {
    const c = this.#config;
    const durations = new Float64Array(reviews.length);
    let n = 0;
    for (let i = 0; i < reviews.length; i++) {
      const d = reviews[i]!.durationSec;
      if (d >= 0) durations[n++] = d;
    }
    if (n === 0) return c.defaultSessionMinutes;
    const median = lowerMedianInPlace(durations, n);
    const five = Math.round(median / 300) * 5;
    return Math.min(c.maxSessionMinutes, Math.max(c.minSessionMinutes, five));
  }

  #view(entry: CardEntry, today: number): PlanCard {
    const topic = entry.kind === 'topic' && Object.hasOwn(this.#topics, entry.label) ? this.#topics[entry.label] : undefined;
    // A card's view depends on its reviews, the day and its topic's state only (the app replaces
    // a topic's state object when it changes), so untouched cards are not recomputed.
    const cached = entry.view;
    if (cached && cached.today === today && cached.topic === topic) return cached.card;
    const card = this.#computeView(entry, today, topic);
    entry.view = { today, topic, card };
    return card;
  }

  #computeView(entry: CardEntry, today: number, topic: TopicState | undefined): PlanCard {
    const c = this.#config;
    const m = entry.memory;
    const s = entry.summary!;
    const last = entry.reviews.at(-1);
    const recall = m ? round(this.#recall(Math.max(0, today - m.lastDay), m.stability), 100) : 0;
    const dueDay = m ? this.#dueDay(m) : today;
    const base: Mutable<PlanCard> = {
      id: entry.id,
      kind: entry.kind,
      label: entry.label,
      reviews: entry.reviews.length,
      lapses: m?.lapses ?? 0,
      lastScore: last ? last.score : null,
      lastReviewed: m ? dateOf(m.lastDay) : null,
      stability: m ? round(m.stability, 100) : 0,
      difficulty: m ? round(m.difficulty, 100) : 0,
      due: dateOf(dueDay),
      dueInDays: dueDay - today,
      recall,
      mastery: s.mastery,
      trend: s.trend,
      ...(topic?.status !== undefined ? { status: topic.status } : {}),
      ...(topic?.goal !== undefined && topic.goal.trim() !== '' ? { goal: topic.goal.trim() } : {}),
      minutes: s.minutes,
      priority: 0,
      reason: '',
      detail: '',
    };
    // Completed in place: copying the card into a new object cost more than ranking it.
    base.priority = cardPriority(base, c);
    const { name, detail } = explain(base);
    base.reason = `${name}: ${detail}`;
    base.detail = detail;
    return base;
  }

  /**
   * Day-by-day plan: each day takes the cards due by then, highest priority first, then (time
   * left) the best cards not practised the day before, until the daily minutes are used. A card
   * planned on a day is assumed reviewed as Good that day, and FSRS gives its next due day.
   */
  #schedule(cards: readonly PlanCard[], entries: ReadonlyMap<string, CardEntry>, today: number, extraDays: number, dailyMinutes: number): PlanDay[] {
    const c = this.#config;
    const horizon = Math.min(extraDays, c.maxPlanDays - 1);
    const sim = cards.map((card) => {
      const m = entries.get(card.id)!.memory;
      return { card, dueDay: today + card.dueInDays, memory: m ? { stability: m.stability, difficulty: m.difficulty, lastDay: m.lastDay } : null, lastPlanned: -1 };
    });
    const days: PlanDay[] = [];
    for (let day = today; day <= today + horizon; day++) {
      const items: PlanItem[] = [];
      let used = 0;
      const take = (entry: (typeof sim)[number], detail: string): void => {
        const name = entry.card.reason.slice(0, entry.card.reason.length - entry.card.detail.length - 2);
        items.push({ cardId: entry.card.id, kind: entry.card.kind, label: entry.card.label, minutes: entry.card.minutes, reason: `${name}: ${detail}`, detail });
        used += entry.card.minutes;
        // A fact dated after today (a device clock ahead) counts as reviewed on its own day.
        const reviewDay = entry.memory ? Math.max(day, entry.memory.lastDay) : day;
        const elapsed = entry.memory ? reviewDay - entry.memory.lastDay : 0;
        const next = this.#fsrs.next_state(entry.memory ? { stability: entry.memory.stability, difficulty: entry.memory.difficulty } : null, elapsed, Rating.Good);
        entry.memory = { stability: next.stability, difficulty: next.difficulty, lastDay: reviewDay };
        entry.dueDay = reviewDay + this.#fsrs.next_interval(next.stability, elapsed);
        entry.lastPlanned = day;
      };
      const fits = (entry: (typeof sim)[number]): boolean => used + entry.card.minutes <= dailyMinutes || (items.length === 0 && used === 0);
      for (const entry of sim) {
        if (used >= dailyMinutes) break;
        if (entry.dueDay <= day && fits(entry)) take(entry, day === today ? entry.card.detail : 'due for review');
      }
      for (const entry of sim) {
        if (used >= dailyMinutes) break;
        if (entry.lastPlanned !== day && entry.lastPlanned !== day - 1 && fits(entry)) {
          take(entry, day === today ? entry.card.detail : 'practise ahead');
        }
      }
      days.push({ date: dateOf(day), minutes: used, items });
    }
    return days;
  }
}

/**
 * Mastery over a card's reviews in canonical order: the formula of `computeTopicMastery`
 * (derive.ts), with the same operations in the same order, so the two agree to the bit, on
 * times parsed once instead of at every comparison of a sort.
 */
function masteryOf(reviews: readonly Review[]): number {
  const newest = reviews.at(-1);
  if (!newest) return 0;
  let num = 0;
  let den = 0;
  for (const r of reviews) {
    const w = recencyWeight((newest.day - r.day) * DAY_MS + (newest.time - r.time));
    num += w * r.score;
    den += w;
  }
  return round(num / (100 * den), 10_000);
}

/** The trend of `computeTrend` (derive.ts) over reviews already in canonical order. */
function trendOf(reviews: readonly Review[]): Trend {
  const n = reviews.length;
  const k = Math.min(DERIVATION.trendWindow, Math.floor(n / 2));
  if (k === 0) return { direction: 'flat', delta: 0, samples: n };
  let recent = 0;
  let previous = 0;
  for (let i = 0; i < k; i++) {
    recent += reviews[n - 1 - i]!.score;
    previous += reviews[n - 1 - k - i]!.score;
  }
  const delta = round(recent / k - previous / k, 100);
  const t = DERIVATION.trendThreshold;
  return { direction: delta >= t ? 'up' : delta <= -t ? 'down' : 'flat', delta, samples: n };
}

/** Whether `areas[i]` (trimmed: `area`) is the first occurrence of that label on the assessment. */
function firstOccurrence(areas: readonly string[], area: string, i: number): boolean {
  for (let j = 0; j < i; j++) if (areas[j]!.trim() === area) return false;
  return true;
}

function newEntry(kind: 'topic' | 'weakArea', label: string): CardEntry {
  return { id: `${kind === 'topic' ? 'topic' : 'area'}:${label}`, kind, label, reviews: [], memory: null, replayed: 0, fresh: true, sorted: true, summary: null, view: null };
}


const compareCards = (a: PlanCard, b: PlanCard): number =>
  a.priority !== b.priority ? b.priority - a.priority : a.dueInDays !== b.dueInDays ? a.dueInDays - b.dueInDays : byString(a.id, b.id);

/** The practice plan of a document's facts (and its settings, unless given) for the UTC day of `options.now`. */
export function computePlan(facts: LearnerFacts, options: PlanOptions): PracticePlan {
  const model = new PlanModel(options.config);
  model.setFacts(facts);
  const settings = options.settings ?? facts.settings;
  return model.plan(settings ? { now: options.now, settings } : { now: options.now });
}
