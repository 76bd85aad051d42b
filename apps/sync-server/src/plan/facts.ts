import { LearnerDocument, type LearnerFacts } from '@prepmate/crdt-model';
import type * as Y from 'yjs';
import type { JsonObject } from '@prepmate/crdt-model';
import { eventSamples } from '../telemetry/samples.js';
import type { TelemetryEventRecord } from '../storage/ports.js';
import type { LearnerJson } from '../telemetry/index.js';

/** What the plan is computed from: the document's facts and what is stored in its insights. */
export interface LearnerSnapshot {
  readonly facts: LearnerFacts;
  readonly insights: JsonObject;
}

/** Reads a snapshot from a live document (inside the document service's `read`). */
export function snapshotOf(doc: Y.Doc): LearnerSnapshot {
  const learner = new LearnerDocument(doc);
  return { facts: learner.facts(), insights: learner.storedInsights() };
}

/**
 * A snapshot from the learner JSON of the document port (`GET /api/progress`'s view), for ports
 * that do not expose the document itself. That JSON carries no settings, so none are planned with.
 */
export function snapshotFromJson(json: LearnerJson): LearnerSnapshot {
  const topics: Record<string, LearnerFacts['topics'][string]> = {};
  for (const [id, view] of Object.entries(json.topics)) {
    const { mastery: _mastery, ...state } = view;
    topics[id] = state;
  }
  return { facts: { assessments: json.assessments, topics }, insights: json.insights };
}

/** Where the plan's reviews come from. */
export type PlanBasis = 'assessments' | 'events';

/**
 * The facts the server plans from. The document's assessments when it has any: then the plan is
 * the one every device computes from the same document. A learner with none who sends scored
 * events (`/telemetry/track`, batch events) is planned from those events instead, as assessments
 * of `eventData.topicId` (else the event type), so REST-only learners get a plan too.
 */
export function planFacts(facts: LearnerFacts, events: readonly TelemetryEventRecord[]): { facts: LearnerFacts; basis: PlanBasis } {
  if (Object.keys(facts.assessments).length > 0 || events.length === 0) return { facts, basis: 'assessments' };
  const samples = eventSamples(events);
  if (samples.length === 0) return { facts, basis: 'assessments' };
  const assessments: Record<string, (typeof samples)[number]> = {};
  for (const s of samples) assessments[s.assessmentId] = s;
  return { facts: { ...facts, assessments }, basis: 'events' };
}
