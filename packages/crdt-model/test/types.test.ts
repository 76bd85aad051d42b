/** Type-level tests of the exported API (checked by tsc -p tsconfig.test.json and by vitest). */
import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  LearnerDocument,
  assessmentSchema,
  batchRequestSchema,
  deriveInsights,
  docNameSchema,
  makeBatchRequestSchema,
  userIdSchema,
  yjsEngine,
  type Assessment,
  type BatchItem,
  type DocName,
  type Insights,
  type LearnerDocumentJSON,
  type LearnerModelEngine,
  type LearnerReplica,
  type Origin,
  type TopicStatus,
  type UserId,
} from '../src/index.js';
import { automergeEngine, type AutomergeLearnerDocument } from '../src/automerge/index.js';

describe('exported types', () => {
  it('ids are branded: a plain string is not a UserId or DocName', () => {
    expectTypeOf<string>().not.toEqualTypeOf<UserId>();
    expectTypeOf(userIdSchema.parse('u')).toEqualTypeOf<UserId>();
    expectTypeOf(docNameSchema.parse('u/n')).toEqualTypeOf<DocName>();
    expectTypeOf<UserId>().toExtend<string>();
  });

  it('schemas infer the fact types', () => {
    expectTypeOf<z.output<typeof assessmentSchema>>().toEqualTypeOf<Assessment>();
    expectTypeOf<Assessment['score']>().toEqualTypeOf<number>();
    expectTypeOf<Assessment['weakAreas']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<TopicStatus>().toEqualTypeOf<'not_started' | 'in_progress' | 'completed'>();
    expectTypeOf<BatchItem['itemType']>().toEqualTypeOf<'event' | 'progress' | 'assessment'>();
    expectTypeOf(makeBatchRequestSchema(10)).toEqualTypeOf(batchRequestSchema);
  });

  it('batch items narrow on itemType', () => {
    expectTypeOf<Extract<BatchItem, { itemType: 'assessment' }>['itemData']>().toEqualTypeOf<Assessment>();
  });

  it('origins are a closed union, not strings', () => {
    expectTypeOf<Origin['kind']>().toEqualTypeOf<'local' | 'remote' | 'server' | 'persistence' | 'migration'>();
    expectTypeOf<'local'>().not.toExtend<Origin>();
    expectTypeOf<{ kind: 'migration'; from: 1; to: 2 }>().toExtend<Origin>();
  });

  it('both engines implement the same replica interface', () => {
    expectTypeOf(yjsEngine).toExtend<LearnerModelEngine>();
    expectTypeOf(automergeEngine).toExtend<LearnerModelEngine>();
    expectTypeOf(yjsEngine.create()).toEqualTypeOf<LearnerDocument>();
    expectTypeOf(automergeEngine.create()).toEqualTypeOf<AutomergeLearnerDocument>();
    expectTypeOf<LearnerDocument>().toExtend<LearnerReplica>();
    expectTypeOf<LearnerReplica['toJSON']>().returns.toEqualTypeOf<LearnerDocumentJSON>();
    expectTypeOf<LearnerReplica['recordAssessment']>().returns.toEqualTypeOf<boolean>();
  });

  it('derived values are functions of assessments only', () => {
    expectTypeOf(deriveInsights).parameters.toEqualTypeOf<[Iterable<Assessment>]>();
    expectTypeOf(deriveInsights).returns.toEqualTypeOf<Insights>();
    expectTypeOf<LearnerDocumentJSON['topics'][string]['mastery']>().toEqualTypeOf<number>();
  });

  it('writes reject wrong shapes at compile time', () => {
    // Only type-checked, never run: the calls would throw ZodErrors at runtime.
    const compileOnly = (ld: LearnerDocument): void => {
    // @ts-expect-error status must be one of the topic statuses
    ld.updateTopic('t', { status: 'done' });
    // @ts-expect-error an origin is an object of the union, not a string
    ld.updateTopic('t', {}, 'local');
    // @ts-expect-error score is a number
    ld.recordAssessment({ assessmentId: 'a', topicId: 't', score: '1', completedAt: '' });
    };
    expectTypeOf(compileOnly).toBeFunction();
  });
});
