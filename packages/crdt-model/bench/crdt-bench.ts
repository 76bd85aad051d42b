/**
 * Yjs vs Automerge on a learner's year (engine choice, docs/crdt-model.md): 20 000 assessments over 200 topics (plus one
 * topic edit per 10 assessments) made on 2 devices. The first 90 % of the edits are made online
 * (each update applied to the other device as it happens); the last 10 % are made while both
 * devices are offline, so the replicas diverge and are then merged by exchanging state-vector
 * (Yjs) / heads (Automerge) diffs. Fixed seed; one JSON line per measurement; the run fails if
 * the devices do not converge or the two engines disagree on the derived values or the practice
 * plan (whose timings, full and incremental, come from plan-bench.ts).
 *
 * Automerge at the full size took more than 6 minutes on the 2-core CI machine (per-change cost
 * grows with the document), so by default the full year runs on Yjs only and both engines are
 * compared, and checked against each other, at BENCH_COMPARE_ASSESSMENTS (5 000).
 *
 *   npm run bench -w packages/crdt-model                  # Yjs 20 000 + both engines at 5 000
 *   BENCH_AUTOMERGE_FULL=1 npm run bench -w ...           # also Automerge at 20 000 (slow)
 *   BENCH_ASSESSMENTS=2000 BENCH_COMPARE_ASSESSMENTS=500  # quick look
 */
import { canonicalJson, yjsEngine, type LearnerFacts, type LearnerModelEngine, type LearnerReplica, type TopicPatch } from '../src/index.js';
import { mulberry32 } from '../src/testing/index.js';
import { benchPlan } from './plan-bench.js';
import { benchPlanInChromium } from './plan-browser.js';
import { automergeEngine } from '../src/automerge/index.js';

const SEED = 0x5eed;
const FULL = Number(process.env['BENCH_ASSESSMENTS'] ?? 20_000);
const COMPARE = Number(process.env['BENCH_COMPARE_ASSESSMENTS'] ?? 5_000);
const AUTOMERGE_FULL = process.env['BENCH_AUTOMERGE_FULL'] === '1';
const TOPICS = 200;
const OFFLINE_SHARE = 0.1;
const STATUSES = ['not_started', 'in_progress', 'completed'] as const;
const AREAS = ['recursion', 'graphs', 'dp', 'sql-joins', 'concurrency', 'big-o', 'system-design', 'behavioural'];

type Edit =
  | { readonly device: 0 | 1; readonly kind: 'assessment'; readonly data: Parameters<LearnerReplica['recordAssessment']>[0] }
  | { readonly device: 0 | 1; readonly kind: 'topic'; readonly topicId: string; readonly patch: TopicPatch };

/** The workload, generated once so both engines apply exactly the same edits. */
function workload(assessments: number): Edit[] {
  const random = mulberry32(SEED);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const start = Date.UTC(2025, 0, 1);
  const yearMs = 365 * 86_400_000;
  const edits: Edit[] = [];
  for (let i = 0; i < assessments; i++) {
    const device = random() < 0.5 ? 0 : 1;
    const topic = Math.floor(random() * TOPICS);
    const questions = 5 + Math.floor(random() * 16);
    const correct = Math.floor(random() * (questions + 1));
    const weak = random() < 0.4 ? [pick(AREAS), pick(AREAS)] : undefined;
    edits.push({
      device,
      kind: 'assessment',
      data: {
        assessmentId: `asm_${i.toString(36).padStart(6, '0')}`,
        topicId: `topic_${topic}`,
        kind: pick(['quiz', 'mock_interview', 'coding']),
        score: Math.round((correct / questions) * 100),
        durationSec: 60 + Math.floor(random() * 3600),
        questionsAttempted: questions,
        correctAnswers: correct,
        ...(weak ? { weakAreas: [...new Set(weak)] } : {}),
        completedAt: new Date(start + Math.floor((i / assessments) * yearMs)).toISOString(),
      },
    });
    if (i % 10 === 9) {
      edits.push({
        device: random() < 0.5 ? 0 : 1,
        kind: 'topic',
        topicId: `topic_${Math.floor(random() * TOPICS)}`,
        patch: {
          status: pick(STATUSES),
          ...(random() < 0.3 ? { goal: `score ${60 + Math.floor(random() * 40)}+` } : {}),
          ...(random() < 0.2 ? { notes: `note ${i}` } : {}),
          updatedAt: new Date(start + Math.floor((i / assessments) * yearMs)).toISOString(),
        },
      });
    }
  }
  return edits;
}

interface Line {
  readonly engine: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
}

function print(line: Line, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench: 'learner-year', ...line, ...context, ...extra }));
}

/** Fields every line of the current run carries. */
let context: Record<string, unknown> = {};

const gc = (): void => {
  (globalThis as { gc?: () => void }).gc?.();
};

function run(engine: LearnerModelEngine, assessments: number, edits: readonly Edit[], note?: string): { derived: string; json: string; plan: string; facts: LearnerFacts } {
  context = { seed: SEED, assessments, topics: TOPICS, devices: 2, offlineShare: OFFLINE_SHARE, ...(note ? { sizeNote: note } : {}) };
  const devices = [engine.create({ replicaId: 1 }), engine.create({ replicaId: 2 })] as const;
  const onlineUntil = Math.floor(edits.length * (1 - OFFLINE_SHARE));
  let online = true;
  devices.forEach((device, i) =>
    device.onUpdate((update) => {
      if (online) devices[1 - i]!.applyUpdate(update);
    }),
  );

  const apply = (from: number, to: number): number => {
    const t0 = performance.now();
    for (let i = from; i < to; i++) {
      const edit = edits[i]!;
      const device = devices[edit.device];
      if (edit.kind === 'assessment') device.recordAssessment(edit.data);
      else device.updateTopic(edit.topicId, edit.patch);
    }
    return performance.now() - t0;
  };
  const onlineMs = apply(0, onlineUntil);
  online = false;
  const offlineMs = apply(onlineUntil, edits.length);
  print({ engine: engine.name, metric: 'applyEdits', value: round(onlineMs + offlineMs), unit: 'ms' }, { edits: edits.length, onlineMs: round(onlineMs), offlineMs: round(offlineMs), note: 'includes applying each online update on the other device' });

  const [a, b] = devices;
  const t0 = performance.now();
  const toB = a.encodeDiff(b.syncState());
  const toA = b.encodeDiff(a.syncState());
  b.applyUpdate(toB);
  a.applyUpdate(toA);
  const mergeMs = performance.now() - t0;
  if (a.fingerprint() !== b.fingerprint()) throw new Error(`${engine.name}: devices did not converge`);
  print({ engine: engine.name, metric: 'mergeDiverged', value: round(mergeMs), unit: 'ms' }, { divergedEdits: edits.length - onlineUntil, diffBytes: toA.byteLength + toB.byteLength });

  a.writeInsights();
  const bytes = a.save();
  print({ engine: engine.name, metric: 'encodedSize', value: bytes.byteLength, unit: 'bytes' });
  const derived = canonicalJson(a.derive());
  const json = canonicalJson(a.toJSON());
  const facts = a.facts();
  for (const d of devices) d.destroy();

  gc();
  const plan = benchPlan(facts, (line, extra) => print({ engine: engine.name, ...line }, extra));
  gc();
  const heapBefore = process.memoryUsage();
  const t1 = performance.now();
  const loaded = engine.load(bytes, { replicaId: 3 });
  const loadMs = performance.now() - t1;
  const t2 = performance.now();
  const loadedJson = canonicalJson(loaded.toJSON());
  const readMs = performance.now() - t2;
  gc();
  const heapAfter = process.memoryUsage();
  if (loadedJson !== json) throw new Error(`${engine.name}: the loaded document differs`);
  print({ engine: engine.name, metric: 'loadFromBytes', value: round(loadMs), unit: 'ms' }, { toJSONMs: round(readMs) });
  print(
    { engine: engine.name, metric: 'heapUsed', value: heapAfter.heapUsed - heapBefore.heapUsed, unit: 'bytes' },
    {
      rssDelta: heapAfter.rss - heapBefore.rss,
      externalDelta: heapAfter.external - heapBefore.external,
      note: 'loaded document retained, after gc; Automerge keeps its document in WASM memory (rss/external), not the JS heap',
    },
  );
  loaded.destroy();
  return { derived, json, plan, facts };
}

const round = (x: number): number => Math.round(x * 10) / 10;

const fullEdits = workload(FULL);
const year = run(yjsEngine, FULL, fullEdits, 'full size, Yjs');
// The same plan timed in Chromium, which must compute the very same plan as Node.
const chromiumAgrees = await benchPlanInChromium(year.facts, year.plan, (line, extra) => print({ engine: 'chromium', ...line }, extra));
if (chromiumAgrees === false) process.exitCode = 1;
if (AUTOMERGE_FULL) run(automergeEngine, FULL, fullEdits, 'full size, Automerge');
const compareEdits = workload(COMPARE);
const note = AUTOMERGE_FULL ? 'comparison size' : `comparison size: Automerge at ${FULL} took > 6 min here, so both engines are compared at ${COMPARE}`;
const results = [yjsEngine, automergeEngine].map((engine) => ({ engine: engine.name, ...run(engine, COMPARE, compareEdits, note) }));
const same = results.every((r) => r.derived === results[0]!.derived && r.json === results[0]!.json && r.plan === results[0]!.plan);
console.log(JSON.stringify({ bench: 'learner-year', metric: 'enginesAgree', value: same, engines: results.map((r) => r.engine), assessments: COMPARE, seed: SEED }));
if (!same) process.exitCode = 1;
