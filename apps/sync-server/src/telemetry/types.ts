import type { Cache } from '../cache/ports.js';
import type { Config } from '../config.js';
import type { UserId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/ports.js';
import type { LearnerDocuments } from './ports.js';
import type { ItemValidator } from './item-validator.js';
import type { ItemError } from './parse.js';

export type { ItemError } from './parse.js';

/** The configuration the telemetry use-cases read. */
export type TelemetryConfig = Pick<Config, 'MAX_BATCH_ITEMS' | 'CACHE_TTL_SECONDS' | 'MAX_RETRIES' | 'RETRY_DELAY_MS'> &
  Partial<Pick<Config, 'CONFLICT_RESOLUTION_STRATEGY'>>;

/** How a REST progress patch older than the document is decided (`CONFLICT_RESOLUTION_STRATEGY`). */
export type ConflictStrategy = Config['CONFLICT_RESOLUTION_STRATEGY'];

/** Counters the use-cases report; optional so unit tests need no registry. */
export interface TelemetryMetrics {
  /** `itemType` is `invalid` for rejected items whose type is not one of the three. */
  itemsIngested(itemType: 'event' | 'progress' | 'assessment' | 'invalid', status: ItemStatus, count: number): void;
  batchDuration(seconds: number): void;
  /** One batch log written (the sync success rate is `completed` over all). */
  batchLogged(status: 'completed' | 'partial' | 'failed'): void;
  /** Merge outcomes of progress and assessment items, in the request or by the queue job. */
  merged(source: MergeSource, outcome: 'merged' | 'conflict' | 'failed', count: number): void;
  /** Items whose values lost to the document's (a late progress patch, a changed assessment). */
  conflicts(source: MergeSource, count: number): void;
}

/** Where a merge ran: in the batch request, or in the sync-queue job's retry. */
export type MergeSource = 'request' | 'queue';

export interface TelemetryDeps {
  readonly store: Store;
  readonly documents: LearnerDocuments;
  readonly cache: Cache;
  readonly config: TelemetryConfig;
  readonly logger: Logger;
  /** Injectable clock: tests pin it to check timestamp flags and retry times. */
  readonly now?: () => Date;
  readonly metrics?: TelemetryMetrics;
  /** Where batch items are validated; default inline. `createWorkerValidator` moves it off the event loop. */
  readonly validator?: ItemValidator;
}

/** What the HTTP layer knows about one request. */
export interface RequestContext {
  /** The learner the request acts for (token subject, or `userId` for a service). */
  readonly userId: UserId;
  /**
   * Resolves a `userId` named inside the body (batch item field) against the caller's token:
   * the caller's own id for a learner, any id for a service; throws `ApiError` (403/400).
   */
  readonly actFor: (requested: unknown) => UserId;
  /** Raw client address; stored only anonymised. */
  readonly ip: string | null;
  /** The `User-Agent` header, used when the event's metadata has none. */
  readonly userAgent: string | null;
}

export type ItemStatus = 'stored' | 'duplicate' | 'merged' | 'rejected';


export interface ItemResult {
  readonly index: number;
  readonly status: ItemStatus;
  readonly error?: ItemError;
}

export interface BatchResult {
  readonly batchId: string;
  /** Items stored or merged by this request. */
  readonly processed: number;
  /** Items rejected. */
  readonly failed: number;
  /** Merged items whose values lost to newer ones already in the document. */
  readonly conflicts: number;
  readonly duplicates: number;
  readonly results: readonly ItemResult[];
}

export interface TrackResult {
  readonly eventId: string;
  readonly serverTimestamp: string;
  readonly duplicate: boolean;
  readonly flags: readonly string[];
}

export interface LearnerSyncStatus {
  readonly lastSyncTime: string | null;
  readonly pendingItems: number;
  readonly totalItems: number;
  readonly syncHealth: 'good' | 'degraded' | 'failing';
}

/** Cache key of a learner's status; one place so ingestion and the queue job invalidate the same key. */
export const statusCacheKey = (userId: string): string => `status:v1:${userId}`;
