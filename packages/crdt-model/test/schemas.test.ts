import { describe, expect, it } from 'vitest';
import {
  LIMITS,
  assessmentFastPath,
  assessmentSchema,
  batchRequestSchema,
  docNameSchema,
  eventDataSchema,
  eventItemFastPath,
  eventItemSchema,
  eventTypeSchema,
  makeBatchRequestSchema,
  ownerOfDocName,
  progressSchema,
  trackRequestSchema,
  userIdSchema,
  validationDetails,
} from '../src/index.js';
import { mulberry32 } from '../src/testing/index.js';

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

describe('the event item fast path', () => {
  const valid = {
    eventId: 'evt_1',
    eventType: 'question_answered',
    eventData: { questionId: 'q_1', score: 80, correct: true, tags: ['a', null], nested: { x: 1.5 } },
    metadata: { clientTimestamp: '2026-01-01T10:00:00.000Z', sentAt: '2026-01-01T10:00:05+02:00', userAgent: 'sdk/1', eventId: 'evt_1', sdkBuild: 7 },
  };

  /** A variant of `valid` with one field changed to a value near or past a limit. */
  function mutate(random: () => number): unknown {
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const item = structuredClone(valid) as Record<string, any>;
    const ids = ['', 'x'.repeat(128), 'x'.repeat(129), 'a b', 'a.b:c-d_e', '__proto__', 'constructor', 'é', 7, null, undefined];
    const times = ['2026-02-29T10:00:00Z', '2024-02-29T10:00:00Z', '2026-02-30T10:00:00Z', '2026-13-01T10:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T10:00:00', '2026-01-01T10:00:00.123456789-05:30', '2026-01-01 10:00:00Z', '', 0, undefined];
    const data = [
      {},
      [],
      null,
      'text',
      { n: Number.NaN },
      { n: Number.POSITIVE_INFINITY },
      { d: new Date() },
      { f: () => 1 },
      JSON.parse('{"__proto__": {"x": 1}}'),
      { prototype: 1 },
      { big: 'x'.repeat(10_922) },
      { big: 'x'.repeat(10_923) },
      { big: 'é'.repeat(16_000) },
      { big: 'x'.repeat(40_000) },
      // Control characters serialise to six characters each (\u0001): near the limit in text, not in length.
      { ctl: '\u0001'.repeat(5_400) },
      { ctl: '\u0001'.repeat(5_500) },
      { ['\u0001'.repeat(5_500)]: 1 },
      // Numbers of 24 characters: 1 200 fit, 1 400 do not.
      { ns: Array<number>(1_200).fill(-1.2345678901234567e-300) },
      { ns: Array<number>(1_400).fill(-1.2345678901234567e-300) },
      Object.create(null),
      JSON.parse('['.repeat(31) + ']'.repeat(31)),
      { deep: JSON.parse('['.repeat(31) + ']'.repeat(31)) },
      { deep: JSON.parse('['.repeat(32) + ']'.repeat(32)) },
    ];
    switch (Math.floor(random() * 9)) {
      case 0: item['eventId'] = pick(ids); break;
      case 1: item['eventType'] = pick(['', 'a'.repeat(64), 'a'.repeat(65), 'Upper', 'a b', 'a.b:c-d_e', 5]); break;
      case 2: item['eventData'] = pick(data); break;
      case 3: item['metadata']['clientTimestamp'] = pick(times); break;
      case 4: item['metadata']['sentAt'] = pick(times); break;
      case 5: item['metadata']['userAgent'] = pick(['', 'u'.repeat(512), 'u'.repeat(513), 5, null]); break;
      case 6: item['metadata']['eventId'] = pick(ids); break;
      case 7: item['metadata'] = pick([null, [], 'm', { clientTimestamp: '2026-01-01T10:00:00Z', pad: 'p'.repeat(1300) }, { clientTimestamp: '2026-01-01T10:00:00Z', pad: 'p'.repeat(1400) }, { clientTimestamp: '2026-01-01T10:00:00Z', pad: 'é'.repeat(2100) }]); break;
      default: item[pick(['extra', 'userId'])] = pick(ids);
    }
    return item;
  }

  it('when an event item is valid and ordinary, then the fast path answers exactly what the schema answers', () => {
    const parsed = eventItemSchema.safeParse(valid);
    expect(parsed.success).toBe(true);
    const fast = eventItemFastPath(valid);
    expect(fast).not.toBeNull();
    expect(fast).toStrictEqual(parsed.data);
    expect(fast!.eventData).toBe(parsed.data!.eventData);
  });

  it('when an item is changed near or past any limit, then the fast path accepts only what the schema accepts, and answers the same', () => {
    const random = mulberry32(20261203);
    let fastAnswered = 0;
    for (let i = 0; i < 3_000; i++) {
      const item = mutate(random);
      const fast = eventItemFastPath(item);
      if (fast === null) continue;
      fastAnswered += 1;
      const parsed = eventItemSchema.safeParse(item);
      expect(parsed.success, JSON.stringify(item)?.slice(0, 300)).toBe(true);
      expect(fast).toStrictEqual(parsed.data);
    }
    // The generator must also reach the accepting side, or this test checks nothing.
    expect(fastAnswered).toBeGreaterThan(300);
  });
});

describe('the stored assessment fast path', () => {
  const valid = {
    assessmentId: 'a_1',
    topicId: 'graphs',
    kind: 'mock_interview',
    score: 72.5,
    durationSec: 1800,
    questionsAttempted: 10,
    correctAnswers: 7,
    weakAreas: ['dp', 'big-o'],
    completedAt: '2025-03-01T10:00:00.000Z',
  };

  /** A variant of `valid` with one or two fields changed to values near or past a limit. */
  function mutate(random: () => number): unknown {
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const fact = structuredClone(valid) as Record<string, unknown>;
    const ids = ['', 'x'.repeat(128), 'x'.repeat(129), 'a b', 'a.b:c-d_e', '__proto__', 'constructor', 'é', 7, null, undefined];
    const numbers = [0, -0, 100, 100.0001, -1, 50.5, 86_400, 86_401, 10_000, 10_001, 3.5, Number.NaN, Number.POSITIVE_INFINITY, '5', null, undefined];
    const changes = 1 + Math.floor(random() * 2);
    for (let c = 0; c < changes; c++) {
      switch (Math.floor(random() * 11)) {
        case 0: fact['assessmentId'] = pick(ids); break;
        case 1: fact['topicId'] = pick(ids); break;
        case 2: fact['kind'] = pick(['', 'k', 'k'.repeat(64), 'k'.repeat(65), 5, undefined]); break;
        case 3: fact['score'] = pick(numbers); break;
        case 4: fact['durationSec'] = pick(numbers); break;
        case 5: fact['questionsAttempted'] = pick(numbers); break;
        case 6: fact['correctAnswers'] = pick(numbers); break;
        case 7: fact['weakAreas'] = pick([[], ['a'], [' a'], ['a '], [''], ['w'.repeat(128)], ['w'.repeat(129)], Array(32).fill('w'), Array(33).fill('w'), 'dp', [5], null, undefined]); break;
        case 8: fact['completedAt'] = pick(['2026-02-29T10:00:00Z', '2024-02-29T10:00:00Z', '2026-13-01T10:00:00Z', '2026-01-01T10:00:00', '2026-01-01T10:00:00.123-05:30', '', 0, undefined]); break;
        case 9: delete fact[pick(Object.keys(valid))]; break;
        default: fact[pick(['extra', 'userId'])] = pick(ids);
      }
    }
    return fact;
  }

  it('when a stored fact is valid and ordinary, then the fast path answers exactly what the schema answers, as a new object', () => {
    const parsed = assessmentSchema.safeParse(valid);
    expect(parsed.success).toBe(true);
    const fast = assessmentFastPath(valid);
    expect(fast).toStrictEqual(parsed.data);
    expect(Object.keys(fast!)).toEqual(Object.keys(parsed.data!));
    expect(fast).not.toBe(valid);
    expect(fast!.weakAreas).not.toBe(valid.weakAreas);
  });

  it('when a fact is changed near or past any limit, then the fast path accepts only what the schema accepts, and answers the same', () => {
    const random = mulberry32(20261204);
    let fastAnswered = 0;
    let fastDeclined = 0;
    for (let i = 0; i < 4_000; i++) {
      const fact = mutate(random);
      const fast = assessmentFastPath(fact);
      if (fast === null) {
        fastDeclined += 1;
        continue;
      }
      fastAnswered += 1;
      const parsed = assessmentSchema.safeParse(fact);
      expect(parsed.success, JSON.stringify(fact)).toBe(true);
      expect(fast).toStrictEqual(parsed.data);
      expect(Object.keys(fast)).toEqual(Object.keys(parsed.data!));
    }
    // The generator must reach both sides, or this test checks nothing.
    expect(fastAnswered).toBeGreaterThan(400);
    expect(fastDeclined).toBeGreaterThan(400);
  });
});
