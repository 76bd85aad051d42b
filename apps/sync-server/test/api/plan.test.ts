import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COACHING_INSIGHT_KEY, LearnerDocument, canonicalJson, computePlan, readCoachingNote, yjsEngine } from '@prepmate/crdt-model';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryRateLimiter } from '../../src/cache/index.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { GEMINI_BASE_URL, cleanNote, coachEndpoint, coachingSummary, createCoach, createPlanService, snapshotOf, summaryKey, type CoachConfig, type PlanService } from '../../src/plan/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { asUserId } from '../../src/ids.js';
import { createMemoryLearnerDocuments, type MemoryLearnerDocuments } from '../helpers/memory-documents.js';
import { TEST_SECRET, openStore, type OpenedStore } from '../helpers/api.js';
import { eventually, tempSqliteDir } from '../helpers/stores.js';
import { assessmentItem, eventItem, iso, progressItem, uid } from './fixtures.js';

const DAY = 86_400_000;

async function call(server: RunningServer, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() };
}

/** The plan's own fields (what a device computes), without what only the server adds. */
function devicePart(data: Record<string, unknown>): string {
  const { basis: _b, coaching: _c, ...plan } = data;
  return canonicalJson(plan);
}

describe('GET /api/plan on the real server', () => {
  let server: RunningServer;
  let tmp: Awaited<ReturnType<typeof tempSqliteDir>>;

  beforeAll(async () => {
    tmp = await tempSqliteDir();
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: tmp.dir, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', ENABLE_SCHEDULED_SYNC: 'false' });
    server = await startServer(config, { logger: createLogger('silent') });
  });
  afterAll(async () => {
    await server?.stop();
    await tmp?.remove();
  });

  it('when a learner asks for the plan, then it is the plan a device computes from the same facts', async () => {
    const user = uid('u');
    const token = await server.tokens.sign(user);
    const t0 = Date.now() - 30 * DAY;
    const items = [
      assessmentItem('a1', { topicId: 'sql-joins', score: 55, weakAreas: ['joins'], completedAt: iso(t0) }),
      assessmentItem('a2', { topicId: 'sql-joins', score: 62, weakAreas: [], completedAt: iso(t0 + 5 * DAY) }),
      assessmentItem('a3', { topicId: 'graphs', score: 90, weakAreas: [], completedAt: iso(t0 + 20 * DAY) }),
      progressItem('graphs', { status: 'in_progress', goal: 'score 95', updatedAt: iso(t0) }),
    ];
    const batch = await call(server, 'POST', '/api/telemetry/batch', token, { batchId: uid('b'), items });
    expect(batch.status).toBe(200);

    const res = await call(server, 'GET', '/api/plan', token);
    expect(res.status).toBe(200);
    expect(res.json.data.basis).toBe('assessments');
    expect(res.json.data.coaching).toBeNull();

    const device = yjsEngine.create();
    for (const item of items) {
      if (item.itemType === 'assessment') device.recordAssessment(item.itemData);
      else {
        const { topicId, ...patch } = item.itemData;
        device.updateTopic(topicId, patch as never);
      }
    }
    expect(devicePart(res.json.data)).toBe(canonicalJson(computePlan(device.facts(), { now: new Date() })));
    const sql = res.json.data.cards.find((c: { id: string }) => c.id === 'topic:sql-joins');
    expect(sql.reason).toMatch(/^sql-joins: last scored 62, recall now ~\d+ %, due \d+ days? ago$/);
  });

  it('when a service token names a learner, then it gets that learner\'s plan; a learner naming another is refused', async () => {
    const user = uid('u');
    const token = await server.tokens.sign(user);
    await call(server, 'POST', '/api/telemetry/batch', token, { batchId: uid('b'), items: [assessmentItem(uid('a'), { topicId: 'dp', score: 40 })] });
    const service = await server.tokens.sign('coach-service', { role: 'service' });
    const own = await call(server, 'GET', '/api/plan', token);
    const forLearner = await call(server, 'GET', `/api/plan?userId=${user}`, service);
    expect(forLearner.status).toBe(200);
    expect(devicePart(forLearner.json.data)).toBe(devicePart(own.json.data));
    const other = await call(server, 'GET', `/api/plan?userId=${uid('someone')}`, token);
    expect(other.status).toBe(403);
    expect(other.json.error.code).toBe('FORBIDDEN');
    const bad = await call(server, 'GET', '/api/plan?userId=not%20valid', service);
    expect(bad.status).toBe(400);
  });

  it('when a learner only sends scored events through track, then insights and a plan follow from those events', async () => {
    const user = uid('u');
    const token = await server.tokens.sign(user);
    for (const [i, score] of [80, 60, 45].entries()) {
      const res = await call(server, 'POST', '/api/telemetry/track', token, {
        eventType: 'quiz_completed',
        eventData: { topicId: 'recursion', score, weakAreas: ['base cases'] },
        metadata: { clientTimestamp: iso(Date.now() - (3 - i) * DAY), eventId: uid('e') },
      });
      expect(res.status).toBe(200);
    }
    // Refreshed in the background right after the events, not only by the scheduled job. The
    // refresh that covers the last two events waits out the 2 s per-learner interval: 5 s left
    // too little room on a loaded machine.
    let insights: Record<string, any> = {};
    await eventually(async () => {
      insights = (await call(server, 'GET', '/api/progress', token)).json.data.insights;
      return insights['basis'] === 'events' && insights['assessmentCount'] === 3;
    }, { timeoutMs: 20_000, intervalMs: 20 });
    expect(insights['weakAreas'][0]).toMatchObject({ area: 'base cases', occurrences: 3 });
    expect(insights['overallTrend']).toMatchObject({ direction: 'down' });

    const plan = (await call(server, 'GET', '/api/plan', token)).json.data;
    expect(plan.basis).toBe('events');
    expect(plan.cards.map((c: { label: string }) => c.label)).toEqual(expect.arrayContaining(['recursion', 'base cases']));
    expect(plan.cards.find((c: { label: string }) => c.label === 'recursion').lastScore).toBe(45);
  });

  it('when there is no token, then the plan is not shown', async () => {
    const res = await fetch(`${server.url}/api/plan`);
    expect(res.status).toBe(401);
  });
});

type Mode = 'ok' | 'hang' | '429' | '500' | 'empty-choices' | 'not-json' | 'number-content';

/** A local OpenAI-compatible chat-completions server that records what it was sent. */
async function fakeModel(): Promise<{ url: string; mode: Mode; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const state = { mode: 'ok' as Mode };
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push(body);
      const json = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const completion = (content: unknown) => ({
        id: 'cmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'fake',
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }],
      });
      switch (state.mode) {
        case 'ok':
          return json(200, completion('  Start with SQL joins:\n recall is low and it is overdue.  '));
        case 'hang':
          open.add(res);
          return;
        case '429':
          return json(429, { error: { message: 'slow down', type: 'rate_limit' } });
        case '500':
          return json(500, { error: { message: 'boom' } });
        case 'empty-choices':
          return json(200, { id: 'x', object: 'chat.completion', created: 1, model: 'fake', choices: [] });
        case 'number-content':
          return json(200, completion(42));
        case 'not-json':
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('this is not json');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get mode() {
      return state.mode;
    },
    set mode(m: Mode) {
      state.mode = m;
    },
    requests,
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const coachConfig = (url: string, overrides: Partial<CoachConfig> = {}): CoachConfig => ({ MODEL_API_BASE_URL: url, MODEL_NAME: 'fake', MODEL_TIMEOUT_MS: 300, MODEL_NOTES_PER_HOUR: 10, ...overrides });

describe('AI coaching against a local OpenAI-compatible server', () => {
  let model: Awaited<ReturnType<typeof fakeModel>>;
  let opened: OpenedStore;
  let documents: MemoryLearnerDocuments;
  let services: PlanService[];

  beforeAll(async () => {
    model = await fakeModel();
    opened = await openStore('sqlite');
  });
  afterAll(async () => {
    await model?.close();
    await opened?.dispose();
  });
  beforeEach(() => {
    model.mode = 'ok';
    model.requests.length = 0;
    documents = createMemoryLearnerDocuments();
    services = [];
  });
  afterEach(async () => {
    await Promise.all(services.map((s) => s.idle()));
  });

  function planService(config: CoachConfig = coachConfig(model.url)): PlanService {
    const s = createPlanService({
      read: async (userId) => snapshotOf(documents.doc(userId)),
      store: opened.store,
      documents,
      coach: createCoach({ config, limiter: createMemoryRateLimiter() }),
      logger: createLogger('silent'),
    });
    services.push(s);
    return s;
  }

  function seed(userId: string, extra: { notes?: string; goal?: string } = {}): void {
    const learner = new LearnerDocument(documents.doc(userId));
    learner.recordAssessment({ assessmentId: 'a1', topicId: 'sql-joins', score: 55, completedAt: iso(Date.now() - 9 * DAY), weakAreas: ['joins'] });
    learner.updateTopic('sql-joins', { status: 'in_progress', ...extra });
  }

  it('when the model answers, then the plan comes at once and the note follows into the learner\'s insights', async () => {
    const plans = planService();
    seed('ada');
    model.mode = 'hang';
    const first = await plans.plan(asUserId('ada'));
    // Answered while the model has not: the rule-based reasons stand alone.
    expect(first.coaching).toBeNull();
    expect(first.next[0]!.reason).toContain('sql-joins: last scored 55');
    await plans.idle();
    expect(readCoachingNote(new LearnerDocument(documents.doc('ada')).storedInsights())).toBeNull();

    model.mode = 'ok';
    await plans.plan(asUserId('ada'));
    await plans.idle();
    const note = readCoachingNote(new LearnerDocument(documents.doc('ada')).storedInsights());
    expect(note).toMatchObject({ text: 'Start with SQL joins: recall is low and it is overdue.', model: 'fake', planDay: first.today });
    expect((await plans.plan(asUserId('ada'))).coaching?.text).toBe(note!.text);
    expect(documents.log.filter((l) => l.author === 'service:coach')).toHaveLength(1);
  });

  it('when the same plan content is asked again, by this learner or another, then the model is not asked again', async () => {
    const plans = planService();
    seed('ada');
    seed('grace');
    await plans.plan(asUserId('ada'));
    await plans.idle();
    await plans.plan(asUserId('ada'));
    await plans.plan(asUserId('grace'));
    await plans.idle();
    expect(model.requests).toHaveLength(1);
    expect(readCoachingNote(new LearnerDocument(documents.doc('grace')).storedInsights())?.text).toContain('Start with SQL joins');
  });

  it('when a learner exceeds the hourly limit, then no more notes are asked for', async () => {
    const plans = planService(coachConfig(model.url, { MODEL_NOTES_PER_HOUR: 1 }));
    seed('ada');
    await plans.plan(asUserId('ada'));
    await plans.idle();
    new LearnerDocument(documents.doc('ada')).recordAssessment({ assessmentId: 'a2', topicId: 'graphs', score: 30, completedAt: iso() });
    await plans.plan(asUserId('ada'));
    await plans.idle();
    expect(model.requests).toHaveLength(1);
  });

  it('when the model is slow, rate-limits, fails or answers nonsense, then there is no note and nothing fails', async () => {
    const expected: Record<Exclude<Mode, 'ok'>, string> = {
      hang: 'timeout',
      '429': 'rate_limited',
      '500': 'server_error',
      'empty-choices': 'malformed',
      'number-content': 'malformed',
      'not-json': 'malformed',
    };
    const summary = coachingSummary(computePlan({ assessments: { a: { assessmentId: 'a', topicId: 't', score: 50, completedAt: iso() } }, topics: {} }, { now: new Date() }));
    for (const [mode, reason] of Object.entries(expected)) {
      model.mode = mode as Mode;
      const coach = createCoach({ config: coachConfig(model.url), limiter: createMemoryRateLimiter() })!;
      const started = Date.now();
      expect(await coach.note('ada', `${mode}-key`, summary), mode).toEqual({ status: 'failed', reason });
      expect(Date.now() - started, mode).toBeLessThan(10_000);

      const plans = planService();
      seed(`learner-${mode}`);
      const plan = await plans.plan(asUserId(`learner-${mode}`));
      expect(plan.cards.length).toBeGreaterThan(0);
      await plans.idle();
      expect(readCoachingNote(new LearnerDocument(documents.doc(`learner-${mode}`)).storedInsights()), mode).toBeNull();
    }
  });

  it('when the prompt is sent, then it carries the aggregated plan and no private field', async () => {
    const plans = planService();
    const userId = 'learner-private-id';
    seed(userId, { notes: 'PRIVATE-NOTES-xyz', goal: 'PRIVATE-GOAL-xyz' });
    await opened.store.telemetry.insertEvents([
      {
        userId,
        eventType: 'quiz_completed',
        eventData: { score: 50, answer: 'PRIVATE-PAYLOAD-xyz' },
        metadata: { eventId: uid('e'), clientTimestamp: new Date(), serverTimestamp: new Date() },
        status: 'completed',
        retryCount: 0,
        batchId: null,
        createdAt: new Date(),
        updatedAt: new Date(),
      },
    ]);
    await plans.plan(asUserId(userId));
    await plans.idle();
    expect(model.requests).toHaveLength(1);
    const sent = model.requests[0]!;
    for (const secret of ['PRIVATE-NOTES', 'PRIVATE-GOAL', 'PRIVATE-PAYLOAD', userId]) expect(sent).not.toContain(secret);
    const messages = (JSON.parse(sent) as { messages: { role: string; content: string }[] }).messages;
    const summary = JSON.parse(messages.find((m) => m.role === 'user')!.content) as Record<string, unknown>;
    expect(Object.keys(summary).sort()).toEqual(['cards', 'dailyMinutes', 'daysUntilInterview', 'today']);
    expect(summary['cards']).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'sql-joins', lastScore: 55, kind: 'topic' })]));
    for (const card of summary['cards'] as Record<string, unknown>[]) {
      expect(Object.keys(card).sort()).toEqual(['due', 'dueInDays', 'kind', 'lastScore', 'masteryPercent', 'minutesToday', 'name', 'recallPercent', 'trend']);
    }
  });

  it('when no model variables are set, then there is no coach; GEMINI_API_KEY selects Gemini\'s endpoint', () => {
    const base = { MODEL_TIMEOUT_MS: 1000, MODEL_NOTES_PER_HOUR: 4 };
    expect(coachEndpoint(base)).toBeNull();
    expect(createCoach({ config: base, limiter: createMemoryRateLimiter() })).toBeNull();
    expect(coachEndpoint({ ...base, GEMINI_API_KEY: 'g-key' })).toEqual({ baseURL: GEMINI_BASE_URL, apiKey: 'g-key', model: 'gemini-2.5-flash' });
    expect(coachEndpoint({ ...base, GEMINI_API_KEY: 'g-key', MODEL_API_BASE_URL: 'http://127.0.0.1:1/v1' })).toMatchObject({ baseURL: 'http://127.0.0.1:1/v1', apiKey: 'none' });
    expect(() => loadConfig({ MODEL_API_BASE_URL: 'not a url' })).toThrow(ConfigError);
    expect(loadConfig({ MODEL_API_BASE_URL: 'http://127.0.0.1:8080/v1' }).MODEL_TIMEOUT_MS).toBe(8000);
  });

  it('when a note is too long or blank, then it is cut at a sentence or dropped', () => {
    expect(cleanNote('   ')).toBeNull();
    expect(cleanNote(null)).toBeNull();
    const long = `${'Practise graphs today. '.repeat(80)}`;
    const cut = cleanNote(long)!;
    expect(cut.length).toBeLessThanOrEqual(1200);
    expect(cut.endsWith('today.')).toBe(true);
    expect(summaryKey(coachingSummary(computePlan({ assessments: {}, topics: {} }, { now: 0 })))).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('the coaching note on a device', () => {
  it('when the server stored a note, then a replica reads it from the insights', () => {
    const doc = yjsEngine.create();
    doc.insightsMap.set(COACHING_INSIGHT_KEY, { text: 'Hi', planKey: 'k', planDay: '2026-01-02', model: 'm', createdAt: iso() });
    expect(readCoachingNote(doc.storedInsights())?.text).toBe('Hi');
    doc.insightsMap.set(COACHING_INSIGHT_KEY, { text: 5 });
    expect(readCoachingNote(doc.storedInsights())).toBeNull();
  });
});

describe('insights refresh after scored telemetry', () => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await openStore('sqlite');
  });
  afterAll(async () => {
    await opened?.dispose();
  });

  it('when a learner sends scored events faster than the refresh interval, then one refresh runs at once and one later covers the rest', async () => {
    const documents = createMemoryLearnerDocuments();
    const plans = createPlanService({
      read: async (userId) => snapshotOf(documents.doc(userId)),
      store: opened.store,
      documents,
      coach: null,
      logger: createLogger('silent'),
      refreshIntervalMs: 60_000,
    });
    const userId = uid('u');
    // The telemetry service the plan service observes: each track stores one scored event.
    const telemetry = {
      async track(_ctx: unknown, body: unknown) {
        const { eventId, score } = body as { eventId: string; score: number };
        await opened.store.telemetry.insertEvents([
          {
            userId,
            eventType: 'quiz_completed',
            eventData: { topicId: 'recursion', score },
            metadata: { eventId, clientTimestamp: new Date(), serverTimestamp: new Date() },
            status: 'completed',
            retryCount: 0,
            batchId: null,
            createdAt: new Date(),
            updatedAt: new Date(),
          },
        ]);
        return { eventId, serverTimestamp: new Date().toISOString(), duplicate: false, flags: [] };
      },
    } as unknown as Parameters<PlanService['observe']>[0];
    const observed = plans.observe(telemetry);
    const ctx = { userId: asUserId(userId), actFor: () => asUserId(userId), ip: null, userAgent: null };
    const track = (score: number) => observed.track(ctx, { eventId: uid('e'), score, eventData: { score } });
    const insightWrites = () => documents.log.filter((l) => l.author === 'service:insights').length;
    const eventSamples = () => (new LearnerDocument(documents.doc(userId)).storedInsights()['events'] as { samples?: number } | undefined)?.samples;

    await track(80);
    await eventually(() => eventSamples() === 1);
    await track(60);
    await track(45);
    // Within the interval: nothing more ran yet, the two events wait for one scheduled refresh.
    expect(insightWrites()).toBe(1);
    expect(eventSamples()).toBe(1);
    await plans.idle();
    expect(insightWrites()).toBe(2);
    expect(eventSamples()).toBe(3);
  });

  it('when a learner is erased between refreshes, then the next refresh counts only the events sent after the erasure', async () => {
    const documents = createMemoryLearnerDocuments();
    const plans = createPlanService({ read: async (userId) => snapshotOf(documents.doc(userId)), store: opened.store, documents, coach: null, logger: createLogger('silent'), refreshIntervalMs: 0 });
    const userId = uid('u');
    const stored = (eventId: string, score: number) => ({
      userId,
      eventType: 'quiz_completed',
      eventData: { topicId: 'recursion', score },
      metadata: { eventId, clientTimestamp: new Date(), serverTimestamp: new Date() },
      status: 'completed' as const,
      retryCount: 0,
      batchId: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const telemetry = {
      async track(_ctx: unknown, body: unknown) {
        const { eventId, score } = body as { eventId: string; score: number };
        await opened.store.telemetry.insertEvents([stored(eventId, score)]);
        return { eventId, serverTimestamp: new Date().toISOString(), duplicate: false, flags: [] };
      },
      async eraseUser() {
        await opened.store.telemetry.deleteUserEvents(userId);
        return {};
      },
    } as unknown as Parameters<PlanService['observe']>[0];
    const observed = plans.observe(telemetry);
    const ctx = { userId: asUserId(userId), actFor: () => asUserId(userId), ip: null, userAgent: null };
    const track = (score: number) => observed.track(ctx, { eventId: uid('e'), score, eventData: { score } });
    const eventSamples = () => (new LearnerDocument(documents.doc(userId)).storedInsights()['events'] as { samples?: number } | undefined)?.samples;
    for (const score of [80, 60, 45]) {
      await track(score);
      await plans.idle();
    }
    expect(eventSamples()).toBe(3);
    await observed.eraseUser(asUserId(userId));
    await track(90);
    await plans.idle();
    expect(eventSamples()).toBe(1);
  });
});
