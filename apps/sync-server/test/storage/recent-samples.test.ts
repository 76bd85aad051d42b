import { describe, expect, it } from 'vitest';
import type { RecentEventsPage, Store, TelemetryEventRecord } from '../../src/storage/ports.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { createMongoStore } from '../../src/storage/mongo/index.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';
import { createRecentSamples, type RecentSamplesLimits } from '../../src/telemetry/recent-samples.js';
import { EVENTS_PER_LEARNER, eventSamples } from '../../src/telemetry/samples.js';
import { mulberry32 } from '../helpers/random.js';
import { describeWithService, mongoUriForTests, tempSqliteDir } from '../helpers/stores.js';

const base = Date.parse('2026-03-01T12:00:00.000Z');

/** The store, counting how `recentEvents` answered (so a test knows the incremental path ran). */
function counting(store: Store): { store: Pick<Store, 'telemetry'>; answers: { incremental: number; complete: number } } {
  const answers = { incremental: 0, complete: 0 };
  const telemetry: Store['telemetry'] = {
    ...store.telemetry,
    insertEvents: (e) => store.telemetry.insertEvents(e),
    listEvents: (u, q) => store.telemetry.listEvents(u, q),
    async recentEvents(userId, query): Promise<RecentEventsPage> {
      const page = await store.telemetry.recentEvents(userId, query);
      answers[page.incremental ? 'incremental' : 'complete'] += 1;
      return page;
    },
  };
  return { store: { telemetry }, answers };
}

/** What a refresh computed before samples were kept: a complete read of the 200 most recent events. */
async function completeRead(store: Store, userId: string) {
  return eventSamples((await store.telemetry.listEvents(userId, { limit: EVENTS_PER_LEARNER })).events);
}

interface Scenario {
  readonly store: Store;
  readonly steps: number;
  readonly seed: number;
  readonly limits?: RecentSamplesLimits;
}

/**
 * Random telemetry for alice (and bob): batches with times in and out of order (late client
 * batches older than anything seen, ties on the receive time), scored and unscored events,
 * repeats, retention, erasure with and without `forget` (another instance erasing). Two
 * RecentSamples over the one store stand for two instances. After every step each must answer
 * what a complete read gives.
 */
async function runScenario({ store, steps, seed, limits }: Scenario): Promise<{ incremental: number; complete: number }> {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const a = counting(store);
  const b = counting(store);
  const instances = [createRecentSamples(a.store, limits), createRecentSamples(b.store, limits)];
  let n = 0;
  let clock = 0;
  const event = (userId: string): TelemetryEventRecord => {
    n += 1;
    // Mostly now, sometimes far back (a device that was offline), sometimes the same ms as the last one.
    const r = random();
    const createdAt = new Date(base + (r < 0.15 ? clock - Math.floor(random() * 500_000) : r < 0.3 ? clock : (clock += Math.floor(random() * 3_000))));
    const scored = random() < 0.6;
    const eventData: Record<string, unknown> = scored
      ? { score: Math.floor(random() * 101), ...(random() < 0.5 ? { topicId: pick(['algebra', 'graphs', 'dp']) } : {}), ...(random() < 0.3 ? { weakAreas: [pick(['recursion', 'proofs']), ' '] } : {}) }
      : { page: 'home' };
    return {
      userId,
      eventType: pick(['interview_completed', 'quiz_completed', 'page_view']),
      eventData,
      metadata: {
        eventId: `e${n}`,
        clientTimestamp: new Date(createdAt.getTime() - Math.floor(random() * 10_000)),
        serverTimestamp: createdAt,
        ...(random() < 0.5 ? { correctedTimestamp: new Date(createdAt.getTime() - Math.floor(random() * 1_000_000)) } : {}),
      },
      status: 'completed',
      retryCount: 0,
      batchId: null,
      createdAt,
      updatedAt: createdAt,
    };
  };
  const stored: TelemetryEventRecord[] = [];
  for (let step = 0; step < steps; step++) {
    const r = random();
    if (r < 0.55) {
      const batch = Array.from({ length: 1 + Math.floor(random() * 60) }, () => event('alice'));
      // Repeats of stored events: refused by the unique index, so they change nothing.
      if (stored.length > 0 && random() < 0.3) batch.push(pick(stored));
      await store.telemetry.insertEvents(batch);
      stored.push(...batch);
    } else if (r < 0.75) {
      await store.telemetry.insertEvents(Array.from({ length: 1 + Math.floor(random() * 20) }, () => event('bob')));
    } else if (r < 0.8) {
      await store.telemetry.deleteEventsOlderThan(new Date(base + clock - Math.floor(random() * 400_000)));
    } else if (r < 0.83) {
      await store.telemetry.deleteUserEvents(pick(['alice', 'bob']));
      // Erased here (forget) or on another instance (nothing told): both must come out right.
      if (random() < 0.5) for (const i of instances) i.forget('alice');
    }
    const expected = await completeRead(store, 'alice');
    for (const i of instances) if (random() < 0.7) expect(await i.read('alice')).toEqual(expected);
  }
  return { incremental: a.answers.incremental + b.answers.incremental, complete: a.answers.complete + b.answers.complete };
}

function suite(name: string, open: () => Promise<{ store: Store; close(): Promise<void> }>, incrementalStore: boolean, steps = 120): void {
  describe(`recent samples on the ${name} store`, () => {
    it('when events arrive in and out of time order, are repeated, retained away and erased, then every read equals a complete read of the 200 most recent events', async () => {
      const { store, close } = await open();
      try {
        const answers = await runScenario({ store, steps, seed: 20261203 });
        // The incremental path must have run (and been checked) where the store offers it.
        if (incrementalStore) expect(answers.incremental).toBeGreaterThan(steps / 2);
        else expect(answers.incremental).toBe(0);
      } finally {
        await close();
      }
    }, 120_000);

    it('when a learner was erased, then what was kept of them is gone and the next read finds nothing', async () => {
      const { store, close } = await open();
      try {
        const { store: counted, answers } = counting(store);
        const samples = createRecentSamples(counted);
        const scored = (eventId: string, at: number): TelemetryEventRecord => ({
          userId: 'carol',
          eventType: 'quiz_completed',
          eventData: { score: 70 },
          metadata: { eventId, clientTimestamp: null, serverTimestamp: new Date(base + at) },
          status: 'completed',
          retryCount: 0,
          batchId: null,
          createdAt: new Date(base + at),
          updatedAt: new Date(base + at),
        });
        await store.telemetry.insertEvents([scored('c1', 0), scored('c2', 1)]);
        expect(await samples.read('carol')).toHaveLength(2);
        await store.telemetry.deleteUserEvents('carol');
        samples.forget('carol');
        await store.telemetry.insertEvents([scored('c3', 2)]);
        expect((await samples.read('carol')).map((s) => s.assessmentId)).toEqual(['c3']);
        expect(answers.incremental).toBe(0);
      } finally {
        await close();
      }
    });
  });
}

async function sqlite(): Promise<{ store: Store; close(): Promise<void> }> {
  const tmp = await tempSqliteDir();
  const store = await createSqliteStore({ dir: tmp.dir });
  return {
    store,
    close: async () => {
      await store.close();
      await tmp.remove();
    },
  };
}

suite('SQLite', sqlite, true);
suite('memory', async () => {
  const store = createMemoryStore();
  return { store, close: () => store.close() };
}, true);

describeWithService(
  'recent samples on the MongoDB store',
  { env: 'MONGODB_URI', value: mongoUriForTests(), hint: 'Start FerretDB with `node scripts/test-services.mjs up` and export the printed MONGODB_URI.' },
  () => {
    suite('MongoDB', async () => {
      const store = await createMongoStore({ uri: mongoUriForTests() as string });
      return { store, close: () => store.close() };
      // Fewer steps: every read there is complete, and FerretDB answers slowly.
    }, false, 40);
  },
);

describe('recent samples: bounds', () => {
  it('when more learners are kept than allowed, or one learner is too large, then those are read completely and every answer still equals a complete read', async () => {
    const { store, close } = await sqlite();
    try {
      const { store: counted, answers } = counting(store);
      const samples = createRecentSamples(counted, { maxLearners: 2, maxLearnerBytes: 40_000 });
      const ev = (userId: string, i: number, weakAreas: string[] = []): TelemetryEventRecord => ({
        userId,
        eventType: 'quiz_completed',
        eventData: { score: i % 100, ...(weakAreas.length > 0 ? { weakAreas } : {}) },
        metadata: { eventId: `${userId}-${i}`, clientTimestamp: null, serverTimestamp: new Date(base + i) },
        status: 'completed',
        retryCount: 0,
        batchId: null,
        createdAt: new Date(base + i),
        updatedAt: new Date(base + i),
      });
      for (const u of ['u1', 'u2', 'u3']) await store.telemetry.insertEvents([ev(u, 1)]);
      // Large weak areas: 3 events of 32 × 1 000 characters are above 40 000 estimated bytes.
      await store.telemetry.insertEvents([1, 2, 3].map((i) => ev('big', i, Array.from({ length: 32 }, (_, k) => `${k}`.padEnd(1_000, 'x')))));
      for (const u of ['u1', 'u2', 'u3', 'big']) expect(await samples.read(u)).toEqual(await completeRead(store, u));
      expect(answers.incremental).toBe(0);
      // u2 and u3 are kept (incremental); u1 was dropped as the least recently read of three when
      // two are kept, and big was never kept (both complete).
      for (const u of ['u2', 'u3', 'u1', 'big']) expect(await samples.read(u)).toEqual(await completeRead(store, u));
      expect(answers).toEqual({ incremental: 2, complete: 6 });
    } finally {
      await close();
    }
  });
});
