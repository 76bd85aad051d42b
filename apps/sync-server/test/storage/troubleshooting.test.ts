/**
 * docs/troubleshooting.md as printed: every MongoDB query, SQL query and grep command of the page
 * runs against a real store (SQLite; MongoDB through FerretDB) and a real log that a server
 * (startServer) filled through the REST API, and answers what the page says it answers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import mongoose from 'mongoose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TEST_SECRET } from '../helpers/api.js';
import { describeWithService, eventually, mongoUriForTests, tempSqliteDir } from '../helpers/stores.js';

const docPath = fileURLToPath(new URL('../../../../docs/troubleshooting.md', import.meta.url));
const doc = readFileSync(docPath, 'utf8');

/** The fenced blocks of the page, by language. */
function blocks(lang: string): string[] {
  return [...doc.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!.trim());
}

type Row = Record<string, unknown>;

/** The page's queries in page order: the MongoDB form, the SQLite form, and what both must answer. */
interface Check {
  readonly name: string;
  readonly mongo: string;
  readonly sql: string;
  /** Rows normalised to one shape for both stores. */
  readonly expect: (rows: { mongo: boolean; rows: Row[] }, seen: Seen) => void;
}

/** What the API answered while the store was filled. */
interface Seen {
  readonly learner: string;
  readonly duplicatesAnswered: number;
  readonly conflictBatch: string;
  readonly partialBatch: string;
  readonly failedBatch: string;
  readonly eventsStored: number;
}

const checks: Check[] = [
  {
    name: 'queue items by status',
    mongo: blocks('js')[0]!,
    sql: blocks('sql')[0]!,
    expect: ({ mongo, rows }) => {
      const counts = Object.fromEntries(rows.map((r) => [mongo ? r['_id'] : r['status'], Number(r['count'])]));
      // The assessment and the progress item of the first batch, merged at once; the failed merge.
      expect(counts).toEqual({ synced: 2, error: 1 });
    },
  },
  {
    name: 'queue items being retried',
    mongo: blocks('js')[1]!,
    sql: blocks('sql')[1]!,
    expect: ({ mongo, rows }) => {
      expect(rows.map((r) => [mongo ? r['itemKey'] : r['item_key'], Number(r['attempts'])])).toEqual([['progress:b9:0', 1]]);
      expect(JSON.stringify(mongo ? rows[0]!['errors'] : JSON.parse(rows[0]!['errors'] as string))).toContain('merge failed: document unavailable');
    },
  },
  {
    name: 'batches that did not go through',
    mongo: blocks('js')[2]!,
    sql: blocks('sql')[2]!,
    expect: ({ mongo, rows }, seen) => {
      const got = rows.map((r) => [mongo ? r['batchId'] : r['batch_id'], r['status']]);
      expect(got).toEqual([
        [seen.failedBatch, 'failed'],
        [seen.partialBatch, 'partial'],
      ]);
    },
  },
  {
    name: 'events stored twice under one id',
    mongo: blocks('js')[3]!,
    sql: blocks('sql')[3]!,
    expect: ({ rows }) => expect(rows).toEqual([]),
  },
  {
    name: 'repeats turned away per learner',
    mongo: blocks('js')[4]!,
    sql: blocks('sql')[4]!,
    expect: ({ mongo, rows }, seen) => {
      expect(rows.map((r) => [mongo ? r['_id'] : r['user_id'], Number(r['duplicates'])])).toEqual([[seen.learner, seen.duplicatesAnswered]]);
    },
  },
  {
    name: 'same action under new ids',
    mongo: blocks('js')[5]!,
    sql: blocks('sql')[5]!,
    expect: ({ mongo, rows }, seen) => {
      const got = rows.map((r) => [mongo ? (r['_id'] as Row)['eventType'] : r['event_type'], Number(r['count'])]);
      expect(got).toEqual([['hint_opened', 2]]);
      if (!mongo) expect(rows[0]!['user_id']).toBe(seen.learner);
    },
  },
  {
    name: 'batches with conflicts',
    mongo: blocks('js')[6]!,
    sql: blocks('sql')[6]!,
    expect: ({ mongo, rows }, seen) => {
      expect(rows.map((r) => [mongo ? r['batchId'] : r['batch_id'], Number(mongo ? r['conflictCount'] : r['conflict_count'])])).toEqual([[seen.conflictBatch, 1]]);
    },
  },
];

const at = (minutesAgo: number): string => new Date(Date.now() - minutesAgo * 60_000).toISOString();
const event = (eventId: string, eventType: string, clientTimestamp: string) => ({
  itemType: 'event',
  itemData: { eventId, eventType, eventData: { n: 1 }, metadata: { clientTimestamp } },
});

interface Harness {
  readonly server: RunningServer;
  readonly logFile: string;
  readonly dir: string;
  readonly seen: Seen;
}

/** A server on the store, with its log in `<dir>/prepmate-sync.log`, filled through the API. */
async function fill(env: Record<string, string>, dir: string): Promise<Harness> {
  const logFile = join(dir, 'prepmate-sync.log');
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: dir, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', ENABLE_SCHEDULED_SYNC: 'false', ...env });
  const server = await startServer(config, { logger: createLogger('info', {}, pino.destination({ dest: logFile, sync: true })), runJobs: false });
  const learner = 'ts_learner';
  const token = await server.tokens.sign(learner);
  const batch = async (body: unknown): Promise<{ status: number; data: { duplicates: number; conflicts: number; results: { status: string }[] } }> => {
    const res = await fetch(`${server.url}/api/telemetry/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { data: { duplicates: number; conflicts: number; results: { status: string }[] } };
    return { status: res.status, data: json.data };
  };
  const assessment = (score: number) => ({
    itemType: 'assessment',
    itemData: { assessmentId: 'a1', topicId: 'arrays', score, questionsAttempted: 10, correctAnswers: Math.round(score / 10), completedAt: at(30) },
  });
  let duplicates = 0;
  const first = { batchId: 'b1', items: [event('e1', 'interview_started', at(20)), event('e2', 'interview_completed', at(19)), assessment(50), { itemType: 'progress', itemData: { topicId: 'arrays', status: 'in_progress' } }] };
  const b1 = await batch(first);
  expect(b1.data.results.map((r) => r.status)).toEqual(['stored', 'stored', 'merged', 'merged']);
  // The same batch again (a client retrying after a lost answer).
  duplicates += (await batch(first)).data.duplicates;
  const partial = await batch({ batchId: 'b2', items: [event('e3', 'hint_opened', at(10)), { itemType: 'event', itemData: {} }] });
  expect(partial.data.results.map((r) => r.status)).toEqual(['stored', 'rejected']);
  const failed = await batch({ batchId: 'b3', items: [{ itemType: 'progress', itemData: {} }] });
  expect(failed.data.results.map((r) => r.status)).toEqual(['rejected']);
  // The same assessment id with another score: the first write wins, the batch counts a conflict.
  const conflict = await batch({ batchId: 'b4', items: [assessment(90)] });
  expect(conflict.data.conflicts).toBe(1);
  duplicates += conflict.data.duplicates;
  // One action sent twice under two ids (what a client that makes ids at send time does).
  const sameAction = at(5);
  await batch({ batchId: 'b5', items: [event('e4', 'hint_opened', sameAction)] });
  await batch({ batchId: 'b6', items: [event('e5', 'hint_opened', sameAction)] });
  // Refused as a whole: only the log has it.
  expect((await batch({ batchId: 'b7', items: [] })).status).toBe(400);
  expect(duplicates).toBe(5);
  // A merge that failed and waits for its retry. The API cannot make a merge fail without
  // breaking the store, so the item is recorded as the sync-queue job records one, through the
  // server's own store port.
  const { inserted } = await server.store.syncQueue.enqueue([
    { userId: learner, itemKey: 'progress:b9:0', itemType: 'progress', itemData: { topicId: 'graphs', status: 'completed' }, priority: 1 },
  ]);
  await server.store.syncQueue.markFailed(inserted[0]!.id, { at: new Date(), message: 'merge failed: document unavailable' }, new Date(Date.now() + 60_000));
  return {
    server,
    logFile,
    dir,
    seen: { learner, duplicatesAnswered: duplicates, conflictBatch: 'b4', partialBatch: 'b2', failedBatch: 'b3', eventsStored: 5 },
  };
}

function sh(command: string, cwd: string): string {
  const res = spawnSync('sh', ['-c', command], { cwd, encoding: 'utf8' });
  // grep exits 1 when nothing matched: an empty answer, not a failure.
  expect(res.status === 0 || (res.status === 1 && res.stdout === ''), `${command}: ${res.stderr}`).toBe(true);
  return res.stdout;
}

describe('docs/troubleshooting.md', () => {
  it('when read, then its queries are the ones this test runs, and it names no logs directory', () => {
    expect(blocks('js')).toHaveLength(checks.length);
    expect(blocks('sql')).toHaveLength(checks.length);
    expect(blocks('sh')).toHaveLength(3);
    expect(doc).not.toMatch(/backend\/logs/);
  });
});

function defineFor(kind: 'sqlite' | 'mongodb', mongoUri: string | null): void {
  let tmp: { dir: string; remove(): Promise<void> };
  let harness: Harness;
  let runQuery: (check: Check) => Promise<Row[]>;
  let runGuideQuery: (code: string) => Promise<Row[]>;
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    tmp = await tempSqliteDir();
    harness = await fill(mongoUri ? { MONGODB_URI: mongoUri } : {}, tmp.dir);
    if (kind === 'sqlite') {
      const db = new Database(join(tmp.dir, 'prepmate.sqlite'), { readonly: true });
      runQuery = async (check) => db.prepare(check.sql).all() as Row[];
      runGuideQuery = async () => [];
      close = async () => {
        db.close();
      };
    } else {
      const conn = await mongoose.createConnection(mongoUri!, { serverSelectionTimeoutMS: 5000 }).asPromise();
      const db = conn.db!;
      // The page's queries are mongosh expressions; `db.<collection>` is the driver's collection,
      // whose find/aggregate take the same arguments and return cursors.
      const shell = new Proxy({}, { get: (_target, name) => db.collection(String(name)) });
      const evaluate = async (code: string): Promise<Row[]> => {
        const result = new Function('db', `return (${code});`)(shell) as { toArray?: () => Promise<Row[]> };
        return typeof result.toArray === 'function' ? result.toArray() : ((await result) as unknown as Row[]);
      };
      runQuery = (check) => evaluate(check.mongo);
      runGuideQuery = evaluate;
      close = async () => {
        await conn.dropDatabase();
        await conn.close();
      };
    }
  });
  afterAll(async () => {
    await harness?.server.stop();
    await close();
    await tmp?.remove();
  });

  for (const check of checks) {
    it(`when "${check.name}" is run as printed, then it answers what the page says`, async () => {
      check.expect({ mongo: kind === 'mongodb', rows: await runQuery(check) }, harness.seen);
    });
  }

  if (kind === 'mongodb') {
    it("when the integration guide's own queries run, then they mislead as the page says", async () => {
      // There is no `error` status: nothing matches although two batches failed in part or whole.
      expect(await runGuideQuery("db.batchLogs.find({ status: 'error' }).sort({ startTime: -1 }).limit(1)")).toEqual([]);
      // There is no top-level eventId: every event falls into one `_id: null` group.
      const groups = await runGuideQuery("db.telemetry.aggregate([{ $group: { _id: '$eventId', count: { $sum: 1 } } }, { $match: { count: { $gt: 1 } } }])");
      expect(groups).toEqual([{ _id: null, count: harness.seen.eventsStored }]);
    });
  }

  it('when the log commands run in the directory of the log, then they show the refused batch and no failures', async () => {
    const [start, requests, failures] = blocks('sh') as [string, string, string];
    // `npm start` is not run here; the server above logs to the same file name with the same logger.
    expect(start).toContain('prepmate-sync.log');
    expect(existsSync(harness.logFile)).toBe(true);
    let lines: string[] = [];
    await eventually(() => {
      lines = sh(requests, harness.dir).trim().split('\n').filter(Boolean);
      return lines.length > 0;
    });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'request', method: 'POST', path: '/api/telemetry/batch', status: 400 });
    // Eight batch requests were logged, all but that one answered 200.
    expect(sh(`grep -c '"path":"/api/telemetry/batch"' prepmate-sync.log`, harness.dir).trim()).toBe('8');
    expect(sh(failures, harness.dir)).toBe('');
  });
}

describe('docs/troubleshooting.md [sqlite]', () => defineFor('sqlite', null));
describeWithService(
  'docs/troubleshooting.md [mongodb]',
  { env: 'MONGODB_URI', value: mongoUriForTests(), hint: 'Start FerretDB with `node scripts/test-services.mjs up` and export the printed MONGODB_URI.' },
  (uri) => defineFor('mongodb', uri),
);
