import { describe, expect, it } from 'vitest';
import {
  LIMITS,
  assessmentSchema,
  batchRequestSchema,
  docNameSchema,
  eventDataSchema,
  eventTypeSchema,
  makeBatchRequestSchema,
  ownerOfDocName,
  progressSchema,
  trackRequestSchema,
  userIdSchema,
  validationDetails,
} from '../src/index.js';

const assessment = { assessmentId: 'a1', topicId: 'graphs', score: 80, completedAt: '2025-03-01T10:00:00.000Z' };
const event = { eventType: 'interview_completed', eventData: { score: 1 }, metadata: { clientTimestamp: '2025-03-01T10:00:00Z' } };

describe('ids and document names', () => {
  it('when a userId has 1–128 allowed characters, then it parses', () => {
    expect(userIdSchema.safeParse('user_1-A').success).toBe(true);
    expect(userIdSchema.safeParse('x'.repeat(128)).success).toBe(true);
  });
  it('when a userId is empty, too long, has other characters or is a reserved name, then it is rejected', () => {
    for (const bad of ['', 'x'.repeat(129), 'a/b', 'a.b', 'é', '__proto__']) expect(userIdSchema.safeParse(bad).success).toBe(false);
  });
  it('when a document name is <userId> or <userId>/<name>, then its owner is the userId', () => {
    expect(ownerOfDocName('alice')).toBe('alice');
    expect(ownerOfDocName('alice/notes-2')).toBe('alice');
    expect(docNameSchema.safeParse('alice/notes-2').success).toBe(true);
  });
  it('when a document name is malformed, then it has no owner', () => {
    for (const bad of ['', '/x', 'alice/', 'alice/a/b', 'alice/a.b', `alice/${'n'.repeat(129)}`, '../etc']) {
      expect(ownerOfDocName(bad), bad).toBeNull();
      expect(docNameSchema.safeParse(bad).success).toBe(false);
    }
  });
});

describe('telemetry events', () => {
  it('when an event type uses [a-z0-9_.:-] up to 64 chars, then it parses', () => {
    expect(eventTypeSchema.safeParse('quiz.answer:v2_x-y').success).toBe(true);
    expect(eventTypeSchema.safeParse('a'.repeat(65)).success).toBe(false);
    expect(eventTypeSchema.safeParse('Quiz').success).toBe(false);
  });
  it('when eventData is over 32 KiB serialized, then it is rejected', () => {
    const limit = LIMITS.maxEventDataBytes;
    expect(eventDataSchema.safeParse({ s: 'x'.repeat(limit - 10) }).success).toBe(true);
    expect(eventDataSchema.safeParse({ s: 'x'.repeat(limit) }).success).toBe(false);
  });
  it('when eventData holds multi-byte text, then the limit counts UTF-8 bytes', () => {
    const limit = LIMITS.maxEventDataBytes;
    // 'é' is 2 bytes, '€' 3: the first fits in bytes, the second does not, with equal lengths.
    const chars = Math.floor((limit - 10) / 2);
    expect(eventDataSchema.safeParse({ s: 'é'.repeat(chars) }).success).toBe(true);
    expect(eventDataSchema.safeParse({ s: '€'.repeat(chars) }).success).toBe(false);
    expect(eventDataSchema.safeParse({ s: '€'.repeat(Math.floor((limit - 10) / 3)) }).success).toBe(true);
  });
  it('when eventData holds a forbidden key at any depth, then the issue names its path', () => {
    const data = JSON.parse('{"a":{"b":[{"__proto__":{"x":1}}]},"constructor":1}') as unknown;
    const result = eventDataSchema.safeParse(data);
    expect(result.success).toBe(false);
    const paths = validationDetails(result.error!).map((d) => d.path).sort();
    expect(paths).toEqual(['a.b.0.__proto__', 'constructor']);
  });
  it('when eventData is not a plain JSON object, then it is rejected', () => {
    for (const bad of [[], 'x', null, { d: new Date() }, { n: Number.NaN }, new Map()]) expect(eventDataSchema.safeParse(bad).success).toBe(false);
  });
  it('when a track request is valid, then extra small metadata fields pass through', () => {
    const parsed = trackRequestSchema.parse({ ...event, metadata: { ...event.metadata, sdkVersion: '1.2.0', eventId: 'e-1' } });
    expect(parsed.metadata).toMatchObject({ sdkVersion: '1.2.0', eventId: 'e-1' });
  });
  it('when metadata has a bad timestamp or a long user agent, then the issues carry field paths', () => {
    const result = trackRequestSchema.safeParse({ ...event, metadata: { clientTimestamp: 'yesterday', userAgent: 'u'.repeat(513) } });
    expect(validationDetails(result.error!).map((d) => d.path).sort()).toEqual(['metadata.clientTimestamp', 'metadata.userAgent']);
  });
});

describe('assessments and progress', () => {
  it('when an assessment is valid, then unknown keys are dropped', () => {
    expect(assessmentSchema.parse({ ...assessment, extra: 1 })).toEqual(assessment);
  });
  it('when a score is outside 0–100 or correctAnswers exceeds questionsAttempted, then the path is given', () => {
    const r1 = assessmentSchema.safeParse({ ...assessment, score: 101 });
    expect(validationDetails(r1.error!)[0]!.path).toBe('score');
    const r2 = assessmentSchema.safeParse({ ...assessment, questionsAttempted: 3, correctAnswers: 4 });
    expect(validationDetails(r2.error!)[0]!.path).toBe('correctAnswers');
  });
  it('when completedAt has an offset, then it parses; when it is a date only, then not', () => {
    expect(assessmentSchema.safeParse({ ...assessment, completedAt: '2025-03-01T10:00:00+02:00' }).success).toBe(true);
    expect(assessmentSchema.safeParse({ ...assessment, completedAt: '2025-03-01' }).success).toBe(false);
  });
  it('when progress has an unknown status, then it is rejected', () => {
    expect(progressSchema.safeParse({ topicId: 't', status: 'completed' }).success).toBe(true);
    expect(progressSchema.safeParse({ topicId: 't', status: 'done' }).success).toBe(false);
  });
});

describe('batches', () => {
  const item = { itemType: 'assessment', itemData: assessment };
  it('when a batch mixes item types, then each is validated by its itemType', () => {
    const parsed = batchRequestSchema.parse({
      batchId: 'batch_1',
      items: [item, { itemType: 'progress', itemData: { topicId: 'graphs', goal: 'ace' } }, { itemType: 'event', itemData: { ...event, eventId: 'e1' } }],
    });
    expect(parsed.items.map((i) => i.itemType)).toEqual(['assessment', 'progress', 'event']);
  });
  it('when an item is invalid, then the issue path points into the item', () => {
    const result = batchRequestSchema.safeParse({ batchId: 'b', items: [item, { itemType: 'event', itemData: event }] });
    expect(validationDetails(result.error!).map((d) => d.path)).toEqual(['items.1.itemData.eventId']);
  });
  it('when a batch is empty or larger than the maximum, then it is rejected', () => {
    expect(batchRequestSchema.safeParse({ batchId: 'b', items: [] }).success).toBe(false);
    expect(batchRequestSchema.safeParse({ batchId: 'b', items: Array(500).fill(item) }).success).toBe(true);
    expect(batchRequestSchema.safeParse({ batchId: 'b', items: Array(501).fill(item) }).success).toBe(false);
    const small = makeBatchRequestSchema(2);
    expect(small.safeParse({ batchId: 'b', items: Array(3).fill(item) }).success).toBe(false);
    expect(() => makeBatchRequestSchema(0)).toThrow(RangeError);
  });
});
