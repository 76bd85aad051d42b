import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  GENESIS_CLIENT_ID,
  LearnerDocument,
  MigrationRegistry,
  RESERVED_CLIENT_BASE,
  topicClientId,
  yjsEngine,
  type LearnerChange,
  type Origin,
} from '../src/index.js';
import { automergeEngine } from '../src/automerge/index.js';

const fact = { assessmentId: 'a1', topicId: 'graphs', score: 70, completedAt: '2025-03-01T10:00:00.000Z', weakAreas: ['bfs'] };

/** Delivers every update of each doc to the other, both ways. */
function exchange(x: Y.Doc, y: Y.Doc): void {
  const fromX = Y.encodeStateAsUpdate(x, Y.encodeStateVector(y));
  const fromY = Y.encodeStateAsUpdate(y, Y.encodeStateVector(x));
  Y.applyUpdate(y, fromX);
  Y.applyUpdate(x, fromY);
}

describe('LearnerDocument (yjs): the wire shape of the learner document (docs/crdt-model.md)', () => {
  it('when facts and topics are written, then the four root maps hold them as specified', () => {
    const ld = yjsEngine.create();
    ld.recordAssessment(fact);
    ld.updateTopic('graphs', { status: 'in_progress', goal: 'ace' });
    ld.writeInsights();
    const doc = ld.doc;
    expect(doc.getMap('assessments').get('a1')).toEqual(fact);
    const topic = doc.getMap('topics').get('graphs');
    expect(topic).toBeInstanceOf(Y.Map);
    // Plain keys hold the current values; `field@<stamp>` keys hold the stamped writes.
    const map = topic as Y.Map<unknown>;
    expect([map.get('status'), map.get('goal')]).toEqual(['in_progress', 'ace']);
    expect([...map.keys()].filter((k) => !k.includes('@')).sort()).toEqual(['goal', 'status']);
    expect(doc.getMap('meta').get('schemaVersion')).toBe(1);
    expect(doc.getMap('insights').get('assessmentCount')).toBe(1);
    expect(ld.toJSON().topics['graphs']).toEqual({ status: 'in_progress', goal: 'ace', mastery: 0.7 });
  });

  it('when a plain Yjs client reads the document, then it sees the same JSON', () => {
    const ld = yjsEngine.create();
    ld.updateTopic('graphs', { notes: 'n' });
    const plain = new Y.Doc();
    Y.applyUpdate(plain, ld.save());
    expect((plain.getMap('topics').get('graphs') as Y.Map<unknown>).get('notes')).toBe('n');
  });
});

describe('LearnerDocument (yjs): facts', () => {
  it('when an assessment id is recorded twice, then the first fact is kept and nothing is written', () => {
    const ld = yjsEngine.create();
    expect(ld.recordAssessment(fact)).toBe(true);
    const updates: Uint8Array[] = [];
    ld.onUpdate((u) => updates.push(u));
    expect(ld.recordAssessment({ ...fact, score: 5 })).toBe(false);
    expect(updates).toHaveLength(0);
    expect(ld.getAssessment('a1')?.score).toBe(70);
  });

  it('when an assessment is invalid, then it throws and nothing is stored', () => {
    const ld = yjsEngine.create();
    expect(() => ld.recordAssessment({ ...fact, score: 200 })).toThrow();
    expect(ld.assessmentsMap.size).toBe(0);
  });

  it('when a foreign client stores junk, then reads skip it instead of trusting it', () => {
    const ld = yjsEngine.create();
    ld.assessmentsMap.set('bad', { assessmentId: 'bad', score: 'high' });
    ld.assessmentsMap.set('other', { ...fact });
    ld.topicsMap.set('t', new Y.Map([['status', 'sleeping'], ['goal', 42], ['notes', 'ok']]) as Y.Map<unknown>);
    expect(Object.keys(ld.facts().assessments)).toEqual([]);
    expect(ld.getTopic('t')).toEqual({ notes: 'ok' });
  });

  it('when many sessions are read at once, then each reads as it does alone: corrected, deleted, junk and unknown ones alike', () => {
    const ld = yjsEngine.create();
    for (let i = 0; i < 5; i++) ld.recordAssessment({ ...fact, assessmentId: `s${i}`, score: 50 + i });
    ld.correctAssessment('s1', { score: 99, weakAreas: null });
    ld.correctAssessment('s2', { deleted: true });
    ld.correctAssessment('s3', { topicId: 'trees' });
    ld.assessmentsMap.set('bad', { assessmentId: 'bad', score: 'high' });
    const ids = ['s0', 's1', 's2', 's3', 's4', 'bad', 'missing'];
    const many = ld.getAssessments(ids);
    expect([...many.keys()]).toEqual(ids);
    for (const id of ids) expect(many.get(id), id).toStrictEqual(ld.getAssessment(id));
    expect(many.get('s1')).toMatchObject({ score: 99 });
    expect(many.get('s1')).not.toHaveProperty('weakAreas');
    expect(many.get('s2')).toBeUndefined();
    expect(many.get('s3')?.topicId).toBe('trees');
  });
});

describe('LearnerDocument (yjs): observers of one change', () => {
  it('when two observers read the sessions of one change, then they get one reading; a later change is read anew', () => {
    const ld = yjsEngine.create();
    const reads: ReadonlyMap<string, unknown>[] = [];
    const changes: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      ld.observe((change) => {
        changes.push(change);
        reads.push(ld.getAssessments(change.assessments));
      });
    }
    ld.recordAssessment({ ...fact, assessmentId: 'a1', score: 40 });
    expect(changes[0]).toBe(changes[1]);
    expect(reads[0]).toBe(reads[1]);
    expect(reads[0]?.get('a1')).toMatchObject({ score: 40 });

    ld.correctAssessment('a1', { score: 90 });
    expect(reads[2]).not.toBe(reads[0]);
    expect(reads[2]?.get('a1')).toMatchObject({ score: 90 });
    expect(reads[3]).toBe(reads[2]);
    // The same ids read later, after another transaction, are read again.
    const ids = (changes[2] as { assessments: readonly string[] }).assessments;
    expect(Object.isFrozen(ids)).toBe(true);
    ld.correctAssessment('a1', { score: 10 });
    expect(ld.getAssessments(ids).get('a1')).toMatchObject({ score: 10 });
  });

  it('when the first observer writes, then the second reads the document as that write left it', () => {
    const ld = yjsEngine.create();
    let seen: unknown;
    ld.observe((change) => {
      ld.getAssessments(change.assessments);
      if (change.assessments.includes('b1') && ld.getAssessment('b1')?.score === 40) ld.correctAssessment('b1', { score: 41 });
    });
    ld.observe((change) => {
      if (change.assessments.includes('b1')) seen = ld.getAssessments(change.assessments).get('b1');
    });
    ld.recordAssessment({ ...fact, assessmentId: 'b1', score: 40 });
    expect(seen).toMatchObject({ score: 41 });
  });
});

describe('LearnerDocument (yjs): concurrent topic creation', () => {
  it('when two offline replicas create the same topic with different fields, then both fields survive', () => {
    const x = yjsEngine.create({ replicaId: 1 });
    const y = yjsEngine.create({ replicaId: 2 });
    x.updateTopic('new-topic', { status: 'in_progress' });
    y.updateTopic('new-topic', { goal: 'ace', notes: 'from y' });
    exchange(x.doc, y.doc);
    expect(x.getTopic('new-topic')).toEqual({ status: 'in_progress', goal: 'ace', notes: 'from y' });
    expect(x.fingerprint()).toBe(y.fingerprint());
  });

  it('when replicas create nested maps naively instead, then one replica loses its field (why the design exists)', () => {
    const x = new Y.Doc();
    const y = new Y.Doc();
    x.clientID = 1;
    y.clientID = 2;
    const mx = new Y.Map<string>();
    x.getMap('topics').set('t', mx);
    mx.set('status', 'in_progress');
    const my = new Y.Map<string>();
    y.getMap('topics').set('t', my);
    my.set('goal', 'ace');
    exchange(x, y);
    const merged = (x.getMap('topics').get('t') as Y.Map<string>).toJSON();
    expect(Object.keys(merged)).toHaveLength(1);
  });

  it('when the topic map is created, then it comes from a reserved clientID derived from the topicId', () => {
    const ld = yjsEngine.create({ replicaId: 7 });
    ld.updateTopic('graphs', { status: 'completed' });
    const map = ld.topicsMap.get('graphs') as Y.Map<unknown>;
    expect(map._item?.id.client).toBe(topicClientId('graphs'));
    expect(topicClientId('graphs')).toBeGreaterThan(RESERVED_CLIENT_BASE);
    expect(topicClientId('graphs')).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    // The replica keeps its own clientID (Yjs would change it if it thought it was shared).
    expect(ld.doc.clientID).toBe(7);
  });

  it('when a topic is created inside a caller transaction, then the update is local and sent', () => {
    const ld = yjsEngine.create({ replicaId: 3 });
    const updates: Uint8Array[] = [];
    ld.onUpdate((u) => updates.push(u));
    ld.doc.transact(() => ld.updateTopic('t', { goal: 'g' }));
    expect(updates).toHaveLength(1);
    const other = yjsEngine.create();
    other.applyUpdate(updates[0]!);
    expect(other.getTopic('t')).toEqual({ goal: 'g' });
  });

  it('when a patch repeats the stored values, then nothing is written', () => {
    const ld = yjsEngine.create();
    ld.updateTopic('t', { status: 'in_progress' });
    const updates: Uint8Array[] = [];
    ld.onUpdate((u) => updates.push(u));
    expect(ld.updateTopic('t', { status: 'in_progress' })).toBe(false);
    expect(ld.applyProgress({ topicId: 't', status: 'completed' })).toBe(true);
    expect(updates).toHaveLength(1);
  });
});

describe('LearnerDocument (yjs): insights, observe, origins', () => {
  it('when insights are unchanged, then writeInsights writes nothing', () => {
    const ld = yjsEngine.create();
    ld.recordAssessment(fact);
    expect(ld.writeInsights()).toBe(true);
    const updates: Uint8Array[] = [];
    ld.onUpdate((u) => updates.push(u));
    expect(ld.writeInsights()).toBe(false);
    expect(updates).toHaveLength(0);
    ld.recordAssessment({ ...fact, assessmentId: 'a2', score: 10 });
    expect(ld.writeInsights()).toBe(true);
    expect(updates).toHaveLength(2);
  });

  it('when changes happen, then observers get the ids and the typed origin', () => {
    const ld = yjsEngine.create({ replicaId: 1 });
    const changes: LearnerChange[] = [];
    const off = ld.observe((c) => changes.push(c));
    const server: Origin = { kind: 'server', batchId: 'b1' };
    ld.recordAssessment(fact, server);
    ld.updateTopic('graphs', { status: 'completed' });
    const peer = yjsEngine.create({ replicaId: 2 });
    peer.updateTopic('graphs', { notes: 'x' });
    ld.applyUpdate(peer.encodeDiff(ld.syncState()), { kind: 'remote', peer: 'p' });
    off();
    ld.updateTopic('graphs', { goal: 'unseen' });
    expect(changes.map((c) => [c.origin?.kind, c.local, c.assessments, c.topics])).toEqual([
      ['server', true, ['a1'], []],
      ['local', true, [], ['graphs']],
      ['remote', false, [], ['graphs']],
    ]);
  });
});

describe('schema version and migrations', () => {
  it('when two replicas initialise concurrently, then they write the identical genesis struct', () => {
    const x = yjsEngine.create({ replicaId: 1 });
    const y = yjsEngine.create({ replicaId: 2 });
    exchange(x.doc, y.doc);
    expect(Y.decodeStateVector(Y.encodeStateVector(x.doc)).get(GENESIS_CLIENT_ID)).toBe(1);
    expect(x.schemaVersion()).toBe(1);
  });

  it('when a migration to version 2 is registered, then ensureSchema runs it once and a fresh replica cannot roll it back', () => {
    const migrations = new MigrationRegistry<LearnerDocument>().register(2, (ld, step) => {
      ld.metaMap.set('migratedBy', `v${step.from}->v${step.to}`);
    });
    const server = new LearnerDocument(new Y.Doc(), { migrations });
    expect(server.ensureSchema()).toEqual({ version: 2, migrated: [2], supported: true });
    expect(server.metaMap.get('migratedBy')).toBe('v1->v2');
    expect(server.ensureSchema()).toEqual({ version: 2, migrated: [], supported: true });
    // A new device initialises version 1 offline, then syncs: the migration still wins,
    // because the device's genesis is the very struct the migration overwrote.
    const device = yjsEngine.create({ replicaId: 9 });
    exchange(server.doc, device.doc);
    expect(device.schemaVersion()).toBe(2);
    expect(server.schemaVersion()).toBe(2);
    // Code that only knows version 1 reports that it cannot write this document safely.
    expect(new LearnerDocument(device.doc).ensureSchema().supported).toBe(false);
  });

  it('when a migration version is registered twice or below 2, then the registry refuses it', () => {
    const r = new MigrationRegistry<LearnerDocument>().register(2, () => {});
    expect(() => r.register(2, () => {})).toThrow();
    expect(() => r.register(1, () => {})).toThrow(RangeError);
  });
});

describe.each([yjsEngine, automergeEngine])('engine $name', (engine) => {
  it('when saved and loaded, then the JSON and the fingerprint are preserved', () => {
    const r = engine.create({ replicaId: 1 });
    r.recordAssessment(fact);
    r.updateTopic('graphs', { status: 'completed', updatedAt: '2025-03-02T00:00:00.000Z' });
    r.writeInsights();
    const loaded = engine.load(r.save(), { replicaId: 2 });
    expect(loaded.toJSON()).toEqual(r.toJSON());
    expect(loaded.fingerprint()).toBe(r.fingerprint());
  });

  it('when changes are applied, then observe reports them', () => {
    const r = engine.create({ replicaId: 1 });
    const seen: LearnerChange[] = [];
    r.observe((c) => seen.push(c));
    r.recordAssessment(fact);
    r.updateTopic('graphs', { goal: 'g' });
    const other = engine.create({ replicaId: 2 });
    other.applyUpdate(r.save());
    expect(seen.map((c) => [c.assessments, c.topics, c.local])).toEqual([
      [['a1'], [], true],
      [[], ['graphs'], true],
    ]);
  });
});
