/**
 * The practice-plan measurements, shared by Node (plan-bench.ts) and Chromium
 * (plan-browser-entry.ts): no Node API here. The whole plan from scratch (what the server and a
 * freshly opened app compute), one more assessment on a warm {@link PlanModel} (what the app
 * does when the learner logs one), and one dated months back (which re-replays its card).
 * Median and max of a few runs after a warm-up.
 */
import { PlanModel, canonicalJson, computePlan, type Assessment, type LearnerFacts, type PlanOptions, type PracticePlan } from '../src/index.js';

const RUNS = 9;
const WARMUP = 5;

/** The day after the workload's year, with an interview five weeks later. */
export const BENCH_PLAN_OPTIONS = { now: '2026-01-02T09:00:00.000Z', settings: { interviewDate: '2026-02-06', dailyMinutes: 45 } } as const satisfies PlanOptions;

export interface Stats {
  readonly median: number;
  readonly max: number;
}

export interface PlanMeasurement {
  readonly runs: number;
  readonly cards: number;
  readonly full: Stats;
  /** CPU time of the same runs, when a CPU clock was given (Node): unlike wall time, it does not grow while the process waits for a core on a loaded machine. */
  readonly fullCpu: Stats | null;
  readonly incremental: Stats;
  readonly lateArrival: Stats;
  /** Canonical JSON of the plan, for comparing engines. */
  readonly plan: string;
}

const round = (x: number): number => Math.round(x * 100) / 100;

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: round(sorted[sorted.length >> 1]!), max: round(sorted.at(-1)!) };
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/**
 * @param cpuMs a CPU clock in ms (Node: `process.cpuUsage`), to also report the CPU time of the
 *   whole-plan runs; the browser has none.
 */
export function measurePlan(facts: LearnerFacts, options: PlanOptions = BENCH_PLAN_OPTIONS, cpuMs?: () => number): PlanMeasurement {
  let result: PracticePlan | null = null;
  const full: number[] = [];
  const fullCpu: number[] = [];
  for (let i = 0; i < RUNS + WARMUP; i++) {
    const cpu0 = cpuMs?.() ?? 0;
    const ms = time(() => {
      result = computePlan(facts, options);
    });
    const cpu = (cpuMs?.() ?? 0) - cpu0;
    if (i >= WARMUP) {
      full.push(ms);
      fullCpu.push(cpu);
    }
  }
  // Serialised outside the timed runs: the comparison of engines is not part of the plan.
  const computed = result as PracticePlan | null;
  const plan = canonicalJson(computed);
  const cards = computed?.cards.length ?? 0;

  const model = new PlanModel();
  model.setFacts(facts);
  model.plan(options);
  const topics = Object.keys(facts.topics);
  const appended: number[] = [];
  const late: number[] = [];
  for (let i = 0; i < RUNS + WARMUP; i++) {
    const topicId = topics[i % Math.max(1, topics.length)] ?? 'topic_0';
    const hour = String(i % 24).padStart(2, '0');
    const next: Assessment = { assessmentId: `bench_new_${i}`, topicId, score: (40 + i * 7) % 101, weakAreas: ['dp'], completedAt: `2026-01-01T${hour}:${String(i % 60).padStart(2, '0')}:00.000Z` };
    const old: Assessment = { assessmentId: `bench_old_${i}`, topicId, score: 65, completedAt: '2025-03-01T12:00:00.000Z' };
    const a = time(() => {
      model.addAssessments([next]);
      model.plan(options);
    });
    const b = time(() => {
      model.addAssessments([old]);
      model.plan(options);
    });
    if (i >= WARMUP) {
      appended.push(a);
      late.push(b);
    }
  }
  return { runs: RUNS, cards, full: stats(full), fullCpu: cpuMs ? stats(fullCpu) : null, incremental: stats(appended), lateArrival: stats(late), plan };
}
