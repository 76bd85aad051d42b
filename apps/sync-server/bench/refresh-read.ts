/**
 * Not part of `npm run bench` (run it alone: `node --conditions=@prepmate/source --import tsx
 * bench/refresh-read.ts`): what the insights refresh's read of a learner's recent events costs,
 * complete (the 200 most recent events read and turned into samples, as before the refresh kept
 * them) against kept (`createRecentSamples`: only the events stored since the last refresh).
 * One SQLite store, BENCH_REFRESH_LEARNERS learners with BENCH_REFRESH_STORED events each (two
 * thirds scored); then BENCH_REFRESH_ROUNDS rounds, each storing BENCH_REFRESH_NEW new events
 * per learner and reading every learner both ways, in alternating order. Both ways are checked
 * to give the same samples. One JSON line per way: mean µs per read, median over rounds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createSqliteStore } from '../src/storage/index.js';
import type { TelemetryEventRecord } from '../src/storage/ports.js';
import { createRecentSamples } from '../src/telemetry/recent-samples.js';
import { EVENTS_PER_LEARNER, eventSamples } from '../src/telemetry/samples.js';

const intEnv = (name: string, fallback: number): number => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} accepts a non-negative integer`);
  return n;
};
const LEARNERS = intEnv('BENCH_REFRESH_LEARNERS', 50);
const STORED = intEnv('BENCH_REFRESH_STORED', 2_000);
const NEW = intEnv('BENCH_REFRESH_NEW', 5);
const ROUNDS = intEnv('BENCH_REFRESH_ROUNDS', 20);

let n = 0;
function event(userId: string): TelemetryEventRecord {
  n += 1;
  const at = new Date(Date.UTC(2026, 0, 1) + n * 10);
  return {
    userId,
    eventType: n % 3 === 0 ? 'topic_viewed' : 'question_answered',
    eventData: n % 3 === 0 ? { topicId: `t_${n % 40}` } : { questionId: `q_${n % 10_000}`, score: n % 101, durationMs: (n * 7919) % 120_000, correct: n % 5 !== 0 },
    metadata: { eventId: `evt_${n}`, clientTimestamp: at, serverTimestamp: at, userAgent: 'bench', ipAddress: '127.0.0.0' },
    status: 'completed',
    retryCount: 0,
    batchId: null,
    createdAt: at,
    updatedAt: at,
  };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(join(tmpdir(), 'prepmate-refresh-read-'));
const store = await createSqliteStore({ dir });
try {
  const learners = Array.from({ length: LEARNERS }, (_, i) => `learner_${i}`);
  for (const userId of learners) {
    for (let done = 0; done < STORED; done += 500) await store.telemetry.insertEvents(Array.from({ length: Math.min(500, STORED - done) }, () => event(userId)));
  }
  const kept = createRecentSamples(store);
  const complete = async (userId: string) => eventSamples((await store.telemetry.listEvents(userId, { limit: EVENTS_PER_LEARNER })).events);
  // The first kept read of each learner is complete: not timed, as a steady refresh never pays it.
  for (const userId of learners) await kept.read(userId);
  const perRead = { complete: [] as number[], kept: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const userId of learners) if (NEW > 0) await store.telemetry.insertEvents(Array.from({ length: NEW }, () => event(userId)));
    const ways = round % 2 === 0 ? (['complete', 'kept'] as const) : (['kept', 'complete'] as const);
    const answers = { complete: new Map<string, unknown>(), kept: new Map<string, unknown>() };
    for (const way of ways) {
      const started = performance.now();
      for (const userId of learners) answers[way].set(userId, way === 'kept' ? await kept.read(userId) : await complete(userId));
      perRead[way].push(((performance.now() - started) * 1000) / LEARNERS);
    }
    for (const userId of learners) if (!isDeepStrictEqual(answers.kept.get(userId), answers.complete.get(userId))) throw new Error(`kept samples differ from a complete read for ${userId}`);
  }
  for (const way of ['complete', 'kept'] as const) {
    console.log(JSON.stringify({ bench: 'refresh-read', way, learners: LEARNERS, stored: STORED, newPerRefresh: NEW, rounds: ROUNDS, usPerRead: Math.round(median(perRead[way])), min: Math.round(Math.min(...perRead[way])), max: Math.round(Math.max(...perRead[way])) }));
  }
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
