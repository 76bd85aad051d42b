import { canonicalJson, deriveInsights, sortAssessments, yjsEngine } from '@prepmate/crdt-model';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';
import { SESSION_STORAGE_KEY, SignInError, useAuthStore } from '../src/stores/auth';
import { useLearnerStore } from '../src/stores/learner';
import { FLUSH_HISTORY, useSyncStore } from '../src/stores/sync';
import { createHarness, fakeJwt, storeSignedIn } from './fakes';

const assessment = (id: string, topicId: string, score: number, day: number, weakAreas?: string[]) => ({
  assessmentId: id,
  topicId,
  kind: 'mock_interview',
  score,
  completedAt: new Date(Date.UTC(2026, 10, day, 10)).toISOString(),
  ...(weakAreas ? { weakAreas } : {}),
});

beforeEach(() => localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe('auth store', () => {
  it('when a dev sign-in succeeds, then the token and userId are kept for an offline reload', async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ token: fakeJwt('ada') }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
    vi.stubGlobal('fetch', fetchMock);
    const h = createHarness();
    const auth = h.run(() => useAuthStore());
    await auth.signInDev('  ada ');
    expect(fetchMock).toHaveBeenCalledWith(`${window.location.origin}/api/auth/dev-token`, expect.objectContaining({ method: 'POST', body: JSON.stringify({ userId: 'ada' }) }));
    expect(auth.userId).toBe('ada');
    expect(JSON.parse(localStorage.getItem(SESSION_STORAGE_KEY)!)).toMatchObject({ userId: 'ada', mode: 'dev' });
  });

  it('when the server has no dev-token endpoint, then the learner is told to paste a token', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{}', { status: 404 })));
    const auth = createHarness().run(() => useAuthStore());
    await expect(auth.signInDev('ada')).rejects.toThrow(/paste a token/i);
    expect(auth.signedIn).toBe(false);
  });

  it('when the userId is invalid, then nothing is requested', async () => {
    const fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    const auth = createHarness().run(() => useAuthStore());
    await expect(auth.signInDev('not valid!')).rejects.toBeInstanceOf(SignInError);
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('when a pasted token is used, then the learner is its subject; expired or foreign tokens are refused', () => {
    const auth = createHarness().run(() => useAuthStore());
    expect(() => auth.signInWithToken('garbage')).toThrow(SignInError);
    expect(() => auth.signInWithToken(fakeJwt('ada', Math.floor(Date.now() / 1000) - 10))).toThrow(/expired/);
    auth.signInWithToken(fakeJwt('grace'));
    expect(auth.session).toMatchObject({ userId: 'grace', mode: 'token' });
  });

  it('when a pasted token is refused, then the learner is asked to sign in again and keeps the session', async () => {
    const auth = createHarness().run(() => useAuthStore());
    const token = fakeJwt('grace');
    auth.signInWithToken(token);
    expect(await auth.getToken({ forceRefresh: false })).toBe(token);
    expect(auth.expired).toBe(false);
    expect(await auth.getToken({ forceRefresh: true })).toBe(token);
    expect(auth.expired).toBe(true);
    expect(auth.userId).toBe('grace');
  });

  it('when a dev token is refused by the server, then getToken fetches a fresh one', async () => {
    storeSignedIn('ada');
    const fresh = fakeJwt('ada', Math.floor(Date.now() / 1000) + 7200);
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ token: fresh }), { status: 200 })));
    const auth = createHarness().run(() => useAuthStore());
    expect(await auth.getToken({ forceRefresh: false })).not.toBe(fresh);
    expect(await auth.getToken({ forceRefresh: true })).toBe(fresh);
    expect(auth.session?.token).toBe(fresh);
  });
});

describe('sync store', () => {
  it('when a learner signs in, then one session opens; on sign-out it is destroyed', async () => {
    const h = createHarness();
    const { auth, sync } = h.run(() => ({ auth: useAuthStore(), sync: useSyncStore() }));
    expect(h.sessions).toHaveLength(0);
    auth.signInWithToken(fakeJwt('ada'));
    await nextTick();
    expect(h.sessions).toHaveLength(1);
    expect(h.sessions[0]!.userId).toBe('ada');
    await vi.waitFor(() => expect(sync.loaded).toBe(true));
    auth.signOut();
    await vi.waitFor(() => expect(h.sessions[0]!.destroyed).toBe(true));
    expect(sync.session).toBeNull();
    expect(sync.status.connected).toBe(false);
  });

  it('when the SDK reports status, peers and flushes, then the store mirrors them (newest flush first, bounded)', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const sync = h.run(() => useSyncStore());
    const s = h.sessions[0]!;
    s.setStatus({ online: false, connected: false, unsavedChanges: 3, queuedEvents: 2 });
    expect(sync.status).toMatchObject({ online: false, unsavedChanges: 3, queuedEvents: 2 });
    s.setPeers([{ clientId: 7, label: 'Chrome on Linux · AB12', screen: 'dashboard' }]);
    expect(sync.peers).toHaveLength(1);
    for (let i = 0; i < FLUSH_HISTORY + 3; i++) s.emitFlush({ at: i, ok: true, sent: i, stored: i, duplicates: 0, rejected: 0, remaining: 0 });
    expect(sync.flushes).toHaveLength(FLUSH_HISTORY);
    expect(sync.flushes[0]!.sent).toBe(FLUSH_HISTORY + 2);
  });

  it('when the page reloads, then the last sync is still known before the SDK syncs again', () => {
    storeSignedIn('ada');
    const first = createHarness();
    const before = first.run(() => useSyncStore());
    first.sessions[0]!.setStatus({ lastSyncTime: 1_700_000_000_000 });
    expect(before.lastSyncTime).toBe(1_700_000_000_000);

    const reloaded = createHarness();
    const after = reloaded.run(() => useSyncStore());
    reloaded.sessions[0]!.setStatus({ online: false, lastSyncTime: null });
    expect(after.lastSyncTime).toBe(1_700_000_000_000);
  });

  it('when telemetry capture fails, then the failure is kept for the panel and nothing throws', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const sync = h.run(() => useSyncStore());
    h.sessions[0]!.captureEvent = () => Promise.reject(new Error('quota'));
    sync.track('screen_viewed', { screen: 'dashboard' });
    await vi.waitFor(() => expect(sync.telemetryError).toBe('quota'));
  });
});

describe('learner store', () => {
  it('when the document changes locally or from another device, then the mirror follows without polling', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    const doc = h.sessions[0]!.document;
    expect(learner.topicList).toEqual([]);

    learner.logAssessment(assessment('a1', 'sql', 50, 1, ['joins']));
    expect(learner.topicList.map((t) => t.topicId)).toEqual(['sql']);
    expect(learner.topicList[0]!.mastery).toBe(0.5);

    // Another replica of the same learner writes; its update arrives as a remote change.
    const other = yjsEngine.load(doc.save());
    other.recordAssessment(assessment('a2', 'sql', 90, 2));
    other.updateTopic('system-design', { status: 'in_progress', goal: 'Design a feed' });
    doc.applyUpdate(other.encodeDiff(doc.syncState()));

    expect(learner.timeline.map((a) => a.assessmentId)).toEqual(['a1', 'a2']);
    expect(learner.topics['system-design']).toMatchObject({ status: 'in_progress', goal: 'Design a feed' });
    expect(learner.topic('sql')!.mastery).toBeGreaterThan(0.5);
    expect(learner.insights.weakAreas.map((w) => w.area)).toEqual(['joins']);
    expect(learner.insights.overallTrend.direction).toBe('up');
  });

  it('when a session is corrected, moved to another topic or deleted, then the mastery of both topics follows', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    learner.logAssessment(assessment('a1', 'sql', 40, 1));
    learner.logAssessment(assessment('a2', 'graphs', 80, 1));
    expect([learner.topic('sql')!.mastery, learner.topic('graphs')!.mastery]).toEqual([0.4, 0.8]);
    learner.correctSession('a1', { score: 60 });
    expect([learner.topic('sql')!.mastery, learner.topic('graphs')!.mastery]).toEqual([0.6, 0.8]);
    learner.logAssessment(assessment('a3', 'sql', 100, 1));
    learner.correctSession('a3', { topicId: 'graphs' });
    expect([learner.topic('sql')!.mastery, learner.topic('graphs')!.mastery]).toEqual([0.6, 0.9]);
    learner.deleteSession('a3');
    expect(learner.topic('graphs')!.mastery).toBe(0.8);
    learner.restoreSession('a3');
    expect(learner.topic('graphs')!.mastery).toBe(0.9);
  });

  it('when sessions and topics change one by one, then the insights kept per topic are what a full derivation gives', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    const doc = h.sessions[0]!.document;
    // Read after every step, so that each topic's derivation is kept and must be dropped when
    // one of its sessions changes.
    const check = (): void => expect(canonicalJson(learner.insights)).toBe(canonicalJson(deriveInsights(learner.timeline)));
    const steps: (() => void)[] = [
      () => learner.logAssessment(assessment('a1', 'sql', 40, 1, ['joins'])),
      () => learner.logAssessment(assessment('a2', 'sql', 90, 2)),
      () => learner.logAssessment(assessment('a3', 'graphs', 30, 3, ['bfs'])),
      () => learner.logAssessment(assessment('a4', 'sql', 20, 4)),
      () => learner.correctSession('a2', { score: 10 }),
      () => learner.correctSession('a4', { topicId: 'graphs' }),
      () => learner.correctSession('a1', { completedAt: new Date(Date.UTC(2026, 10, 9, 10)).toISOString() }),
      () => learner.deleteSession('a3'),
      () => learner.setDeleted('graphs', true),
      () => learner.logAssessment(assessment('a5', 'sql', 100, 5)),
      () => learner.setDeleted('graphs', false),
      () => learner.restoreSession('a3'),
      () => {
        const other = yjsEngine.load(doc.save());
        other.recordAssessment(assessment('a6', 'graphs', 95, 6));
        doc.applyUpdate(other.encodeDiff(doc.syncState()));
      },
    ];
    for (const step of steps) {
      step();
      check();
      void learner.topicList;
    }
    expect(Object.keys(learner.insights.trends).sort()).toEqual(['graphs', 'sql']);
  });

  it('when the document already holds a deleted topic with sessions as the store attaches, then restoring the topic brings its sessions back', () => {
    storeSignedIn('ada');
    const h = createHarness();
    h.run(() => useSyncStore());
    const doc = h.sessions[0]!.document;
    doc.recordAssessment(assessment('a1', 'sql', 70, 1));
    doc.recordAssessment(assessment('a2', 'graphs', 50, 2));
    doc.updateTopic('sql', { deleted: true });
    const learner = h.run(() => useLearnerStore());
    expect(learner.timeline.map((a) => a.assessmentId)).toEqual(['a2']);
    learner.setDeleted('sql', false);
    expect(learner.timeline.map((a) => a.assessmentId)).toEqual(['a1', 'a2']);
    expect(learner.topic('sql')!.assessmentCount).toBe(1);
    expect(learner.insights.assessmentCount).toBe(2);
  });

  it('when any mix of logs, corrections, deletions, topic deletions and remote batches is applied, then the timeline is the sorted sessions and the insights a full derivation', () => {
    const topicIds = ['sql', 'graphs', 'dp'];
    // Few ids, so that corrections and deletions mostly meet logged sessions.
    const id = fc.nat({ max: 7 }).map((n) => `a${n}`);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('log' as const), id, topic: fc.nat({ max: 2 }), score: fc.nat({ max: 100 }), day: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('correct' as const), id, topic: fc.nat({ max: 2 }), day: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('delete' as const), id, restore: fc.boolean() }),
      fc.record({ kind: fc.constant('topic' as const), topic: fc.nat({ max: 2 }), deleted: fc.boolean() }),
      // A remote batch past the store's threshold for sorting from scratch (64).
      fc.record({ kind: fc.constant('remote' as const), from: fc.nat({ max: 1_000 }), count: fc.integer({ min: 1, max: 90 }) }),
    );
    let corrected = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 8, maxLength: 30 }), (ops) => {
        localStorage.clear();
        storeSignedIn('ada');
        const h = createHarness();
        const learner = h.run(() => useLearnerStore());
        const doc = h.sessions[0]!.document;
        for (const o of ops) {
          if (o.kind === 'log') learner.logAssessment(assessment(o.id, topicIds[o.topic]!, o.score, o.day));
          else if (o.kind === 'correct') {
            const at = new Date(Date.UTC(2026, 10, o.day, 11)).toISOString();
            if (doc.getRecordedAssessment(o.id) && learner.correctSession(o.id, { topicId: topicIds[o.topic]!, completedAt: at })) corrected += 1;
          } else if (o.kind === 'delete') {
            if (doc.getRecordedAssessment(o.id)) {
              if (o.restore) learner.restoreSession(o.id);
              else learner.deleteSession(o.id);
            }
          } else if (o.kind === 'topic') {
            if (learner.topics[topicIds[o.topic]!]) learner.setDeleted(topicIds[o.topic]!, o.deleted);
          } else {
            const other = yjsEngine.load(doc.save());
            for (let i = 0; i < o.count; i++) other.recordAssessment(assessment(`r${o.from + i}`, topicIds[i % 3]!, (i * 13) % 101, 1 + (i % 5)));
            doc.applyUpdate(other.encodeDiff(doc.syncState()));
          }
          // Read after every step, as screens do, so that what the store keeps is used again.
          void learner.topicList;
          void learner.insights;
        }
        const expected = sortAssessments(Object.values(doc.facts().assessments));
        expect(learner.timeline).toEqual(expected);
        expect(canonicalJson(learner.insights)).toBe(canonicalJson(deriveInsights(expected)));
      }),
      { numRuns: 60, seed: 7 },
    );
    expect(corrected).toBeGreaterThan(20); // the generated mixes did correct sessions
  });

  it('when sessions are logged out of order, re-dated, deleted or restored, then the timeline stays in order', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    const ids = (): string[] => learner.timeline.map((a) => a.assessmentId);
    learner.logAssessment(assessment('a3', 'sql', 70, 3));
    learner.logAssessment(assessment('a1', 'sql', 70, 1));
    learner.logAssessment(assessment('a2', 'graphs', 70, 2));
    expect(ids()).toEqual(['a1', 'a2', 'a3']);
    learner.correctSession('a1', { completedAt: new Date(Date.UTC(2026, 10, 4, 10)).toISOString() });
    expect(ids()).toEqual(['a2', 'a3', 'a1']);
    learner.deleteSession('a2');
    expect(ids()).toEqual(['a3', 'a1']);
    learner.restoreSession('a2');
    expect(ids()).toEqual(['a2', 'a3', 'a1']);
    learner.setDeleted('sql', true);
    expect(ids()).toEqual(['a2']);
    learner.setDeleted('sql', false);
    expect(ids()).toEqual(['a2', 'a3', 'a1']);
    expect(learner.recentAssessments.map((a) => a.assessmentId)).toEqual(['a1', 'a3', 'a2']);
  });

  it('when an assessment is logged or a topic updated, then telemetry records the real use', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    const s = h.sessions[0]!;
    expect(learner.logAssessment(assessment('a1', 'sql', 70, 1))).toBe(true);
    expect(learner.logAssessment(assessment('a1', 'sql', 10, 1))).toBe(false);
    expect(learner.updateTopic('sql', { goal: 'Window functions' })).toBe(true);
    // The same value again is no change, and must not move updatedAt.
    const updatedAt = learner.topics['sql']!.updatedAt;
    expect(learner.updateTopic('sql', { goal: 'Window functions' })).toBe(false);
    expect(learner.topics['sql']!.updatedAt).toBe(updatedAt);
    expect(s.events.map((e) => e.eventType)).toEqual(['assessment_logged', 'topic_updated']);
    expect(s.events[1]!.eventData).toEqual({ topicId: 'sql', fields: ['goal'] });
  });

  it('when a topic is practised, then its status follows unless the learner chose one, and mastery is null until then', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    const cpp = learner.createTopic('C++');
    const go = learner.createTopic('Go');
    expect(learner.topic(cpp)).toMatchObject({ label: 'C++', status: 'not_started', mastery: null, assessmentCount: 0 });
    learner.updateTopic(go, { status: 'not_started' });
    learner.logAssessment(assessment('a1', cpp, 70, 1));
    learner.logAssessment(assessment('a2', go, 70, 1));
    expect(learner.topic(cpp)).toMatchObject({ status: 'in_progress', mastery: 0.7 });
    expect(learner.topic(go)!.status).toBe('not_started');
  });

  it('when a name is typed again in another form, or after the topic was deleted, then the same topic is used', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    const id = learner.createTopic('C++');
    expect(learner.resolveTopicName(' c++ ')).toBe(id);
    expect(learner.createTopic('Ｃ＋＋')).toBe(id);
    learner.logAssessment(assessment('a1', id, 70, 1));
    learner.setDeleted(id, true);
    expect(learner.timeline).toEqual([]);
    expect(learner.createTopic('C++')).toBe(id);
    expect(learner.timeline).toHaveLength(1);
    // A topic renamed away from "C++" keeps its id; a new "C++" gets a topic of its own.
    learner.renameTopic(id, 'C++ templates');
    const fresh = learner.createTopic('C++');
    expect(fresh).not.toBe(id);
    expect(learner.topic(fresh)?.label).toBe('C++');
    expect(learner.resolveTopicName('c++')).toBe(fresh);
    // Two devices that name a topic alike offline end with one topic.
    const other = yjsEngine.create({ node: 'phone' });
    other.updateTopic(learner.resolveTopicName('機械学習'), { name: '機械学習' });
    const mine = learner.createTopic('機械学習');
    const doc = h.sessions[0]!.document;
    doc.applyUpdate(other.save());
    expect(learner.topicList.filter((t) => t.label === '機械学習').map((t) => t.topicId)).toEqual([mine]);
  });

  it('when a session is dated in the future, then the store refuses it', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    expect(() => learner.logAssessment({ ...assessment('a1', 'sql', 50, 1), completedAt: '2031-01-01T00:00:00.000Z' })).toThrow(/future/);
    learner.logAssessment(assessment('a2', 'sql', 50, 1));
    expect(() => learner.correctSession('a2', { completedAt: '2031-01-01T00:00:00.000Z' })).toThrow(/future/);
    expect(learner.timeline.map((a) => a.completedAt)).toEqual([assessment('a2', 'sql', 50, 1).completedAt]);
  });

  it('when the learner keeps the newer value, then the losing one is gone on this device', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    const doc = h.sessions[0]!.document;
    const laptop = yjsEngine.load(doc.save(), { node: 'laptop', now: () => Date.now() + 60_000 });
    learner.updateTopic('sql', { status: 'completed' });
    laptop.updateTopic('sql', { status: 'in_progress' });
    doc.applyUpdate(laptop.encodeDiff(doc.syncState()));
    expect(learner.myLosingEdits('sql')).toMatchObject([{ field: 'status', current: 'in_progress', mine: { value: 'completed' } }]);
    // The laptop's own losing values are not "mine" here.
    expect(learner.keepCurrent('sql', 'status')).toBe(true);
    expect(learner.myLosingEdits('sql')).toEqual([]);
    expect(learner.topics['sql']?.status).toBe('in_progress');
  });

  it('when an assessment is invalid, then the model refuses it and nothing is written', () => {
    storeSignedIn('ada');
    const h = createHarness();
    const learner = h.run(() => useLearnerStore());
    expect(() => learner.logAssessment({ ...assessment('a1', 'sql', 101, 1) })).toThrow();
    expect(learner.timeline).toHaveLength(0);
    expect(h.sessions[0]!.events).toHaveLength(0);
  });

  it('when the learner signs out, then the mirror is emptied', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const { learner, auth } = h.run(() => ({ learner: useLearnerStore(), auth: useAuthStore() }));
    learner.logAssessment(assessment('a1', 'sql', 70, 1));
    auth.signOut();
    await vi.waitFor(() => expect(learner.timeline).toHaveLength(0));
  });
});
