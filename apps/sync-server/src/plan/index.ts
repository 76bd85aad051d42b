/**
 * The practice plan on the server (plan service, coach) and how the composition root wires it:
 * `createPlanWiring` builds both from the config, so the root needs only a few lines.
 */
import type { RateLimiter } from '../cache/ports.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/ports.js';
import type { LearnerDocuments } from '../telemetry/index.js';
import { createCoach } from './coach.js';
import { createPlanService, type PlanService, type PlanServiceDeps } from './service.js';

export { GEMINI_BASE_URL, createCoach, coachEndpoint, cleanNote, type Coach, type CoachOutcome, type CoachConfig } from './coach.js';
export { planFacts, snapshotFromJson, snapshotOf, type LearnerSnapshot, type PlanBasis } from './facts.js';
export { createPlanService, type PlanAnswer, type PlanService, type PlanServiceDeps } from './service.js';
export { coachingSummary, summaryKey, type CoachingSummary } from './summary.js';

export interface PlanWiringDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: Store;
  readonly documents: LearnerDocuments;
  /** The learner document as the plan reads it (the composition root reads live documents in place). */
  readonly read: PlanServiceDeps['read'];
  readonly limiter: RateLimiter;
  readonly now?: () => Date;
}

export function createPlanWiring(deps: PlanWiringDeps): PlanService {
  return createPlanService({
    read: deps.read,
    store: deps.store,
    documents: deps.documents,
    coach: createCoach({ config: deps.config, limiter: deps.limiter }),
    logger: deps.logger.child({ component: 'plan' }),
    ...(deps.now ? { now: deps.now } : {}),
  });
}
