import type { Cache } from '../cache/ports.js';
import { asUserId, type UserId } from '../ids.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Store, SyncQueueItem } from '../storage/ports.js';
import type { LearnerDocuments } from './ports.js';
import { mergeQueueItems, tallyOutcomes } from './merge.js';
import { maxAttempts, settleOutcomes } from './settle.js';
import { forgetLearner } from './read-cache.js';
import type { TelemetryMetrics } from './types.js';

/** What the telemetry jobs need (the scheduler in jobs/ holds their leases across instances). */
export interface TelemetryJobDeps {
  readonly store: Store;
  readonly documents: LearnerDocuments;
  readonly cache: Cache;
  readonly config: Pick<Config, 'SYNC_BATCH_SIZE' | 'MAX_RETRIES' | 'RETRY_DELAY_MS' | 'RETENTION_DAYS' | 'SYNC_INTERVAL_MINUTES'> &
    Partial<Pick<Config, 'CONFLICT_RESOLUTION_STRATEGY'>>;
  readonly logger: Logger;
  readonly metrics?: TelemetryMetrics;
  /** Injectable clock (tests move time forward instead of sleeping). */
  readonly now?: () => Date;
}

/** A `syncing` item older than this belongs to a worker that died; it is claimed again. */
const STALE_SYNCING_MS = 5 * 60 * 1000;
/** Claim rounds per run: bounds one run's length while a large backlog drains over several runs. */
const MAX_ROUNDS = 20;
/** Lease of one run across instances (jobs/scheduler.ts): longer than a run can take. */
export const SYNC_QUEUE_LEASE_MS = 2 * 60 * 1000;

/**
 * The sync-queue job: merges queue items that are pending (their request died before the
 * merge), failed with a retry due (backoff `RETRY_DELAY_MS × 2^(attempts−1)`), or stuck in
 * `syncing`, into the learner documents. `pending → syncing → synced | error`, errors kept.
 */
export async function runSyncQueueJob(deps: TelemetryJobDeps): Promise<void> {
  const { store, config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  let synced = 0;
  let failed = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const items = await store.syncQueue.claim(config.SYNC_BATCH_SIZE, now(), maxAttempts(config), STALE_SYNCING_MS);
    if (items.length === 0) break;
    const byUser = new Map<UserId, SyncQueueItem[]>();
    for (const item of items) {
      // Queue items name learners the ingestion validated.
      const userId = asUserId(item.userId);
      const list = byUser.get(userId);
      if (list) list.push(item);
      else byUser.set(userId, [item]);
    }
    for (const [userId, list] of byUser) {
      const outcomes = await mergeQueueItems(deps.documents, userId, 'service:sync-queue', list, deps.config.CONFLICT_RESOLUTION_STRATEGY);
      await settleOutcomes(store.syncQueue, list, outcomes, now(), config);
      const tally = tallyOutcomes(outcomes);
      for (const outcome of ['merged', 'conflict', 'failed'] as const) deps.metrics?.merged('queue', outcome, tally[outcome]);
      deps.metrics?.conflicts('queue', tally.conflict);
      await forgetLearner(deps.cache, userId);
      for (const o of outcomes) if (o.ok) synced += 1;
      else failed += 1;
    }
    if (items.length < config.SYNC_BATCH_SIZE) break;
  }
  if (synced + failed > 0) logger.info({ job: 'sync-queue', synced, failed }, 'sync queue processed');
}
