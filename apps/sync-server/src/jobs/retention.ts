import { withLease, type TelemetryJobDeps } from './queue.js';

const DAY_MS = 86_400_000;

/** Deletes telemetry events older than `RETENTION_DAYS` (0 keeps them forever), once across instances. */
export async function runRetentionJob(deps: TelemetryJobDeps): Promise<void> {
  const days = deps.config.RETENTION_DAYS;
  if (days <= 0) return;
  const now = deps.now ?? (() => new Date());
  await withLease(deps.store.leases, 'job:retention', deps.instanceId, 30 * 60 * 1000, async () => {
    const cutoff = new Date(now().getTime() - days * DAY_MS);
    const deleted = await deps.store.telemetry.deleteEventsOlderThan(cutoff);
    deps.logger.info({ job: 'retention', cutoff: cutoff.toISOString(), deleted }, 'old telemetry events deleted');
  });
}
