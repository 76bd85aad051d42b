import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeMastery,
  computeTopicMastery,
  computeTrend,
  computeWeakAreas,
  deriveInsights,
  deriveInsightsOfSorted,
  deriveTopicOfSorted,
  insightsOfTopics,
  recencyWeight,
  sortAssessments,
  type TopicDerivation,
  canonicalJson,
  type Assessment,
} from '../src/index.js';
import { assessmentFor } from './convergence-suite.js';

const day = (d: number): string => new Date(Date.UTC(2025, 0, 1 + d)).toISOString();
const a = (id: string, score: number, d: number, extra: Partial<Assessment> = {}): Assessment => ({
  assessmentId: id,
  topicId: 't',
  score,
  completedAt: day(d),
  ...extra,
});

describe('mastery', () => {
  it('when there is no assessment, then mastery is 0', () => {
    expect(computeTopicMastery([])).toBe(0);
  });
  it('when assessments have the same date, then mastery is the mean score', () => {
    expect(computeTopicMastery([a('1', 60, 0), a('2', 80, 0)])).toBe(0.7);
  });
  it('when an assessment is 30 days older than the newest, then it weighs half', () => {
    expect(recencyWeight(30 * 86_400_000)).toBe(0.5);
    // (0.5·40 + 1·100) / (100·1.5) = 0.8
    expect(computeTopicMastery([a('1', 40, 0), a('2', 100, 30)])).toBe(0.8);
  });
  it('when mastery is computed per topic, then each topic uses its own newest assessment', () => {
    const m = computeMastery([a('1', 50, 0, { topicId: 'x' }), a('2', 90, 100, { topicId: 'y' })]);
    expect(m).toEqual({ x: 0.5, y: 0.9 });
  });
});

describe('trend', () => {
  it('when there are fewer than two assessments, then the trend is flat', () => {
    expect(computeTrend([a('1', 10, 0)])).toEqual({ direction: 'flat', delta: 0, samples: 1 });
  });
  it('when the last three beat the three before by ≥ 5 points, then the trend is up', () => {
    const list = [50, 50, 50, 70, 70, 70].map((s, i) => a(String(i), s, i));
    expect(computeTrend(list)).toEqual({ direction: 'up', delta: 20, samples: 6 });
  });
  it('when scores drop, then the trend is down', () => {
    expect(computeTrend([a('1', 90, 0), a('2', 60, 1)]).direction).toBe('down');
  });
});

describe('weak areas', () => {
  it('when an area is flagged on a low score, then it outweighs one flagged on a high score', () => {
    const areas = computeWeakAreas([a('1', 0, 0, { weakAreas: ['dp'] }), a('2', 100, 0, { weakAreas: ['sql'] })]);
    expect(areas).toEqual([
      { area: 'dp', weight: 1, occurrences: 1 },
      { area: 'sql', weight: 0.5, occurrences: 1 },
    ]);
  });
});

describe('determinism', () => {
  it('when facts arrive in any order, then the insights are identical', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: 200 }), { maxLength: 40 }), fc.nat(), (ids, rot) => {
        const facts = ids.map(assessmentFor);
        const shuffled = [...facts.slice(rot % (facts.length || 1)), ...facts.slice(0, rot % (facts.length || 1))].reverse();
        expect(canonicalJson(deriveInsights(shuffled))).toBe(canonicalJson(deriveInsights(facts)));
      }),
      { numRuns: 200, seed: 3 },
    );
  });
  it('when facts are given already sorted, or as per-topic derivations, then the insights are what deriveInsights derives', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: 200 }), { maxLength: 40 }), (ids) => {
        const facts = ids.map(assessmentFor).reverse();
        const sorted = sortAssessments(facts);
        const expected = canonicalJson(deriveInsights(facts));
        expect(canonicalJson(deriveInsightsOfSorted(sorted))).toBe(expected);
        // Topics given in any order: a client's cache of topics is not sorted.
        const topics = new Map<string, TopicDerivation>();
        for (const topicId of [...new Set(sorted.map((a) => a.topicId))].reverse()) {
          const own = sorted.filter((a) => a.topicId === topicId);
          const derived = deriveTopicOfSorted(own);
          expect(derived.mastery).toBe(computeTopicMastery(own));
          expect(derived.trend).toEqual(computeTrend(own));
          topics.set(topicId, derived);
        }
        expect(canonicalJson(insightsOfTopics(sorted, topics))).toBe(expected);
      }),
      { numRuns: 200, seed: 4 },
    );
  });
  it('when a topic has low mastery, then it is a weak topic', () => {
    const insights = deriveInsights([a('1', 20, 0, { topicId: 'weak' }), a('2', 95, 0, { topicId: 'strong' })]);
    expect(insights.weakTopics).toEqual([{ topicId: 'weak', mastery: 0.2 }]);
    expect(insights.assessmentCount).toBe(2);
    expect(insights.lastAssessmentAt).toBe(day(0));
  });
});
