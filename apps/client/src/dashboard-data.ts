/**
 * What the dashboard shows, as plain data: built from the stores while the document is loaded,
 * and kept on the device (`LearnerSession.saveView`) so that the next page can show the same
 * dashboard before it has decoded and derived the document again. Pure.
 */
import { DERIVATION_VERSION, PLAN_VERSION, type PlanCard, type PlanDay, type TopicStatus, type Trend, type WeakArea } from '@prepmate/crdt-model';
import type { TrendPoint } from './components/TrendChart.vue';

/**
 * Changes whenever the shape or the meaning of {@link DashboardData} changes, and with the model's
 * formulas (insights, plan): a view kept by another version is not shown.
 */
export const DASHBOARD_VIEW_VERSION = `1.${DERIVATION_VERSION}.${PLAN_VERSION}`;

/** What a topic's due line needs of its plan card. */
export type DueCard = Pick<PlanCard, 'reviews' | 'dueInDays' | 'recall'>;

export interface DashboardTopic {
  readonly topicId: string;
  readonly label: string;
  readonly status: TopicStatus;
  /** 0–1; `null` without sessions. */
  readonly mastery: number | null;
  readonly goal?: string;
  /** An edit of this device lost to a newer one made elsewhere ("Changed on another device"). */
  readonly review: boolean;
  readonly card: DueCard | null;
}

export interface DashboardPlan {
  /** The UTC day (`YYYY-MM-DD`) the plan is for. */
  readonly today: string;
  readonly dailyMinutes: number;
  readonly daysUntilInterview: number | null;
  /** Today, then at most a week of the days until the interview. */
  readonly days: readonly PlanDay[];
  /** The coaching note of today's plan, if any. */
  readonly coaching: string | null;
}

export interface DashboardSession {
  readonly assessmentId: string;
  readonly topicId: string;
  readonly label: string;
  readonly score: number;
  readonly kind?: string | undefined;
  readonly completedAt: string;
}

export interface DashboardData {
  /** Topics listed (archived ones too), and sessions counted (those of deleted topics left out). */
  readonly topicCount: number;
  readonly assessmentCount: number;
  readonly average: number | null;
  readonly latest: { readonly score: number; readonly completedAt: string } | null;
  readonly topics: readonly DashboardTopic[];
  readonly archived: readonly { readonly topicId: string; readonly label: string }[];
  readonly plan: DashboardPlan;
  /**
   * The trend chart's points, oldest first. A stored view keeps only the newest of them (see
   * {@link forStorage}); `older` counts the ones left out, so that the chart still says how many
   * there are.
   */
  readonly trend: { readonly points: readonly TrendPoint[]; readonly older: number; readonly overall: Trend };
  readonly weakAreas: readonly WeakArea[];
  readonly weakTopics: readonly { readonly topicId: string; readonly label: string; readonly mastery: number }[];
  /** The newest sessions, newest first. */
  readonly recent: readonly DashboardSession[];
}

/** A dashboard as kept on the device: for one version of this module and one plan day. */
export interface StoredDashboard {
  readonly version: string;
  readonly day: string;
  readonly data: DashboardData;
}

/** The chart's longest range (history.ts, `month`) and its most points: what a stored trend must keep. */
const KEEP_MS = 30 * 86_400_000;
const KEEP_POINTS = 60;

/**
 * `data` to keep on the device at `now`: the trend keeps the points a chart can draw from then
 * on (the newest 60, and every point of the last 30 days), not a year of them.
 */
export function forStorage(data: DashboardData, now: number): StoredDashboard {
  const points = data.trend.points;
  let from = Math.max(0, points.length - KEEP_POINTS);
  while (from > 0 && Date.parse(points[from - 1]!.at) >= now - KEEP_MS) from--;
  const kept = from === 0 ? points : points.slice(from);
  return {
    version: DASHBOARD_VIEW_VERSION,
    day: data.plan.today,
    data: { ...data, trend: { ...data.trend, points: kept, older: data.trend.older + from } },
  };
}

/**
 * The dashboard of a stored view, when it is one of this version for the plan day `today`
 * (a plan and its due dates move with the day); else `null`.
 */
export function storedDashboard(view: unknown, today: string): DashboardData | null {
  if (typeof view !== 'object' || view === null) return null;
  const v = view as Partial<StoredDashboard>;
  if (v.version !== DASHBOARD_VIEW_VERSION || v.day !== today || typeof v.data !== 'object' || v.data === null) return null;
  const d = v.data;
  const lists = [d.topics, d.archived, d.weakAreas, d.weakTopics, d.recent, d.plan?.days, d.trend?.points];
  return lists.every(Array.isArray) && typeof d.assessmentCount === 'number' && typeof d.topicCount === 'number' ? d : null;
}

/** The UTC day of `ms` as `YYYY-MM-DD`, as plans name their days. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
