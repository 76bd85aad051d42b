/**
 * The practice plan's timings in Node, printed as bench lines next to the derived values (see
 * plan-measure.ts for what is measured); returns the plan's canonical JSON so the caller can check
 * that engines agree on it.
 */
import { loadavg } from 'node:os';
import type { LearnerFacts } from '../src/index.js';
import { measurePlan } from './plan-measure.js';

export interface BenchLine {
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
}

const round = (x: number): number => Math.round(x * 100) / 100;

export function benchPlan(facts: LearnerFacts, print: (line: BenchLine, extra: Record<string, unknown>) => void): string {
  const m = measurePlan(facts, undefined, () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  });
  const load = round(loadavg()[0]!);
  print(
    { metric: 'planFull', value: m.full.median, unit: 'ms' },
    { max: m.full.max, cpuMedian: m.fullCpu?.median, cpuMax: m.fullCpu?.max, runs: m.runs, cards: m.cards, budgetMs: 50, loadAverage1m: load, cpuNote: 'process CPU time of the same runs (all threads, GC included), which does not grow while waiting for a core', note: 'computePlan from the facts: replay every assessment through FSRS, rank, plan each day to the interview' },
  );
  print(
    { metric: 'planIncremental', value: m.incremental.median, unit: 'ms' },
    {
      max: m.incremental.max,
      lateArrivalMedian: m.lateArrival.median,
      lateArrivalMax: m.lateArrival.max,
      runs: m.runs,
      budgetMs: 16,
      loadAverage1m: load,
      note: 'one new assessment on a warm PlanModel; lateArrival = one dated months back, which re-replays its topic',
    },
  );
  return m.plan;
}
