import type * as Y from 'yjs';
import { asUserId, type UserId } from '../ids.js';
import { LearnerDocument, computeTrend, computeWeakAreas, deriveInsights, type Assessment, type Insights, type Trend, type WeakArea } from '@prepmate/crdt-model';
import type { TelemetryEventRecord } from '../storage/ports.js';
import type { TelemetryJobDeps } from './sync-queue-job.js';
import type { RecentSamples } from './recent-samples.js';
import { EVENTS_PER_LEARNER, eventSamples } from './samples.js';

/** Learners handled per run: those of batches first (newest first), then those with events (by userId); any beyond wait for a quieter run. */
const MAX_LEARNERS = 10_000;
/** Lease of one run across instances (jobs/scheduler.ts). */
export const INSIGHTS_LEASE_MS = 10 * 60 * 1000;

/** What the event stream adds to the document-derived insights (key `events` of the map). */
export interface EventInsights {
  /** Scored events (`eventData.score` 0–100) the values are computed from. */
  readonly samples: number;
  readonly trend: Trend;
  readonly weakAreas: readonly WeakArea[];
}

export interface InsightsJobOptions {
  /** Learners to refresh instead of those active in the look-back window (manual runs, tests). */
  readonly userIds?: readonly UserId[];
  /** How far back learner activity (batch logs and stored events) is looked at. Default 2 × SYNC_INTERVAL_MINUTES + 1 min. */
  readonly lookbackMs?: number;
}

export function eventInsights(events: readonly TelemetryEventRecord[]): EventInsights {
  return insightsOfSamples(eventSamples(events));
}

function insightsOfSamples(samples: readonly Assessment[]): EventInsights {
  return { samples: samples.length, trend: computeTrend(samples), weakAreas: computeWeakAreas(samples) };
}

/**
 * The insights job: for each learner with recent activity, derives weak areas and score trends
 * from the document's assessments (crdt-model `deriveInsights`) and from scored events, and
 * writes them into the document's `insights` map through the document service, so connected
 * devices receive them like any other update. Unchanged insights write nothing.
 */
export async function runInsightsJob(deps: TelemetryJobDeps, options: InsightsJobOptions = {}): Promise<void> {
  const { store, logger } = deps;
  const now = deps.now ?? (() => new Date());
  let userIds = options.userIds;
  /** Learners found only through their events: refreshed only when they sent scored ones. */
  let eventOnly = new Set<string>();
  if (!userIds) {
    const lookback = options.lookbackMs ?? (2 * deps.config.SYNC_INTERVAL_MINUTES + 1) * 60_000;
    const since = new Date(now().getTime() - lookback);
    const [logs, eventUsers] = await Promise.all([store.batchLogs.listSince(since, MAX_LEARNERS), store.telemetry.listActiveUsers(since, MAX_LEARNERS)]);
    // Batch logs and stored events name learners the ingestion validated. Events cover learners
    // who only call `/telemetry/track` (no batch, possibly no document yet); batch logs cover
    // batches of assessments and progress without events.
    const batchUsers = new Set(logs.filter((l) => l.kind === 'telemetry').map((l) => l.userId));
    eventOnly = new Set(eventUsers.filter((u) => !batchUsers.has(u)));
    userIds = [...new Set([...batchUsers, ...eventUsers])].slice(0, MAX_LEARNERS).map(asUserId);
  }
  let written = 0;
  for (const userId of userIds) {
    try {
      if (await refreshLearner(deps, userId, { onlyWithScoredEvents: eventOnly.has(userId) })) written += 1;
    } catch (error) {
      // One learner's failure (document unavailable) must not stop the others; the next run retries.
      logger.warn({ job: 'insights', userId, err: error }, 'insights not written');
    }
  }
  if (userIds.length > 0) logger.info({ job: 'insights', learners: userIds.length, written }, 'insights refreshed');
}

/** The learner's most recent events the insights and the plan are computed from. */
export async function recentEvents(store: Pick<TelemetryJobDeps['store'], 'telemetry'>, userId: UserId): Promise<readonly TelemetryEventRecord[]> {
  return (await store.telemetry.listEvents(userId, { limit: EVENTS_PER_LEARNER })).events;
}

/**
 * Refreshes one learner's insights; true when they changed. A learner whose document holds no assessment but who sends
 * scored events (`/telemetry/track` or batch events) gets the main insights from those events
 * (`basis: 'events'`), so they are not left with none.
 */
export async function refreshLearner(
  deps: {
    readonly store: Pick<TelemetryJobDeps['store'], 'telemetry'>;
    readonly documents: TelemetryJobDeps['documents'];
    /** What earlier refreshes read, so only newer events are read (the refresh after telemetry); without it, a complete read. */
    readonly samples?: RecentSamples;
  },
  userId: UserId,
  options: { readonly onlyWithScoredEvents?: boolean } = {},
): Promise<boolean> {
  const samples = deps.samples ? await deps.samples.read(userId) : eventSamples(await recentEvents(deps.store, userId));
  const events = insightsOfSamples(samples);
  // A learner seen only through unscored events (page views, clicks) has nothing to derive from
  // them: their document is not opened for nothing.
  if (options.onlyWithScoredEvents === true && events.samples === 0) return false;
  let changed = false;
  // Derived inside the write from the live document, so the insights match the facts the
  // document holds at that moment, whatever arrived since this run started.
  await deps.documents.apply(userId, 'service:insights', (doc: Y.Doc) => {
    const learner = new LearnerDocument(doc);
    let derived = learner.derive();
    if (derived.assessmentCount === 0 && events.samples === 0) return;
    let basis: 'assessments' | 'events' = 'assessments';
    if (derived.assessmentCount === 0) {
      derived = deriveInsights(samples);
      basis = 'events';
    }
    const insights: Insights & { events: EventInsights; basis: 'assessments' | 'events' } = { ...derived, events, basis };
    changed = learner.writeInsights(insights);
  });
  return changed;
}
