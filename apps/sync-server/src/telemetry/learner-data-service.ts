import type { UserId } from '../ids.js';
import { createIngestion } from './ingest.js';
import type { LearnerJson } from './ports.js';
import { listEvents, type EventListing } from './queries.js';
import { readProgress } from './read-cache.js';
import { readSyncStatus } from './status.js';
import type { BatchResult, RequestContext, LearnerSyncStatus, TelemetryDeps, TrackResult } from './types.js';
import { eraseUser, exportUser, type ErasureReport, type UserExport } from './users.js';

/** Every REST use-case of telemetry, progress and users, over the store and the document port. */
export interface LearnerDataService {
  track(ctx: RequestContext, body: unknown): Promise<TrackResult>;
  ingestBatch(ctx: RequestContext, body: unknown): Promise<BatchResult>;
  status(userId: UserId): Promise<LearnerSyncStatus>;
  listEvents(userId: UserId, query: Record<string, unknown>): Promise<EventListing>;
  progress(userId: UserId): Promise<LearnerJson>;
  exportUser(userId: UserId): Promise<UserExport>;
  eraseUser(userId: UserId): Promise<ErasureReport>;
}

export function createLearnerDataService(deps: TelemetryDeps): LearnerDataService {
  const ingestion = createIngestion(deps);
  return {
    track: ingestion.track,
    ingestBatch: ingestion.ingestBatch,
    status: (userId) => readSyncStatus(deps, userId),
    listEvents: (userId, query) => listEvents(deps, userId, query),
    progress: (userId) => readProgress(deps, userId),
    exportUser: (userId) => exportUser(deps, userId),
    eraseUser: (userId) => eraseUser(deps, userId),
  };
}
