import { idSchema, type Assessment } from '@prepmate/crdt-model';
import type { TelemetryEventRecord } from '../storage/ports.js';

/** Most recent events the insights and the plan are computed from, per learner: enough for a trend, bounded per read. */
export const EVENTS_PER_LEARNER = 200;

/**
 * A scored event (`eventData.score` 0–100) as an assessment-shaped sample, so the crdt-model's
 * trend and weak-area formulas apply unchanged; null for any other event. The topic is
 * `eventData.topicId` when it is a valid id, else the event type.
 */
export function sampleOf(e: TelemetryEventRecord): Assessment | null {
  const score = e.eventData['score'];
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 100) return null;
  const at = e.metadata.correctedTimestamp ?? e.metadata.clientTimestamp ?? e.metadata.serverTimestamp;
  const rawAreas = e.eventData['weakAreas'];
  const weakAreas = Array.isArray(rawAreas) ? rawAreas.filter((a): a is string => typeof a === 'string' && a.trim().length > 0).slice(0, 32) : [];
  // Only a string can be an id: asking the schema about a missing topic would build a zod error for nothing.
  const topicId = e.eventData['topicId'];
  const topic = typeof topicId === 'string' && idSchema.safeParse(topicId).success ? topicId : e.eventType;
  return { assessmentId: e.metadata.eventId, topicId: topic, score, completedAt: at.toISOString(), ...(weakAreas.length > 0 ? { weakAreas } : {}) };
}

/** The scored events' samples, in the events' order (the crdt-model formulas order them by time, then id). */
export function eventSamples(events: readonly TelemetryEventRecord[]): Assessment[] {
  const out: Assessment[] = [];
  for (const e of events) {
    const sample = sampleOf(e);
    if (sample !== null) out.push(sample);
  }
  return out;
}
