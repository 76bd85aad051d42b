import type { LearnerReplica } from '../index.js';
import { mulberry32 } from './mulberry32.js';

const STATUSES = ['not_started', 'in_progress', 'completed'] as const;
const AREAS = ['recursion', 'graphs', 'dp', 'sql-joins', 'concurrency', 'big-o', 'system-design', 'behavioural'];

export interface HeavyYearOptions {
  /** Assessments over the year (the benches' heavy learner: 20 000). */
  readonly assessments: number;
  /** Topics they fall in. Default 200. */
  readonly topics?: number;
  /** The calendar year; sessions are spread evenly from 1 January. */
  readonly year: number;
  readonly seed: number;
  /** Prefix of the assessment ids (a second year needs other ids). Default `asm_`. */
  readonly idPrefix?: string;
}

/**
 * A heavy learner's year of edits on `replica`, the workload every benchmark of a year measures
 * (server load, first sync, the browser): seeded assessments, and a topic edit after every 10th.
 */
export function writeHeavyYear(replica: LearnerReplica, options: HeavyYearOptions): void {
  const topics = options.topics ?? 200;
  const idPrefix = options.idPrefix ?? 'asm_';
  const random = mulberry32(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const start = Date.UTC(options.year, 0, 1);
  const yearMs = 365 * 86_400_000;
  for (let i = 0; i < options.assessments; i++) {
    const questions = 5 + Math.floor(random() * 16);
    const correct = Math.floor(random() * (questions + 1));
    const weak = random() < 0.4 ? [pick(AREAS), pick(AREAS)] : undefined;
    const at = new Date(start + Math.floor((i / options.assessments) * yearMs)).toISOString();
    replica.recordAssessment({
      assessmentId: `${idPrefix}${i.toString(36).padStart(6, '0')}`,
      topicId: `topic_${Math.floor(random() * topics)}`,
      kind: pick(['quiz', 'mock_interview', 'coding']),
      score: Math.round((correct / questions) * 100),
      durationSec: 60 + Math.floor(random() * 3600),
      questionsAttempted: questions,
      correctAnswers: correct,
      ...(weak ? { weakAreas: [...new Set(weak)] } : {}),
      completedAt: at,
    });
    if (i % 10 === 9) {
      replica.updateTopic(`topic_${Math.floor(random() * topics)}`, {
        status: pick(STATUSES),
        ...(random() < 0.3 ? { goal: `score ${60 + Math.floor(random() * 40)}+` } : {}),
        ...(random() < 0.2 ? { notes: `note ${i}` } : {}),
        updatedAt: at,
      });
    }
  }
}
