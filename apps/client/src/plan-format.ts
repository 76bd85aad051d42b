/** Display helpers of the practice plan. Pure, so they are tested without a DOM. */
import type { PlanCard, PlanItem } from '@prepmate/crdt-model';
import { topicLabel } from './format';

/** `Due today`, `Due in 3 days`, `Overdue by 2 days`. */
export function dueLabel(dueInDays: number): string {
  if (dueInDays === 0) return 'Due today';
  const n = Math.abs(dueInDays);
  const days = `${n} day${n === 1 ? '' : 's'}`;
  return dueInDays > 0 ? `Due in ${days}` : `Overdue by ${days}`;
}

/** The name a learner reads for a card or plan item: the topic's label, or the weak area as typed. */
export function planItemName(item: Pick<PlanCard | PlanItem, 'kind' | 'label'>): string {
  return item.kind === 'topic' ? topicLabel(item.label) : item.label;
}

/** A plan day `YYYY-MM-DD` (UTC) as `Mon, 8 Dec` in the learner's locale. */
export function planDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? date : d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' });
}
