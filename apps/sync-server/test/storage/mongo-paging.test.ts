import { describe, expect, it } from 'vitest';
import { allOf } from '../../src/storage/mongo/paging.js';

describe('MongoDB keyset filters', () => {
  it('when the conditions name different fields, then they are one document of top-level fields (what FerretDB can push down to SQL)', () => {
    const page = { $or: [{ createdAt: { $lt: new Date(5) } }, { createdAt: new Date(5), _id: { $lt: 'x' } }] };
    expect(allOf([{ userId: 'ada' }, { eventType: 'quiz' }, page])).toEqual({ userId: 'ada', eventType: 'quiz', ...page });
    expect(allOf([])).toEqual({});
  });

  it('when two conditions name the same field, or one is an $and, then the later ones go under $and and none is lost', () => {
    const since = { createdAt: { $gte: new Date(1) } };
    const before = { createdAt: { $lt: new Date(9) } };
    expect(allOf([{ userId: 'ada' }, since, before])).toEqual({ userId: 'ada', createdAt: { $gte: new Date(1) }, $and: [before] });
    const nested = { $and: [{ a: 1 }, { b: 2 }] };
    expect(allOf([{ userId: 'ada' }, nested, { a: 3 }])).toEqual({ userId: 'ada', a: 3, $and: [nested] });
  });
});
