import fc from 'fast-check';
import { FSRSAlgorithm, Rating, computeDecayFactor, generatorParameters, roundTo } from 'ts-fsrs';
import { describe, expect, it } from 'vitest';
import {
  PlanModel,
  canonicalJson,
  computeMastery,
  computePlan,
  computeTrend,
  isoToMs,
  ratingForScore,
  yjsEngine,
  type Assessment,
  type LearnerFacts,
  type LearnerModelEngine,
  type TopicPatch,
} from '../src/index.js';
import { automergeEngine } from '../src/automerge/index.js';
import { assessmentFor } from './convergence-suite.js';
import { lowerMedianInPlace } from '../src/median.js';
import { planScheduler, planSchedulerParameters } from '../src/plan-fsrs.js';

const day = (d: number, hour = 10): string => new Date(Date.UTC(2025, 0, 1 + d, hour)).toISOString();
const a = (id: string, topicId: string, score: number, d: number, extra: Partial<Assessment> = {}): Assessment => ({
  assessmentId: id,
  topicId,
  score,
  completedAt: day(d),
  ...extra,
});
const facts = (list: Assessment[], topics: LearnerFacts['topics'] = {}): LearnerFacts => ({
  assessments: Object.fromEntries(list.map((x) => [x.assessmentId, x])),
  topics,
});

describe('ratings', () => {
  it('when scores cross the default thresholds (50, 70, 85), then the rating steps up', () => {
    expect([0, 49, 50, 69, 70, 84, 85, 100].map((s) => ratingForScore(s))).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
  });
  it('when thresholds are configured, then they decide the rating', () => {
    expect(ratingForScore(60, { again: 65, hard: 80, good: 95 })).toBe(1);
  });
  it('when thresholds are out of order, then the plan refuses them', () => {
    expect(() => new PlanModel({ ratingThresholds: { again: 80, hard: 70, good: 90 } })).toThrow(RangeError);
  });
});

describe('plan', () => {
  it('when a topic scored low long ago, then it comes first, with a reason a learner can read', () => {
    const plan = computePlan(facts([a('1', 'sql-joins', 55, 0), a('2', 'arrays', 95, 0), a('3', 'arrays', 95, 20)]), { now: day(40) });
    expect(plan.next[0]!.label).toBe('sql-joins');
    const sql = plan.next[0]!;
    expect(sql.dueInDays).toBeLessThan(0);
    expect(sql.recall).toBeGreaterThan(0);
    expect(sql.recall).toBeLessThan(0.9);
    expect(sql.reason).toBe(`sql-joins: last scored 55, recall now ~${Math.round(sql.recall * 100)} %, due ${-sql.dueInDays} days ago`);
    expect(sql.stability).toBeGreaterThan(0);
    expect(sql.difficulty).toBeGreaterThanOrEqual(1);
    expect(sql.due).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('when scores on a topic fall, then the reason says so and it outranks a steady one', () => {
    const list = [90, 90, 90, 50, 50, 50].map((s, i) => a(`d${i}`, 'graphs', s, i));
    const steady = [70, 70, 70, 70, 70, 70].map((s, i) => a(`s${i}`, 'trees', s, i));
    const plan = computePlan(facts([...list, ...steady]), { now: day(6) });
    const graphs = plan.cards.find((c) => c.label === 'graphs')!;
    expect(graphs.reason).toContain('scores down 40 points');
    expect(plan.cards.indexOf(graphs)).toBeLessThan(plan.cards.findIndex((c) => c.label === 'trees'));
  });

  it('when an assessment names weak areas, then each is a card of its own', () => {
    const plan = computePlan(facts([a('1', 'sql', 80, 0, { weakAreas: ['joins', ' joins ', 'indexes'] })]), { now: day(1) });
    expect(plan.cards.filter((c) => c.kind === 'weakArea').map((c) => c.label).sort()).toEqual(['indexes', 'joins']);
    expect(plan.cards.find((c) => c.label === 'joins')!.reason).toMatch(/^joins \(weak area in 1 assessment\): last scored 80/);
  });

  it('when a topic has a goal above its last score, then it outranks the same topic without one', () => {
    const list = [a('1', 'x', 60, 0), a('2', 'y', 60, 0)];
    const plan = computePlan(facts(list, { x: { goal: 'score 80+', status: 'in_progress' } }), { now: day(3) });
    expect(plan.next[0]!.label).toBe('x');
    expect(plan.next[0]!.reason).toContain('goal: score 80+');
  });

  it('when a topic is completed, then it ranks below the same topic in progress', () => {
    const list = [a('1', 'x', 60, 0), a('2', 'y', 60, 0)];
    const plan = computePlan(facts(list, { x: { status: 'completed' }, y: { status: 'in_progress' } }), { now: day(3) });
    expect(plan.cards.map((c) => c.label)).toEqual(['y', 'x']);
  });

  it('when a topic has state but no assessment, then it is a card due today, not assessed yet', () => {
    const plan = computePlan(facts([], { graphs: { status: 'not_started' } }), { now: day(0) });
    expect(plan.cards).toHaveLength(1);
    expect(plan.cards[0]).toMatchObject({ label: 'graphs', reviews: 0, recall: 0, dueInDays: 0, reason: 'graphs: not assessed yet' });
  });

  it('when no interview date is set, then the plan has one day of the default 30 minutes', () => {
    const plan = computePlan(facts([a('1', 'x', 40, 0), a('2', 'y', 40, 0), a('3', 'z', 40, 0)]), { now: day(5) });
    expect(plan.days).toHaveLength(1);
    expect(plan.days[0]!.date).toBe('2025-01-06');
    expect(plan.days[0]!.minutes).toBeLessThanOrEqual(30);
    expect(plan.days[0]!.items.map((i) => i.label)).toEqual(['x', 'y']);
    expect(plan.days[0]!.items[0]!.reason).toBe(plan.cards[0]!.reason);
  });

  it('when an interview date and daily minutes are set, then there is a plan for each day up to it within the minutes', () => {
    const list = Array.from({ length: 12 }, (_, i) => a(`a${i}`, `t${i % 6}`, 30 + i * 5, i % 4, { durationSec: 600 }));
    const plan = computePlan(facts(list), { now: day(10), settings: { interviewDate: '2025-01-21', dailyMinutes: 25 } });
    expect(plan.daysUntilInterview).toBe(10);
    expect(plan.days.map((d) => d.date)).toEqual(Array.from({ length: 11 }, (_, i) => day(10 + i).slice(0, 10)));
    for (const d of plan.days) {
      expect(d.minutes).toBeLessThanOrEqual(25);
      expect(d.items.length).toBeGreaterThan(0);
      expect(new Set(d.items.map((i) => i.cardId)).size).toBe(d.items.length);
    }
    expect(plan.days[0]!.items.every((i) => i.minutes === 10)).toBe(true);
  });

  it('when the interview date has passed, then it is ignored', () => {
    const plan = computePlan(facts([a('1', 'x', 40, 0)]), { now: day(10), settings: { interviewDate: '2025-01-02' } });
    expect(plan.daysUntilInterview).toBeNull();
    expect(plan.settings.interviewDate).toBeNull();
    expect(plan.days).toHaveLength(1);
  });

  it('when the time moves within one UTC day, then the plan is the same', () => {
    const f = facts([a('1', 'x', 40, 0), a('2', 'y', 70, 2)]);
    expect(canonicalJson(computePlan(f, { now: day(9, 0) }))).toBe(canonicalJson(computePlan(f, { now: day(9, 23) })));
  });

  it('when outputs are produced, then they are rounded (2 decimals for FSRS state and recall)', () => {
    const plan = computePlan(facts(Array.from({ length: 30 }, (_, i) => a(`r${i}`, `t${i % 3}`, (i * 37) % 101, i))), { now: day(45) });
    for (const c of plan.cards) {
      for (const v of [c.stability, c.difficulty, c.recall]) expect(Math.round(v * 100) / 100).toBe(v);
      expect(Math.round(c.priority * 10_000) / 10_000).toBe(c.priority);
    }
  });
});

describe('plan inputs', () => {
  it('when recall is computed with the curve constants computed once, then it equals ts-fsrs forgetting_curve to the bit', () => {
    const fsrs = new FSRSAlgorithm(generatorParameters({ enable_fuzz: false, enable_short_term: false }));
    const { decay, factor } = computeDecayFactor(fsrs.parameters.w);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40_000 }), fc.double({ min: 0.001, max: 36_500, noNaN: true }), (t, s) => {
        expect(roundTo(Math.pow(1 + (factor * t) / s, decay), 8)).toBe(fsrs.forgetting_curve(t, s));
      }),
      { numRuns: 5000, seed: 6 },
    );
  });

  it('when the scheduler reads its parameters from a frozen object, then every step equals ts-fsrs to the bit', () => {
    const stock = new FSRSAlgorithm(planSchedulerParameters(0.9));
    const frozen = planScheduler(0.9);
    fc.assert(
      fc.property(
        fc.option(fc.record({ difficulty: fc.double({ min: 1, max: 10, noNaN: true }), stability: fc.double({ min: 0.01, max: 36_500, noNaN: true }) }), { nil: null }),
        fc.integer({ min: 0, max: 3000 }),
        fc.constantFrom(Rating.Again, Rating.Hard, Rating.Good, Rating.Easy),
        (memory, t, g) => {
          expect(frozen.next_state(memory, t, g)).toEqual(stock.next_state(memory, t, g));
          if (memory) expect(frozen.next_interval(memory.stability, t)).toBe(stock.next_interval(memory.stability, t));
        },
      ),
      { numRuns: 5000, seed: 8 },
    );
  });

  it('when a median is selected in place, then it is the element a sort puts in the middle', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 86_400, noNaN: true }), { minLength: 1, maxLength: 300 }), (values) => {
        const sorted = Float64Array.from(values).sort();
        expect(lowerMedianInPlace(Float64Array.from(values), values.length)).toBe(sorted[(values.length - 1) >> 1]);
      }),
      { numRuns: 2000, seed: 9 },
    );
  });

  it('when a time is read by the fast path, then it equals Date.parse', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_000_000_000_000, max: 250_000_000_000_000 }), (ms) => {
        const iso = new Date(ms).toISOString();
        expect(isoToMs(iso)).toBe(Date.parse(iso));
      }),
      { numRuns: 2000, seed: 5 },
    );
    expect(isoToMs('2025-01-01T10:00:00+02:00')).toBe(Date.parse('2025-01-01T08:00:00Z'));
  });

  it('when the plan reports mastery and trends, then they equal the derived values to the bit', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(Array.from({ length: 60 }, (_, i) => assessmentFor(i) as Assessment), { minLength: 1 }), (list) => {
        const plan = computePlan(facts(list), { now: day(90) });
        const mastery = computeMastery(list);
        for (const card of plan.cards.filter((c) => c.kind === 'topic')) {
          expect(card.mastery).toBe(mastery[card.label]);
          expect(card.trend).toEqual(computeTrend(list.filter((x) => x.topicId === card.label)));
        }
      }),
      { numRuns: 100, seed: 4 },
    );
  });
});

describe('incremental plan', () => {
  it('when assessments arrive one by one, late ones included, then the plan equals the one computed from scratch', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(Array.from({ length: 40 }, (_, i) => assessmentFor(i) as Assessment), { minLength: 1 }), fc.nat({ max: 90 }), (list, now) => {
        const model = new PlanModel();
        for (const x of list) {
          model.addAssessments([x]);
          model.plan({ now: day(now) });
        }
        const expected = canonicalJson(computePlan(facts(list), { now: day(now) }));
        expect(canonicalJson(model.plan({ now: day(now) }))).toBe(expected);
        const bulk = new PlanModel();
        bulk.addAssessments([...list].reverse());
        expect(canonicalJson(bulk.plan({ now: day(now) }))).toBe(expected);
      }),
      { numRuns: 100, seed: 3 },
    );
  });

  it('when facts are loaded in bulk and the same assessments come again, then each counts once', () => {
    const list = [a('1', 'x', 40, 0), a('2', 'x', 90, 3, { weakAreas: ['dp'] }), a('3', 'y', 60, 5)];
    const model = new PlanModel();
    model.setFacts(facts(list));
    expect(model.addAssessments([list[1]!, a('4', 'y', 80, 6)])).toEqual(['topic:y']);
    model.setFacts(facts(list));
    expect(model.assessmentCount).toBe(4);
    expect(canonicalJson(model.plan({ now: day(9) }))).toBe(canonicalJson(computePlan(facts([...list, a('4', 'y', 80, 6)]), { now: day(9) })));
  });

  it('when a record files an assessment under another key, then it still counts once', () => {
    const record = { other: a('2', 'x', 70, 1), '2': a('2', 'x', 70, 1), '3': a('3', 'x', 50, 2) };
    const model = new PlanModel();
    model.setFacts({ assessments: record, topics: {} });
    expect(model.assessmentCount).toBe(2);
    expect(canonicalJson(model.plan({ now: day(4) }))).toBe(canonicalJson(computePlan(facts([a('2', 'x', 70, 1), a('3', 'x', 50, 2)]), { now: day(4) })));
  });

  it('when one assessment is added, then only its cards are reported touched', () => {
    const model = new PlanModel();
    model.addAssessments([a('1', 'x', 50, 0), a('2', 'y', 50, 0)]);
    expect(model.addAssessments([a('3', 'x', 50, 1, { weakAreas: ['dp'] })])).toEqual(['area:dp', 'topic:x']);
    expect(model.addAssessments([a('3', 'x', 50, 1)])).toEqual([]);
  });
});

type Edit = { kind: 'assess'; id: number } | { kind: 'topic'; topic: string; patch: TopicPatch } | { kind: 'settings'; minutes: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('assess' as const), id: fc.nat({ max: 30 }) }),
  fc.record({
    kind: fc.constant('topic' as const),
    topic: fc.constantFrom('t0', 't1', 't2', 't3', 't9'),
    patch: fc.record({ status: fc.constantFrom('not_started', 'in_progress', 'completed' as const), goal: fc.constantFrom('pass', 'score 90') }, { requiredKeys: [] }),
  }),
  fc.record({ kind: fc.constant('settings' as const), minutes: fc.integer({ min: 5, max: 120 }) }),
);

/** Two replicas make edits, exchange them in any order; the plans must agree (and agree across engines). */
function planAfter(engine: LearnerModelEngine, edits: readonly Edit[], order: readonly number[]): string {
  const replicas = [engine.create({ replicaId: 11 }), engine.create({ replicaId: 12 })] as const;
  const updates: Uint8Array[] = [];
  replicas[0].onUpdate((u) => updates.push(u));
  replicas[1].onUpdate((u) => updates.push(u));
  // Registers are edited on one replica only: concurrent writes to one register are resolved by
  // each engine's own tie-break, which the engines do not share.
  edits.forEach((e, i) => {
    if (e.kind === 'assess') replicas[i % 2]!.recordAssessment(assessmentFor(e.id));
    else if (e.kind === 'topic') replicas[0].updateTopic(e.topic, e.patch);
    else replicas[0].updateSettings({ dailyMinutes: e.minutes, interviewDate: '2025-03-20' });
  });
  const reader = engine.create({ replicaId: 13 });
  const shuffled = order.map((i) => updates[i % Math.max(1, updates.length)]).filter((u): u is Uint8Array => u !== undefined);
  for (const u of [...shuffled, ...updates]) reader.applyUpdate(u);
  const json = canonicalJson(computePlan(reader.facts(), { now: '2025-03-05T12:00:00Z' }));
  for (const r of [...replicas, reader]) r.destroy();
  return json;
}

describe('plan determinism', () => {
  it('when the same facts arrive in any order, on either engine, then the plan is identical', () => {
    fc.assert(
      fc.property(fc.array(editArb, { minLength: 1, maxLength: 25 }), fc.array(fc.nat({ max: 40 }), { maxLength: 30 }), (edits, order) => {
        const inOrder = planAfter(yjsEngine, edits, []);
        expect(planAfter(yjsEngine, edits, order)).toBe(inOrder);
        expect(planAfter(yjsEngine, edits, [...order].reverse())).toBe(inOrder);
        expect(planAfter(automergeEngine, edits, order)).toBe(inOrder);
      }),
      { numRuns: 60, seed: 7 },
    );
  }, 60_000);

  it('when two replicas change the same setting concurrently, then each engine converges on one value and keeps the other setting', () => {
    for (const engine of [yjsEngine, automergeEngine] as LearnerModelEngine[]) {
      const one = engine.create({ replicaId: 31 });
      const two = engine.create({ replicaId: 32 });
      one.updateSettings({ dailyMinutes: 20 });
      two.updateSettings({ dailyMinutes: 90, interviewDate: '2025-06-01' });
      one.applyUpdate(two.encodeDiff(one.syncState()));
      two.applyUpdate(one.encodeDiff(two.syncState()));
      expect(one.getSettings(), engine.name).toEqual(two.getSettings());
      expect([20, 90], engine.name).toContain(one.getSettings().dailyMinutes);
      expect(one.getSettings().interviewDate, engine.name).toBe('2025-06-01');
      one.destroy();
      two.destroy();
    }
  });

  it('when settings are edited on a replica, then the others read them and plan with them', () => {
    const one = yjsEngine.create({ replicaId: 21 });
    const two = yjsEngine.create({ replicaId: 22 });
    one.onUpdate((u) => two.applyUpdate(u));
    one.updateSettings({ interviewDate: '2025-02-01', dailyMinutes: 45 });
    expect(two.getSettings()).toEqual({ interviewDate: '2025-02-01', dailyMinutes: 45 });
    expect(computePlan(two.facts(), { now: day(20) }).settings).toEqual({ interviewDate: '2025-02-01', dailyMinutes: 45 });
    expect(one.updateSettings({ interviewDate: null })).toBe(true);
    expect(two.getSettings()).toEqual({ dailyMinutes: 45 });
    expect(() => one.updateSettings({ dailyMinutes: 2 })).toThrow();
    one.destroy();
    two.destroy();
  });
});
