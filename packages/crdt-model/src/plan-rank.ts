/**
 * How the practice plan ranks and explains a card: the priority formula and the plain-language
 * reason. Pure functions of a card's numbers (see docs/crdt-model.md, "Practice plan").
 */
import type { PlanCard, PlanConfig } from './plan-types.js';

/** A card before it is ranked and explained. */
export type CardBase = Omit<PlanCard, 'priority' | 'reason' | 'detail'>;

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** The first number in a goal ("score 80+" → 80), as a target score, if it is one. */
function goalTarget(goal: string | undefined): number | null {
  const match = goal ? /\d{1,3}/.exec(goal) : null;
  if (!match) return null;
  const n = Number(match[0]);
  return n >= 1 && n <= 100 ? n : null;
}

/**
 * Priority, higher first:
 * `statusFactor × kindFactor × (wf·(1 − recall) + ww·(1 − mastery) + wo·min(overdueDays, 30)/30
 *  + wd·min(decline, 50)/50) + goal terms`. A card never assessed counts recall and mastery as ½.
 * The goal terms apply to topics not completed: `goal` when a goal is set, `goalBelowTarget`
 * when the goal names a score the last assessment did not reach.
 */
export function cardPriority(card: CardBase, c: PlanConfig): number {
  const w = c.weights;
  const assessed = card.reviews > 0;
  const forgetting = assessed ? 1 - card.recall : 0.5;
  const weakness = assessed ? 1 - card.mastery : 0.5;
  const overdue = Math.min(Math.max(0, -card.dueInDays), 30) / 30;
  const decline = card.trend.direction === 'down' ? Math.min(-card.trend.delta, 50) / 50 : 0;
  const factor = (card.status ? c.statusFactor[card.status] : 1) * (card.kind === 'weakArea' ? c.weakAreaFactor : 1);
  let p = factor * (w.forgetting * forgetting + w.weakness * weakness + w.overdue * overdue + w.decline * decline);
  if (card.status !== 'completed' && card.goal) {
    p += w.goal;
    const target = goalTarget(card.goal);
    if (target !== null && (card.lastScore === null || card.lastScore < target)) p += w.goalBelowTarget;
  }
  return round4(p);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The plain-language reason of a card: `${name}: ${detail}`. */
export function reasonFor(card: CardBase): string {
  const { name, detail } = explain(card);
  return `${name}: ${detail}`;
}

export function explain(card: CardBase): { name: string; detail: string } {
  const name = card.kind === 'weakArea' ? `${card.label} (weak area in ${plural(card.reviews, 'assessment')})` : card.label;
  const parts: string[] = [];
  if (card.reviews === 0) {
    parts.push('not assessed yet');
  } else {
    parts.push(`last scored ${card.lastScore}`, `recall now ~${Math.round(card.recall * 100)} %`);
    const d = card.dueInDays;
    parts.push(d < 0 ? `due ${plural(-d, 'day')} ago` : d === 0 ? 'due today' : `due in ${plural(d, 'day')}`);
    if (card.trend.direction === 'down') parts.push(`scores down ${Math.round(-card.trend.delta)} points`);
  }
  if (card.status === 'in_progress') parts.push('in progress');
  if (card.status === 'completed') parts.push('marked completed');
  if (card.goal && card.status !== 'completed') parts.push(`goal: ${card.goal}`);
  return { name, detail: parts.join(', ') };
}
