import type { Logger } from '../logger.js';
import type { Store } from '../storage/ports.js';

const DAY_MS = 86_400_000;
/** Lease of one run across instances (jobs/scheduler.ts). */
export const AUDIT_RETENTION_LEASE_MS = 30 * 60 * 1000;

export interface AuditRetentionDeps {
  readonly store: Pick<Store, 'audit'>;
  /** `AUDIT_RETENTION_DAYS`; 0 keeps entries forever. */
  readonly days: number;
  readonly logger: Logger;
  readonly now?: () => Date;
}

/** Deletes audit entries older than the retention; returns how many. */
export async function runAuditRetention(deps: AuditRetentionDeps): Promise<number> {
  if (deps.days <= 0) return 0;
  const cutoff = new Date((deps.now?.() ?? new Date()).getTime() - deps.days * DAY_MS);
  const deleted = await deps.store.audit.deleteOlderThan(cutoff);
  deps.logger.info({ job: 'audit-retention', cutoff: cutoff.toISOString(), deleted }, 'old audit entries deleted');
  return deleted;
}
