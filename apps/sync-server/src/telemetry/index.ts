export type { DocumentAuthor, LearnerDocuments, LearnerJson } from './ports.js';
export type {
  BatchResult,
  ItemError,
  ItemResult,
  ItemStatus,
  RequestContext,
  LearnerSyncStatus,
  TelemetryConfig,
  TelemetryDeps,
  TelemetryMetrics,
  TrackResult,
} from './types.js';
export { statusCacheKey } from './types.js';
export { createDocumentChangeInvalidator, forgetLearner, progressCacheKey } from './read-cache.js';
export { createLearnerDataService, type LearnerDataService } from './learner-data-service.js';
export { createTelemetryMetrics } from './metrics.js';
export { anonymiseIp, enrichTimes } from './enrich.js';
export { mergeQueueItems, type MergeOutcome } from './merge.js';
export { settleOutcomes, nextAttemptAt, maxAttempts } from './settle.js';
export { runSyncQueueJob, SYNC_QUEUE_LEASE_MS, type TelemetryJobDeps } from './sync-queue-job.js';
export { runInsightsJob, INSIGHTS_LEASE_MS, type InsightsJobOptions } from './insights-job.js';
export { runRetentionJob, RETENTION_LEASE_MS } from './retention-job.js';
export { createInlineValidator, createWorkerValidator, type ItemValidator, type WorkerValidatorOptions } from './item-validator.js';
