/**
 * The practice plan's types and default configuration, apart from the code that computes it
 * (plan.ts) and ranks it (plan-rank.ts), so both can name them without importing each other.
 */
import type { Trend } from './derive.js';
import type { TopicStatus } from './schemas.js';
import type { LearnerSettings } from './settings.js';

/** Score thresholds (points, 0–100) of the FSRS ratings: below `again` is Again, below `hard` Hard, below `good` Good, else Easy. */
export interface RatingThresholds {
  readonly again: number;
  readonly hard: number;
  readonly good: number;
}

/** Tunables of the plan. Changing one changes {@link PLAN_VERSION}. */
export interface PlanConfig {
  readonly ratingThresholds: RatingThresholds;
  /** Recall probability FSRS schedules for (0.9 = due when recall is expected to drop to 90 %). */
  readonly requestRetention: number;
  /** Practice minutes per day when the learner has not set `dailyMinutes`. */
  readonly defaultDailyMinutes: number;
  /** Minutes planned for a card whose assessments carry no duration. */
  readonly defaultSessionMinutes: number;
  /** Bounds of the minutes planned for one card. */
  readonly minSessionMinutes: number;
  readonly maxSessionMinutes: number;
  /** Most suggestions in `next`. */
  readonly maxSuggestions: number;
  /** Most days in the day-by-day plan (an interview further away is planned this far). */
  readonly maxPlanDays: number;
  /** Weights of the priority (see {@link cardPriority}). */
  readonly weights: {
    readonly forgetting: number;
    readonly weakness: number;
    readonly overdue: number;
    readonly decline: number;
    readonly goal: number;
    readonly goalBelowTarget: number;
  };
  /** Priority multiplier per topic status (a completed topic is kept fresh, not drilled). */
  readonly statusFactor: Readonly<Record<TopicStatus, number>>;
  /** Multiplier of weak-area cards (they overlap with their topics). */
  readonly weakAreaFactor: number;
}

/** The default tunables. */
export const PLAN_CONFIG: PlanConfig = Object.freeze({
  ratingThresholds: Object.freeze({ again: 50, hard: 70, good: 85 }),
  requestRetention: 0.9,
  defaultDailyMinutes: 30,
  defaultSessionMinutes: 15,
  minSessionMinutes: 10,
  maxSessionMinutes: 45,
  maxSuggestions: 5,
  maxPlanDays: 60,
  weights: Object.freeze({ forgetting: 0.35, weakness: 0.3, overdue: 0.15, decline: 0.2, goal: 0.1, goalBelowTarget: 0.1 }),
  statusFactor: Object.freeze({ not_started: 1, in_progress: 1.1, completed: 0.6 }),
  weakAreaFactor: 0.9,
});

/** Version of the plan's formulas, carried by every plan. */
export const PLAN_VERSION = 1;

/** One card of the plan, with its FSRS state and why it ranks where it does. */
export interface PlanCard {
  /** `topic:<topicId>` or `area:<label>`. */
  readonly id: string;
  readonly kind: 'topic' | 'weakArea';
  /** The topicId or the weak-area label. */
  readonly label: string;
  /** Number of reviews (assessments) replayed. */
  readonly reviews: number;
  readonly lapses: number;
  readonly lastScore: number | null;
  /** UTC day of the last review, `YYYY-MM-DD`, or `null` for a card never assessed. */
  readonly lastReviewed: string | null;
  /** FSRS stability in days (2 decimals); 0 before the first review. */
  readonly stability: number;
  /** FSRS difficulty 1–10 (2 decimals); 0 before the first review. */
  readonly difficulty: number;
  /** UTC day the next review is due (`today` for a card never assessed). */
  readonly due: string;
  /** Days until due; negative when overdue. */
  readonly dueInDays: number;
  /** Probability of recall today, 0–1 (2 decimals); 0 for a card never assessed. */
  readonly recall: number;
  /** Recency-weighted mean score, 0–1 (as `mastery` of the learner JSON). */
  readonly mastery: number;
  readonly trend: Trend;
  readonly status?: TopicStatus;
  readonly goal?: string;
  /** Minutes one practice session of this card is planned to take. */
  readonly minutes: number;
  /** Rank key, higher first (4 decimals). */
  readonly priority: number;
  /** Why, in plain words, e.g. "sql-joins: last scored 55, recall now ~60 %, due 3 days ago". */
  readonly reason: string;
  /** The reason without the leading name ("last scored 55, …"), for screens that show the name apart. */
  readonly detail: string;
}

/** One item of a day's plan. */
export interface PlanItem {
  readonly cardId: string;
  readonly kind: 'topic' | 'weakArea';
  readonly label: string;
  readonly minutes: number;
  readonly reason: string;
  readonly detail: string;
}

/** One day of the plan. */
export interface PlanDay {
  /** `YYYY-MM-DD` (UTC). */
  readonly date: string;
  /** Minutes planned (at most the daily minutes, unless one session alone is longer). */
  readonly minutes: number;
  readonly items: readonly PlanItem[];
}

/** The practice plan. */
export interface PracticePlan {
  readonly planVersion: number;
  /** The UTC day the plan is for. */
  readonly today: string;
  readonly settings: { readonly interviewDate: string | null; readonly dailyMinutes: number };
  /** Days from today to the interview (0 on the day), or `null` without a future interview date. */
  readonly daysUntilInterview: number | null;
  readonly ratingThresholds: RatingThresholds;
  readonly assessmentCount: number;
  /** The ranked "practise next" list (at most `maxSuggestions`). */
  readonly next: readonly PlanCard[];
  /** Every card, ranked. */
  readonly cards: readonly PlanCard[];
  /** Today's plan, then one entry per day up to the interview day (or only today without one). */
  readonly days: readonly PlanDay[];
}

/** Options of a plan computation. */
export interface PlanOptions {
  /** The current time (ISO string or epoch ms); only its UTC day matters. */
  readonly now: string | number | Date;
  readonly settings?: LearnerSettings;
  /** Overrides of {@link PLAN_CONFIG}. */
  readonly config?: Partial<PlanConfig>;
}
