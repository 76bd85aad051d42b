/**
 * One randomized convergence suite for every engine (like Yjs' TestConnector and
 * automerge-repo's shared adapter suites): 2–5 replicas apply random operations while a
 * simulated network delivers their updates out of order, duplicated, late, across partitions
 * and through state-vector syncs; when the network heals and drains, every replica must hold the
 * same encoded state, the same JSON and the same derived values, and nothing written is lost.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import {
  canonicalJson,
  type AssessmentCorrection,
  type ConflictField,
  type LearnerModelEngine,
  type LearnerReplica,
  type TopicField,
  type TopicPatch,
  type TopicStatus,
} from '../src/index.js';
import { mulberry32 } from '../src/testing/index.js';

const TOPICS = ['t0', 't1', 't2', 't3'] as const;
const STATUSES: readonly TopicStatus[] = ['not_started', 'in_progress', 'completed'];
const WEAK = ['graphs', 'dp', 'sql', 'system-design'] as const;

type Op =
  | { readonly t: 'assess'; readonly r: number; readonly id: number }
  | { readonly t: 'topic'; readonly r: number; readonly topic: number; readonly patch: TopicPatch }
  | { readonly t: 'dismiss'; readonly r: number; readonly topic: number; readonly field: ConflictField }
  | { readonly t: 'correct'; readonly r: number; readonly id: number; readonly correction: AssessmentCorrection }
  | { readonly t: 'insights'; readonly r: number }
  | { readonly t: 'deliver'; readonly from: number; readonly to: number; readonly pick: number; readonly dup: boolean }
  | { readonly t: 'sync'; readonly a: number; readonly b: number }
  | { readonly t: 'partition'; readonly r: number };

/**
 * The content of an assessment is a function of its id: the same fact recorded on two replicas
 * (a device and the server merging a batch) is the same fact.
 */
export function assessmentFor(id: number) {
  const weak = WEAK.filter((_, i) => (id >> i) & 1);
  return {
    assessmentId: `a${id}`,
    topicId: TOPICS[id % TOPICS.length]!,
    score: (id * 37) % 101,
    completedAt: new Date(Date.UTC(2025, 0, 1 + ((id * 7) % 60), id % 24)).toISOString(),
    ...(weak.length > 0 ? { weakAreas: weak } : {}),
  };
}

const replicaIdx = fc.nat({ max: 4 });
const patchArb: fc.Arbitrary<TopicPatch> = fc.record(
  {
    name: fc.constantFrom('C++', '機械学習', 'الخوارزميات', 'Graphs 🧭'),
    status: fc.constantFrom(...STATUSES),
    archived: fc.boolean(),
    deleted: fc.boolean(),
    goal: fc.constantFrom('pass', 'ace', 'review'),
    notes: fc.constantFrom('', 'n1', 'n2', 'longer notes'),
    updatedAt: fc.integer({ min: 0, max: 50 }).map((d) => new Date(Date.UTC(2025, 1, 1 + d)).toISOString()),
  },
  { requiredKeys: [] },
);

const correctionArb: fc.Arbitrary<AssessmentCorrection> = fc.oneof(
  fc.record({ score: fc.constantFrom(0, 42, 99) }),
  fc.record({ deleted: fc.boolean() }),
  fc.record({ weakAreas: fc.constantFrom<string[] | null>(null, ['graphs'], ['dp', 'sql']) }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ t: fc.constant('dismiss' as const), r: replicaIdx, topic: fc.nat({ max: TOPICS.length - 1 }), field: fc.constantFrom<ConflictField>('goal', 'status', 'name') }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('correct' as const), r: replicaIdx, id: fc.nat({ max: 24 }), correction: correctionArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('assess' as const), r: replicaIdx, id: fc.nat({ max: 24 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('topic' as const), r: replicaIdx, topic: fc.nat({ max: TOPICS.length - 1 }), patch: patchArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('insights' as const), r: replicaIdx }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('deliver' as const), from: replicaIdx, to: replicaIdx, pick: fc.nat(), dup: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('sync' as const), a: replicaIdx, b: replicaIdx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('partition' as const), r: replicaIdx }) },
);

/** A scenario: replica count, operations, and a seed for the order of the final drain. */
export const scenarioArb = fc.record({
  replicas: fc.integer({ min: 2, max: 5 }),
  /**
   * Each replica's clock error: none, a day behind, a year ahead, or stopped (every edit in the
   * same millisecond, so counters and device ids decide).
   */
  clocks: fc.array(fc.constantFrom<Skew>(0, -86_400_000, 365 * 86_400_000, 'stopped'), { minLength: 5, maxLength: 5 }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 60 }),
  drainSeed: fc.integer(),
});
export type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

type Skew = number | 'stopped';
const START = Date.UTC(2025, 2, 1);

/** Runs one scenario and checks convergence; throws (an expect failure) on divergence. */
export function runScenario(engine: LearnerModelEngine, scenario: Scenario): void {
  const n = scenario.replicas;
  // Real time advances one second per operation; each replica reads it through its own error.
  let time = START;
  const replicas: LearnerReplica[] = Array.from({ length: n }, (_, i) => {
    const skew = scenario.clocks[i]!;
    return engine.create({ replicaId: i + 1, node: `dev${i}`, now: () => (skew === 'stopped' ? START : time + skew) });
  });
  // queues[from][to]: updates sent but not yet delivered.
  const queues: Uint8Array[][][] = replicas.map(() => replicas.map(() => []));
  const offline = new Set<number>();
  replicas.forEach((rep, from) =>
    rep.onUpdate((u) => {
      for (let to = 0; to < n; to++) if (to !== from) queues[from]![to]!.push(u);
    }),
  );
  const recorded = new Set<number>();
  // "topic/field" or "assessmentId/field" → every write [encoded stamp, value].
  const written = new Map<string, [string, unknown][]>();
  const noteWrite = (key: string, stamp: string | null, value: unknown): void => {
    expect(stamp).not.toBeNull();
    const list = written.get(key) ?? [];
    list.push([stamp!, value]);
    written.set(key, list);
  };

  try {
    for (const op of scenario.ops) {
      time += 1000;
      switch (op.t) {
        case 'assess': {
          const r = op.r % n;
          replicas[r]!.recordAssessment(assessmentFor(op.id));
          recorded.add(op.id);
          break;
        }
        case 'topic': {
          const topic = TOPICS[op.topic]!;
          const rep = replicas[op.r % n]!;
          const before = rep.getTopic(topic) ?? {};
          if (!rep.updateTopic(topic, op.patch)) break;
          // Only fields whose value changes are written (a no-op save must not win a race).
          for (const [field, value] of Object.entries(op.patch)) {
            if (value !== undefined && before[field as TopicField] !== value) noteWrite(`${topic}/${field}`, rep.lastStamp(), value);
          }
          break;
        }
        case 'dismiss':
          replicas[op.r % n]!.dismissTopicConflict(TOPICS[op.topic]!, op.field);
          break;
        case 'correct': {
          const rep = replicas[op.r % n]!;
          const id = `a${op.id}`;
          if (!rep.getRecordedAssessment(id)) break;
          if (!rep.correctAssessment(id, op.correction)) break;
          const [field, value] = Object.entries(op.correction)[0]!;
          noteWrite(`${id}/${field}`, rep.lastStamp(), value);
          break;
        }
        case 'insights':
          replicas[op.r % n]!.writeInsights();
          break;
        case 'deliver': {
          const from = op.from % n;
          const to = op.to % n;
          const queue = queues[from]![to]!;
          if (from === to || offline.has(from) || offline.has(to) || queue.length === 0) break;
          const i = op.pick % queue.length;
          const update = queue[i]!;
          // A duplicate stays queued and is delivered again later.
          if (!op.dup) queue.splice(i, 1);
          replicas[to]!.applyUpdate(update);
          break;
        }
        case 'sync': {
          const a = op.a % n;
          const b = op.b % n;
          if (a === b || offline.has(a) || offline.has(b)) break;
          replicas[b]!.applyUpdate(replicas[a]!.encodeDiff(replicas[b]!.syncState()));
          replicas[a]!.applyUpdate(replicas[b]!.encodeDiff(replicas[a]!.syncState()));
          break;
        }
        case 'partition': {
          const r = op.r % n;
          if (offline.has(r)) offline.delete(r);
          else offline.add(r);
          break;
        }
      }
    }

    // Heal and drain every queue in a seeded random order (late delivery of everything left).
    const random = mulberry32(scenario.drainSeed);
    const pending: [number, Uint8Array][] = [];
    queues.forEach((row) => row.forEach((queue, to) => queue.forEach((u) => pending.push([to, u]))));
    for (let i = pending.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pending[i], pending[j]] = [pending[j]!, pending[i]!];
    }
    for (const [to, update] of pending) replicas[to]!.applyUpdate(update);

    const first = replicas[0]!;
    const json = canonicalJson(first.toJSON());
    const derived = canonicalJson(first.derive());
    for (const rep of replicas.slice(1)) {
      expect(rep.fingerprint()).toBe(first.fingerprint());
      expect(canonicalJson(rep.toJSON())).toBe(json);
      expect(canonicalJson(rep.derive())).toBe(derived);
    }

    // Every field holds the write with the highest stamp (the time of the edit, hybrid-logical),
    // whichever replica made it and whatever order updates arrived in.
    const latest = (key: string): unknown => {
      const writes = written.get(key);
      if (!writes) return undefined;
      return writes.reduce((a, b) => (b[0] > a[0] ? b : a))[1];
    };
    const facts = first.facts();
    for (const topic of TOPICS) {
      const state = first.getTopic(topic);
      for (const field of ['name', 'status', 'goal', 'notes', 'archived', 'deleted', 'updatedAt'] as const) {
        const expected = latest(`${topic}/${field}`);
        if (expected !== undefined) expect(state?.[field], `${topic}/${field}`).toEqual(expected);
      }
    }
    // Every fact is kept; the derived facts are the corrected sessions of topics not deleted.
    for (const id of recorded) {
      const aid = `a${id}`;
      const fact = assessmentFor(id);
      expect(first.getRecordedAssessment(aid)).toEqual(fact);
      const deleted = latest(`${aid}/deleted`) === true;
      expect(first.isAssessmentDeleted(aid)).toBe(deleted);
      const score = latest(`${aid}/score`) as number | undefined;
      const weak = latest(`${aid}/weakAreas`) as string[] | null | undefined;
      const { weakAreas: _w, ...rest } = fact;
      const corrected = { ...rest, ...(score !== undefined ? { score } : {}), ...(weak === undefined ? (_w ? { weakAreas: _w } : {}) : weak === null ? {} : { weakAreas: weak }) };
      const topicDeleted = first.getTopic(fact.topicId)?.deleted === true;
      expect(facts.assessments[aid]).toEqual(deleted || topicDeleted ? undefined : corrected);
    }
    expect(Object.keys(facts.assessments).every((k) => recorded.has(Number(k.slice(1))))).toBe(true);
  } finally {
    for (const rep of replicas) rep.destroy();
  }
}

/** Property-checks `engine` over `numRuns` scenarios with a fixed seed. */
export function checkConvergence(engine: LearnerModelEngine, numRuns: number, seed: number): void {
  fc.assert(
    fc.property(scenarioArb, (scenario) => runScenario(engine, scenario)),
    { numRuns, seed },
  );
}
