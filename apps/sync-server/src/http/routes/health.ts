import { Router } from 'express';
import type { JobReport } from '../../jobs/scheduler.js';

export type ComponentState = 'connected' | 'disconnected' | 'degraded' | 'in-process' | 'running' | 'stopped' | 'disabled';

export interface HealthReport {
  readonly status: 'healthy' | 'degraded' | 'unhealthy';
  readonly uptime: number;
  readonly services: { readonly database: ComponentState; readonly cache: ComponentState; readonly scheduler: ComponentState };
  readonly details?: Record<string, unknown>;
  /** Every registered job: its schedule, state and last run on this instance. */
  readonly jobs: readonly JobReport[];
}

export interface HealthSources {
  /** Resolves when the store answers; rejects otherwise. */
  pingDatabase(): Promise<void>;
  /** `in-process` when no Redis is configured. */
  cacheState(): Promise<ComponentState>;
  schedulerState(): ComponentState;
  jobs(): readonly JobReport[];
  /** Unflushed update-log backlog and whether the last store write failed. */
  syncState(): { logBacklog: number; storeHealthy: boolean; loadedDocuments: number; connections: number };
  startedAt: number;
}

/**
 * Status rules (docs/operations.md): the store unreachable → `unhealthy` (503): nothing can
 * be made durable. Redis down, the scheduler stopped, or an update-log backlog that the store
 * refused → `degraded` (200): syncing goes on from memory and is written once the store is back.
 */
export async function checkHealth(sources: HealthSources): Promise<HealthReport> {
  const [database, cache] = await Promise.all([
    sources.pingDatabase().then(
      () => 'connected' as const,
      () => 'disconnected' as const,
    ),
    sources.cacheState().catch(() => 'disconnected' as const),
  ]);
  const scheduler = sources.schedulerState();
  const sync = sources.syncState();
  let status: HealthReport['status'] = 'healthy';
  if (database === 'disconnected') status = 'unhealthy';
  else if (cache === 'disconnected' || scheduler === 'stopped' || !sync.storeHealthy) status = 'degraded';
  return {
    status,
    uptime: Math.round((Date.now() - sources.startedAt) / 1000),
    services: { database, cache, scheduler },
    details: { ...sync },
    jobs: sources.jobs(),
  };
}

export function createHealthRouter(sources: HealthSources): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const report = await checkHealth(sources);
    res.setHeader('Cache-Control', 'no-store');
    res.status(report.status === 'unhealthy' ? 503 : 200).json(report);
  });
  return router;
}
