import schedule from 'node-schedule';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/ports.js';

const DAY_MS = 86_400_000;
const LEASE_KEY = 'job:audit-retention';
const LEASE_MS = 30 * 60 * 1000;

export interface AuditRetentionDeps {
  readonly store: Pick<Store, 'audit' | 'leases'>;
  /** `AUDIT_RETENTION_DAYS`; 0 keeps entries forever. */
  readonly days: number;
  readonly logger: Logger;
  readonly instanceId: string;
  readonly now?: () => Date;
}

/** Deletes audit entries older than the retention, once across instances (store lease). Returns the count, or null when another instance holds the lease. */
export async function runAuditRetention(deps: AuditRetentionDeps): Promise<number | null> {
  if (deps.days <= 0) return 0;
  const { leases } = deps.store;
  if (!(await leases.tryAcquire(LEASE_KEY, deps.instanceId, LEASE_MS))) return null;
  try {
    const cutoff = new Date((deps.now?.() ?? new Date()).getTime() - deps.days * DAY_MS);
    const deleted = await deps.store.audit.deleteOlderThan(cutoff);
    deps.logger.info({ job: 'audit-retention', cutoff: cutoff.toISOString(), deleted }, 'old audit entries deleted');
    return deleted;
  } finally {
    await leases.release(LEASE_KEY, deps.instanceId).catch(() => undefined);
  }
}

/** Daily at 03:45 (after telemetry retention at 03:30). */
export function scheduleAuditRetention(deps: AuditRetentionDeps): { stop(): void } {
  let busy = false;
  // node-schedule names jobs globally: the instance id keeps servers in one process apart.
  const job = schedule.scheduleJob(`audit-retention:${deps.instanceId}`, '45 3 * * *', () => {
    if (busy) return;
    busy = true;
    runAuditRetention(deps)
      .catch((error: unknown) => deps.logger.warn({ job: 'audit-retention', err: error }, 'audit retention failed; next run retries'))
      .finally(() => {
        busy = false;
      });
  });
  return { stop: () => void job?.cancel() };
}
