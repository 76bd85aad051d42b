export type { DocumentAuthor, LearnerDocuments, LearnerJson } from './ports.js';
export type {
  BatchResult,
  ItemError,
  ItemResult,
  ItemStatus,
  RequestContext,
  SyncStatus,
  TelemetryConfig,
  TelemetryDeps,
  TelemetryMetrics,
  TrackResult,
} from './types.js';
export { statusCacheKey } from './types.js';
export { createTelemetryService, type TelemetryService } from './service.js';
export { createMemoryLearnerDocuments } from './memory-documents.js';
export { createTelemetryMetrics } from './metrics.js';
export { anonymiseIp, enrichTimes } from './enrich.js';
export { mergeQueueItems, type MergeOutcome } from './merge.js';
export { settleOutcomes, nextAttemptAt, maxAttempts } from './settle.js';
export { scheduleTelemetryJobs, type TelemetrySchedule, type TelemetryScheduleDeps } from './schedule.js';
export { createInlineValidator, createWorkerValidator, type ItemValidator, type WorkerValidatorOptions } from './item-validator.js';
