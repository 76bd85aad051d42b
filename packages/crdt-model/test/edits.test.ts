import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  HybridClock,
  LIMITS,
  assertNotInFuture,
  batchRequestSchema,
  compareStamps,
  decodeStamp,
  effectiveTopicStatus,
  encodeStamp,
  progressSchema,
  topicIdForName,
  topicNameSchema,
  yjsEngine,
  type LearnerModelEngine,
  type LearnerReplica,
} from '../src/index.js';
import { automergeEngine } from '../src/automerge/index.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 5, 1, 9, 0);

/** A replica whose wall clock the test moves. */
function device(engine: LearnerModelEngine, node: string, replicaId: number, clock: { now: number }): LearnerReplica {
  return engine.create({ replicaId, node, now: () => clock.now });
}

function sync(a: LearnerReplica, b: LearnerReplica): void {
  b.applyUpdate(a.encodeDiff(b.syncState()));
  a.applyUpdate(b.encodeDiff(a.syncState()));
}

describe.each([yjsEngine, automergeEngine] as LearnerModelEngine[])('edits by time of edit ($name)', (engine) => {
  it('when B saves a goal online and A, offline since before, later saves another, then both show A’s and B’s value is kept as the losing value', () => {
    // Replica ids are chosen both ways round: Yjs alone would let the higher clientID win.
    for (const [idA, idB] of [[1, 2], [2, 1]] as const) {
      const time = { now: T0 };
      const a = device(engine, 'deviceA', idA, time);
      const b = device(engine, 'deviceB', idB, time);
      a.updateTopic('graphs', { goal: 'first' });
      sync(a, b);
      // A goes offline; B saves online at 9:05, A saves at 9:10 while still offline.
      time.now = T0 + 5 * MIN;
      b.updateTopic('graphs', { goal: 'B goal' });
      time.now = T0 + 10 * MIN;
      a.updateTopic('graphs', { goal: 'A goal' });
      sync(b, a);
      for (const r of [a, b]) {
        expect(r.getTopic('graphs')?.goal).toBe('A goal');
        expect(r.topicConflicts('graphs')).toEqual([
          { field: 'goal', value: 'A goal', losing: [{ value: 'B goal', node: 'deviceB', at: T0 + 5 * MIN, stamp: expect.any(String) }] },
        ]);
      }
      expect(a.fingerprint()).toBe(b.fingerprint());
    }
  });

  it('when the losing device restores its value, then it wins everywhere and the conflict is gone', () => {
    const time = { now: T0 };
    const a = device(engine, 'deviceA', 1, time);
    const b = device(engine, 'deviceB', 2, time);
    b.updateTopic('graphs', { notes: 'mine' });
    time.now += MIN;
    a.updateTopic('graphs', { notes: 'theirs' });
    sync(a, b);
    expect(b.topicConflicts('graphs')[0]?.losing[0]?.value).toBe('mine');
    time.now += MIN;
    expect(b.updateTopic('graphs', { notes: 'mine' })).toBe(true);
    sync(a, b);
    for (const r of [a, b]) {
      expect(r.getTopic('graphs')?.notes).toBe('mine');
      expect(r.topicConflicts('graphs')).toEqual([]);
    }
  });

  it('when the learner keeps the current value, then the losing value is dropped on every device', () => {
    const time = { now: T0 };
    const a = device(engine, 'deviceA', 1, time);
    const b = device(engine, 'deviceB', 2, time);
    b.updateTopic('graphs', { status: 'completed' });
    time.now += MIN;
    a.updateTopic('graphs', { status: 'in_progress' });
    sync(a, b);
    expect(b.dismissTopicConflict('graphs', 'status')).toBe(true);
    expect(b.dismissTopicConflict('graphs', 'status')).toBe(false);
    sync(a, b);
    for (const r of [a, b]) {
      expect(r.getTopic('graphs')?.status).toBe('in_progress');
      expect(r.topicConflicts('graphs')).toEqual([]);
    }
  });

  it('when a device’s clock is a year ahead, then an edit made after seeing its value still wins', () => {
    const ahead = { now: T0 + 365 * 24 * 60 * MIN };
    const right = { now: T0 };
    const x = device(engine, 'fast', 1, ahead);
    const y = device(engine, 'right', 2, right);
    x.updateTopic('graphs', { goal: 'from the future' });
    sync(x, y);
    right.now += MIN;
    y.updateTopic('graphs', { goal: 'corrected' });
    sync(x, y);
    for (const r of [x, y]) {
      expect(r.getTopic('graphs')?.goal).toBe('corrected');
      expect(r.topicConflicts('graphs')).toEqual([]);
    }
    // Y's stamp carries X's time forward, so Y's next concurrent edits are not all older.
    expect(decodeStamp(y.lastStamp()!)!.wall).toBeGreaterThan(T0 + 364 * 24 * 60 * MIN);
  });

  it('when two devices edit in the same millisecond, then the device id decides, the same everywhere', () => {
    const time = { now: T0 };
    const a = device(engine, 'aaa', 2, time);
    const b = device(engine, 'bbb', 1, time);
    a.updateTopic('t', { goal: 'from aaa' });
    b.updateTopic('t', { goal: 'from bbb' });
    sync(a, b);
    expect(a.getTopic('t')?.goal).toBe('from bbb');
    expect(b.getTopic('t')?.goal).toBe('from bbb');
  });

  it('when a session is corrected, deleted and restored, then derived values follow and the fact is kept', () => {
    const time = { now: T0 };
    const a = device(engine, 'deviceA', 1, time);
    a.recordAssessment({ assessmentId: 's1', topicId: 'sql', score: 40, completedAt: '2026-05-01T10:00:00.000Z', weakAreas: ['joins'] });
    a.recordAssessment({ assessmentId: 's2', topicId: 'sql', score: 80, completedAt: '2026-05-02T10:00:00.000Z' });
    expect(a.correctAssessment('s1', { score: 90, weakAreas: null })).toBe(true);
    expect(a.correctAssessment('s1', { score: 90 })).toBe(false);
    expect(a.getAssessment('s1')).toEqual({ assessmentId: 's1', topicId: 'sql', score: 90, completedAt: '2026-05-01T10:00:00.000Z' });
    expect(a.getRecordedAssessment('s1')?.score).toBe(40);
    expect(a.derive().weakAreas).toEqual([]);
    expect(a.toJSON().topics['sql']?.mastery).toBeGreaterThan(0.8);
    a.correctAssessment('s2', { deleted: true });
    expect(a.isAssessmentDeleted('s2')).toBe(true);
    expect(a.derive().assessmentCount).toBe(1);
    expect(a.recordAssessment({ assessmentId: 's2', topicId: 'sql', score: 80, completedAt: '2026-05-02T10:00:00.000Z' })).toBe(false);
    a.correctAssessment('s2', { deleted: false });
    expect(a.derive().assessmentCount).toBe(2);
    expect(() => a.correctAssessment('s1', { correctAnswers: 5, questionsAttempted: 3 })).toThrow(/correctAnswers/);
    expect(() => a.correctAssessment('nope', { score: 1 })).toThrow(/no session/);
  });

  it('when a session is corrected here or on another device, then observers hear of that session', () => {
    const a = device(engine, 'deviceA', 1, { now: T0 });
    const b = device(engine, 'deviceB', 2, { now: T0 });
    a.recordAssessment({ assessmentId: 's1', topicId: 'sql', score: 40, completedAt: '2026-05-01T10:00:00.000Z' });
    sync(a, b);
    const heardA: string[][] = [];
    const heardB: string[][] = [];
    a.observe((c) => heardA.push([...c.assessments]));
    b.observe((c) => heardB.push([...c.assessments]));
    a.correctAssessment('s1', { deleted: true });
    sync(a, b);
    expect(heardA).toEqual([['s1']]);
    expect(heardB).toEqual([['s1']]);
    expect(b.getAssessment('s1')).toBeUndefined();
  });

  it('when a topic is deleted, then its sessions leave the derived values until it is restored', () => {
    const a = device(engine, 'deviceA', 1, { now: T0 });
    a.recordAssessment({ assessmentId: 's1', topicId: 'sql', score: 40, completedAt: '2026-05-01T10:00:00.000Z', weakAreas: ['joins'] });
    a.updateTopic('sql', { deleted: true });
    expect(a.derive()).toMatchObject({ assessmentCount: 0, weakAreas: [], weakTopics: [] });
    expect(a.facts().topics['sql']?.deleted).toBe(true);
    a.updateTopic('sql', { deleted: false });
    expect(a.derive().assessmentCount).toBe(1);
  });

  it('when two devices create "C++" offline, then they share one topic with that name', () => {
    const time = { now: T0 };
    const a = device(engine, 'deviceA', 1, time);
    const b = device(engine, 'deviceB', 2, time);
    const id = topicIdForName('C++');
    expect(topicIdForName(' c++ ')).toBe(id);
    a.updateTopic(id, { name: 'C++', goal: 'templates' });
    time.now += 1;
    b.updateTopic(topicIdForName('C++'), { name: 'C++', status: 'in_progress' });
    sync(a, b);
    expect(Object.keys(a.facts().topics)).toEqual([id]);
    expect(b.getTopic(id)).toMatchObject({ name: 'C++', goal: 'templates', status: 'in_progress' });
  });
});

describe('documents written before stamps', () => {
  function legacyDoc(fields: Record<string, string>): LearnerReplica {
    const doc = new Y.Doc();
    const map = new Y.Map<unknown>();
    doc.getMap('topics').set('graphs', map);
    for (const [k, v] of Object.entries(fields)) map.set(k, v);
    return yjsEngine.load(Y.encodeStateAsUpdate(doc), { node: 'new', now: () => T0 });
  }

  it('when an older document is read, then its plain values are the topic', () => {
    const ld = legacyDoc({ status: 'completed', goal: 'old goal', updatedAt: '2025-01-01T00:00:00.000Z' });
    expect(ld.getTopic('graphs')).toEqual({ status: 'completed', goal: 'old goal', updatedAt: '2025-01-01T00:00:00.000Z' });
    expect(ld.topicConflicts('graphs')).toEqual([]);
    ld.updateTopic('graphs', { goal: 'new goal' });
    expect(ld.getTopic('graphs')?.goal).toBe('new goal');
    expect(ld.getTopic('graphs')?.status).toBe('completed');
  });

  it('when an older client writes a plain value with a newer updatedAt, then it beats an older stamped value', () => {
    const ld = legacyDoc({ goal: 'old goal', updatedAt: '2025-01-01T00:00:00.000Z' });
    ld.updateTopic('graphs', { goal: 'stamped', updatedAt: new Date(T0).toISOString() });
    const map = (ld as unknown as { topicsMap: Y.Map<unknown> }).topicsMap.get('graphs') as Y.Map<unknown>;
    map.set('goal', 'legacy later');
    map.set('updatedAt', new Date(T0 + MIN).toISOString());
    expect(ld.getTopic('graphs')?.goal).toBe('legacy later');
  });
});

describe('hybrid logical clock', () => {
  it('when the wall clock stands still or goes back, then stamps still increase', () => {
    let now = T0;
    const clock = new HybridClock('n1', () => now);
    const s1 = clock.next();
    now -= 5 * MIN;
    const s2 = clock.next();
    const s3 = clock.next([{ wall: T0 + MIN, counter: 7, node: 'other' }]);
    expect(compareStamps(s1, s2)).toBeLessThan(0);
    expect(s3).toEqual({ wall: T0 + MIN, counter: 8, node: 'n1' });
    expect(encodeStamp(s1) < encodeStamp(s2) && encodeStamp(s2) < encodeStamp(s3)).toBe(true);
    expect(decodeStamp(encodeStamp(s3))).toEqual(s3);
    expect(decodeStamp('garbage')).toBeUndefined();
    expect(() => new HybridClock('has space')).toThrow(TypeError);
  });
});

describe('topic names and statuses', () => {
  it('when a name is any script or emoji of sensible length, then it is accepted, also by the REST schemas', () => {
    for (const name of ['C++', 'C#', '機械学習', 'الخوارزميات', 'Graphs 🧭', 'Ｃ＋＋']) {
      expect(topicNameSchema.parse(name)).toBe(name.normalize('NFC'));
      expect(progressSchema.parse({ topicId: topicIdForName(name), name }).name).toBe(name);
    }
    const batch = batchRequestSchema.safeParse({ batchId: 'b1', items: [{ itemType: 'progress', itemData: { topicId: topicIdForName('機械学習'), name: '機械学習' } }] });
    expect(batch.success).toBe(true);
    expect(topicIdForName('Ｃ＋＋')).toBe(topicIdForName('c++'));
    expect(topicIdForName('System design')).toBe('system-design');
    expect(topicIdForName('機械学習')).toMatch(/^u-[0-9a-z]+$/);
  });

  it('when a name is empty, too long or hides a direction override, then it is refused with a reason', () => {
    expect(topicNameSchema.safeParse('   ').error?.issues[0]?.message).toMatch(/empty/);
    expect(topicNameSchema.safeParse('x'.repeat(LIMITS.maxTopicNameLength + 1)).success).toBe(false);
    expect(topicNameSchema.safeParse('😀'.repeat(LIMITS.maxTopicNameLength)).success).toBe(true);
    expect(topicNameSchema.safeParse('abc\u202Edef').error?.issues[0]?.message).toMatch(/direction/);
  });

  it('when a topic gets its first session, then it shows in progress unless the learner chose a status', () => {
    expect(effectiveTopicStatus({}, 0)).toBe('not_started');
    expect(effectiveTopicStatus({}, 1)).toBe('in_progress');
    expect(effectiveTopicStatus({ status: 'not_started' }, 3)).toBe('not_started');
  });

  it('when a session is dated beyond the allowed clock skew, then it is refused', () => {
    expect(() => assertNotInFuture(new Date(T0 + 4 * MIN).toISOString(), T0)).not.toThrow();
    expect(() => assertNotInFuture('2031-01-01T00:00:00.000Z', T0)).toThrow(/future/);
  });
});
