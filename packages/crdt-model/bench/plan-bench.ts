/**
 * Timings of the practice plan on a learner's facts: the whole plan from scratch (what the server
 * and a freshly opened app compute), and one more assessment on a warm {@link PlanModel} (what the
 * app does when the learner logs one). Median and max of a few runs after a warm-up; the plan's
 * canonical JSON is returned so the caller can check that the engines agree on it.
 */
import { loadavg } from 'node:os';
import { PlanModel, canonicalJson, computePlan, type Assessment, type LearnerFacts, type PlanOptions } from '../src/index.js';

const RUNS = 9;
const WARMUP = 5;
/** The day after the workload's year, with an interview five weeks later. */
const OPTIONS: PlanOptions = { now: '2026-01-02T09:00:00.000Z', settings: { interviewDate: '2026-02-06', dailyMinutes: 45 } };

interface Line {
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
}

const round = (x: number): number => Math.round(x * 100) / 100;

function stats(samples: number[]): { median: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: round(sorted[sorted.length >> 1]!), max: round(sorted.at(-1)!) };
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

export function benchPlan(facts: LearnerFacts, print: (line: Line, extra: Record<string, unknown>) => void): string {
  let plan = '';
  const full: number[] = [];
  for (let i = 0; i < RUNS + WARMUP; i++) {
    const ms = time(() => {
      plan = canonicalJson(computePlan(facts, OPTIONS));
    });
    if (i >= WARMUP) full.push(ms);
  }
  const f = stats(full);
  const cards = (JSON.parse(plan) as { cards: unknown[] }).cards.length;
  print({ metric: 'planFull', value: f.median, unit: 'ms' }, { max: f.max, runs: RUNS, cards, budgetMs: 50, loadAverage1m: round(loadavg()[0]!), note: 'computePlan from the facts: replay every assessment through FSRS, rank, plan each day to the interview' });

  const model = new PlanModel();
  model.setFacts(facts);
  model.plan(OPTIONS);
  const topics = Object.keys(facts.topics);
  const appended: number[] = [];
  const late: number[] = [];
  for (let i = 0; i < RUNS + WARMUP; i++) {
    const topicId = topics[i % topics.length] ?? 'topic_0';
    const next: Assessment = { assessmentId: `bench_new_${i}`, topicId, score: 40 + i * 7, weakAreas: ['dp'], completedAt: `2026-01-01T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00.000Z` };
    const old: Assessment = { assessmentId: `bench_old_${i}`, topicId, score: 65, completedAt: '2025-03-01T12:00:00.000Z' };
    const a = time(() => {
      model.addAssessments([next]);
      model.plan(OPTIONS);
    });
    const b = time(() => {
      model.addAssessments([old]);
      model.plan(OPTIONS);
    });
    if (i >= WARMUP) {
      appended.push(a);
      late.push(b);
    }
  }
  const inc = stats(appended);
  const lateStats = stats(late);
  print(
    { metric: 'planIncremental', value: inc.median, unit: 'ms' },
    { max: inc.max, lateArrivalMedian: lateStats.median, lateArrivalMax: lateStats.max, runs: RUNS, budgetMs: 16, loadAverage1m: round(loadavg()[0]!), note: 'one new assessment on a warm PlanModel; lateArrival = one dated months back, which re-replays its topic' },
  );
  return plan;
}
