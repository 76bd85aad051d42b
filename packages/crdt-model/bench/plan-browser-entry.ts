/** Browser entry of the plan bench (bundled by plan-browser.ts): `PlanBench.run(factsJson, options)`. */
import type { LearnerFacts, PlanOptions } from '../src/index.js';
import { measurePlan } from './plan-measure.js';

export function run(factsJson: string, options: PlanOptions): { full: { median: number; max: number }; incremental: { median: number; max: number }; plan: string; userAgent: string } {
  const m = measurePlan(JSON.parse(factsJson) as LearnerFacts, options);
  return { full: m.full, incremental: m.incremental, plan: m.plan, userAgent: (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? '' };
}
