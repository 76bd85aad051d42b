import type { TelemetryJobDeps } from './sync-queue-job.js';

const DAY_MS = 86_400_000;

/** Lease of one run across instances (jobs/scheduler.ts). */
export const RETENTION_LEASE_MS = 30 * 60 * 1000;

/** Deletes telemetry events older than `RETENTION_DAYS` (0 keeps them forever). */
export async function runRetentionJob(deps: Pick<TelemetryJobDeps, 'store' | 'config' | 'logger' | 'now'>): Promise<void> {
  const days = deps.config.RETENTION_DAYS;
  if (days <= 0) return;
  const now = deps.now ?? (() => new Date());
  const cutoff = new Date(now().getTime() - days * DAY_MS);
  const deleted = await deps.store.telemetry.deleteEventsOlderThan(cutoff);
  deps.logger.info({ job: 'retention', cutoff: cutoff.toISOString(), deleted }, 'old telemetry events deleted');
}
