import { createHash } from 'node:crypto';
import { canonicalJson, type PracticePlan } from '@prepmate/crdt-model';

/** Most cards described to the model. */
const MAX_CARDS = 8;

/**
 * What a language model may see of a learner: the aggregated plan only — topic and weak-area
 * names, scores, recall, due dates, minutes. Never the userId, notes, goals or event payloads.
 */
export interface CoachingSummary {
  readonly today: string;
  readonly daysUntilInterview: number | null;
  readonly dailyMinutes: number;
  readonly cards: readonly {
    readonly name: string;
    readonly kind: 'topic' | 'weak area';
    readonly lastScore: number | null;
    readonly recallPercent: number;
    readonly masteryPercent: number;
    readonly due: string;
    readonly dueInDays: number;
    readonly trend: 'up' | 'down' | 'flat';
    readonly minutesToday: number;
  }[];
}

export function coachingSummary(plan: PracticePlan): CoachingSummary {
  const todayMinutes = new Map((plan.days[0]?.items ?? []).map((i) => [i.cardId, i.minutes]));
  return {
    today: plan.today,
    daysUntilInterview: plan.daysUntilInterview,
    dailyMinutes: plan.settings.dailyMinutes,
    cards: plan.cards.slice(0, MAX_CARDS).map((c) => ({
      name: c.label,
      kind: c.kind === 'topic' ? 'topic' : 'weak area',
      lastScore: c.lastScore,
      recallPercent: Math.round(c.recall * 100),
      masteryPercent: Math.round(c.mastery * 100),
      due: c.due,
      dueInDays: c.dueInDays,
      trend: c.trend.direction,
      minutesToday: todayMinutes.get(c.id) ?? 0,
    })),
  };
}

/** The cache key of a summary: equal summaries, equal keys, whoever asks. */
export function summaryKey(summary: CoachingSummary): string {
  return createHash('sha256').update(canonicalJson(summary)).digest('base64url');
}
