import { describe, expect, it } from 'vitest';
import { createLearnerQuotas } from '../../src/ws/learner-quotas.js';

/** The per-learner counters of the endpoint, as logic (the hostile-learner suite proves them over real sockets). */
describe('learner quotas', () => {
  const limits = { maxSocketsPerLearner: 2, writeBytesPerSecond: 1000, writeBurstBytes: 4000 };

  it('when a learner is at its socket cap, then the next is refused until one closes; other learners count apart', () => {
    const q = createLearnerQuotas(limits);
    expect([q.openSocket('ada'), q.openSocket('ada'), q.openSocket('ada')]).toEqual([true, true, false]);
    expect(q.openSocket('bob')).toBe(true);
    q.closeSocket('ada');
    expect(q.sockets('ada')).toBe(1);
    expect(q.openSocket('ada')).toBe(true);
  });

  it('when the write budget is spent, then frames are refused until it refills at the sustained rate; a frame is admitted while any budget is left', () => {
    const q = createLearnerQuotas(limits);
    q.openSocket('ada');
    // Whole milliseconds: (t0 + 2000) - t0 is then exactly 2000 (with a fractional t0 it can be a
    // hair more, and the bucket a hair above zero). The bucket starts full, so t0 may be any time.
    const t0 = Math.round(performance.now());
    expect(q.takeWriteBytes('ada', 3000, t0)).toBe(true);
    // 1000 left: a frame larger than what is left still passes, and leaves the budget below zero.
    expect(q.takeWriteBytes('ada', 3000, t0)).toBe(true);
    expect(q.takeWriteBytes('ada', 1, t0)).toBe(false);
    // -2000 + 1000 B/s × 2 s = 0: still nothing left.
    expect(q.takeWriteBytes('ada', 1, t0 + 2000)).toBe(false);
    expect(q.takeWriteBytes('ada', 1, t0 + 2100)).toBe(true);
    // Another learner has a bucket of its own.
    q.openSocket('bob');
    expect(q.takeWriteBytes('bob', 4000, t0 + 2100)).toBe(true);
  });

  it('when a learner closes its last socket with its budget spent, then neither reconnecting nor a sweep refills it early', () => {
    const q = createLearnerQuotas(limits);
    q.openSocket('ada');
    const t0 = performance.now();
    expect(q.takeWriteBytes('ada', 8000, t0)).toBe(true);
    q.closeSocket('ada');
    q.openSocket('ada');
    expect(q.takeWriteBytes('ada', 1, performance.now())).toBe(false);
    q.closeSocket('ada');
    q.sweep(t0 + 1000);
    // Still refilling: kept (a fresh entry would start full and admit).
    q.openSocket('ada');
    expect(q.takeWriteBytes('ada', 1, t0 + 1000)).toBe(false);
  });
});
