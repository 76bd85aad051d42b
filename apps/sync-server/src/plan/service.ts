/**
 * The practice plan on the server: `GET /api/plan` computes, from the learner document, the same
 * plan every device computes offline (crdt-model `computePlan`), so REST clients get it too.
 * After answering, and after scored telemetry, it refreshes the learner's insights and asks the
 * optional coach for a note — off the request path, at most once per learner per interval — and
 * stores the note under the learner's insights, so every device shows it, offline included.
 */
import {
  COACHING_INSIGHT_KEY,
  LearnerDocument,
  canonicalJson,
  computePlan,
  readCoachingNote,
  type CoachingNote,
  type PracticePlan,
} from '@prepmate/crdt-model';
import type * as Y from 'yjs';
import { recentEvents, refreshLearner } from '../telemetry/insights-job.js';
import { createRecentSamples, type RecentSamplesLimits } from '../telemetry/recent-samples.js';
import type { Logger } from '../logger.js';
import type { UserId } from '../ids.js';
import type { Store } from '../storage/ports.js';
import type { LearnerDataService, LearnerDocuments } from '../telemetry/index.js';
import type { Coach } from './coach.js';
import { planFacts, type LearnerSnapshot, type PlanBasis } from './facts.js';
import { coachingSummary, summaryKey } from './summary.js';

/** The answer of `GET /api/plan`. */
export interface PlanAnswer extends PracticePlan {
  /** `assessments` (the document, as on every device) or `events` (scored telemetry only). */
  readonly basis: PlanBasis;
  /** The stored coaching note when it was written for this plan's day, else `null`. */
  readonly coaching: CoachingNote | null;
}

export interface PlanServiceDeps {
  /** The learner's document facts and stored insights (reads, never creates, a document). */
  readonly read: (userId: UserId) => Promise<LearnerSnapshot>;
  readonly store: Pick<Store, 'telemetry'>;
  /** Writes go through the live document, so connected devices receive them at once. */
  readonly documents: LearnerDocuments;
  readonly coach: Coach | null;
  readonly logger: Logger;
  readonly now?: () => Date;
  /**
   * Least time between two refreshes of one learner after telemetry, ms (default 2 000). A learner
   * whose device sends batch after batch would otherwise pay a full refresh (recent events read,
   * insights derived over the whole document, a document write) per batch; within the interval
   * one refresh is scheduled for its end and covers every batch that arrived meanwhile.
   */
  readonly refreshIntervalMs?: number;
  /** Bounds of what the refreshes keep of each learner's recent events (`recent-samples.ts`). */
  readonly recentSamples?: RecentSamplesLimits;
}

const DEFAULT_REFRESH_INTERVAL_MS = 2_000;
/** Above this many remembered learners, those refreshed longer than an interval ago are forgotten. */
const PRUNE_ABOVE = 1_000;

export interface PlanService {
  plan(userId: UserId): Promise<PlanAnswer>;
  /**
   * The telemetry service, unchanged except that a track or batch carrying scored events
   * refreshes the acting learner's insights (and coaching note) in the background: a learner who
   * only sends events gets insights within moments, not only when the scheduled job finds them.
   */
  observe(telemetry: LearnerDataService): LearnerDataService;
  /** Runs scheduled refreshes at once and resolves when none is running (tests, shutdown). */
  idle(): Promise<void>;
}

export function createPlanService(deps: PlanServiceDeps): PlanService {
  const now = deps.now ?? (() => new Date());
  const running = new Map<string, Promise<void>>();
  /** Learners whose refresh must run again once the current one ends (newer data arrived). */
  const again = new Set<string>();
  const interval = deps.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  /** When each learner's last telemetry refresh started (monotonic ms). */
  const lastRefresh = new Map<string, number>();
  /** Refreshes waiting for their learner's interval to end, with the work to run then. */
  const scheduled = new Map<string, { timer: NodeJS.Timeout; run: () => void }>();
  /** The samples of each refreshed learner's recent events: a refresh reads only the events stored since the last. */
  const samples = createRecentSamples(deps.store, deps.recentSamples);

  /** Starts `work` now, or at the end of the learner's interval when one ran within it. */
  function throttled(userId: UserId, work: () => Promise<void>): void {
    if (scheduled.has(userId)) return; // the scheduled one reads whatever arrived until it runs
    const start = (): void => {
      scheduled.delete(userId);
      lastRefresh.set(userId, performance.now());
      background(userId, work);
    };
    const wait = (lastRefresh.get(userId) ?? -Infinity) + interval - performance.now();
    if (wait <= 0) {
      if (lastRefresh.size > PRUNE_ABOVE) {
        const cutoff = performance.now() - interval;
        for (const [id, at] of lastRefresh) if (at < cutoff) lastRefresh.delete(id);
      }
      start();
      return;
    }
    const timer = setTimeout(start, wait);
    // A pending refresh must not keep the process alive; `idle()` runs it at once instead.
    timer.unref();
    scheduled.set(userId, { timer, run: start });
  }

  async function compute(userId: UserId): Promise<{ plan: PracticePlan; basis: PlanBasis; snapshot: LearnerSnapshot }> {
    const snapshot = await deps.read(userId);
    const events = Object.keys(snapshot.facts.assessments).length === 0 ? await recentEvents(deps.store, userId) : [];
    const { facts, basis } = planFacts(snapshot.facts, events);
    return { plan: computePlan(facts, { now: now() }), basis, snapshot };
  }

  /** Asks the coach for a note on `plan` unless the stored one is already about it. */
  async function coachFor(userId: UserId, plan: PracticePlan, stored: CoachingNote | null): Promise<void> {
    const coach = deps.coach;
    if (!coach || plan.cards.length === 0) return;
    const summary = coachingSummary(plan);
    const key = summaryKey(summary);
    if (stored?.planKey === key) return;
    const outcome = await coach.note(userId, key, summary);
    if (outcome.status === 'limited' || outcome.status === 'failed') {
      deps.logger.info({ job: 'coach', userId, outcome: outcome.status, ...(outcome.status === 'failed' ? { reason: outcome.reason } : {}) }, 'no coaching note');
      return;
    }
    const note: CoachingNote = { text: outcome.text, planKey: key, planDay: plan.today, model: outcome.model, createdAt: now().toISOString() };
    await deps.documents.apply(userId, 'service:coach', (doc: Y.Doc) => {
      const insights = new LearnerDocument(doc).insightsMap;
      if (canonicalJson(insights.get(COACHING_INSIGHT_KEY)) !== canonicalJson(note)) insights.set(COACHING_INSIGHT_KEY, note);
    });
  }

  function background(userId: UserId, work: () => Promise<void>): void {
    if (running.has(userId)) {
      again.add(userId);
      return;
    }
    const run = (async () => {
      do {
        again.delete(userId);
        try {
          await work();
        } catch (error) {
          // Background work never fails a request; the next request or scheduled run retries.
          deps.logger.warn({ job: 'plan', userId, err: error }, 'plan refresh failed');
        }
      } while (again.has(userId));
    })().finally(() => running.delete(userId));
    running.set(userId, run);
  }

  return {
    async plan(userId) {
      const { plan, basis, snapshot } = await compute(userId);
      const stored = readCoachingNote(snapshot.insights);
      const coaching = stored && stored.planDay === plan.today ? stored : null;
      if (deps.coach) background(userId, () => coachFor(userId, plan, stored));
      return { ...plan, basis, coaching };
    },

    observe(telemetry) {
      const refresh = (userId: UserId): void =>
        throttled(userId, async () => {
          await refreshLearner({ store: deps.store, documents: deps.documents, samples }, userId);
          if (!deps.coach) return;
          const { plan, snapshot } = await compute(userId);
          await coachFor(userId, plan, readCoachingNote(snapshot.insights));
        });
      return {
        ...telemetry,
        async track(ctx, body) {
          const result = await telemetry.track(ctx, body);
          if (!result.duplicate && hasScore(body)) refresh(ctx.userId);
          return result;
        },
        async ingestBatch(ctx, body) {
          const result = await telemetry.ingestBatch(ctx, body);
          if (result.processed > 0 && batchHasScoredEvent(body)) refresh(ctx.userId);
          return result;
        },
        async eraseUser(userId) {
          // Forgotten before and after: a refresh that read before the events were deleted keeps
          // nothing (see `forget`); the store's position would make the next read complete anyway.
          samples.forget(userId);
          const report = await telemetry.eraseUser(userId);
          samples.forget(userId);
          return report;
        },
      };
    },

    async idle() {
      for (;;) {
        // Scheduled refreshes run now: waiting for the interval would only delay a shutdown.
        for (const { timer, run } of [...scheduled.values()]) {
          clearTimeout(timer);
          run();
        }
        if (running.size === 0) return;
        await Promise.all([...running.values()]);
      }
    },
  };
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

/** A track body (or event item) whose `eventData.score` is a number. */
function hasScore(body: unknown): boolean {
  return typeof field(field(body, 'eventData'), 'score') === 'number';
}

function batchHasScoredEvent(body: unknown): boolean {
  const items = field(body, 'items');
  return Array.isArray(items) && items.some((item) => field(item, 'itemType') === 'event' && hasScore(field(item, 'itemData')));
}
