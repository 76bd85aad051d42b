import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { UpdateLogMetrics } from './update-log.js';

/** Where an update entered this instance. */
export type UpdateSource = 'client' | 'service' | 'remote';

/**
 * The sync service's Prometheus metrics, registered in the registry it is given (never the
 * global default, so two services in one process, e.g. tests, do not collide).
 */
export interface SyncMetrics {
  readonly connections: Gauge;
  readonly loadedDocuments: Gauge;
  readonly updates: Counter<'source'>;
  readonly storeErrors: Counter<'operation'>;
  readonly closedSockets: Counter<'code'>;
  readonly snapshotDuration: Histogram;
  readonly log: UpdateLogMetrics;
}

export function createSyncMetrics(registry: Registry): SyncMetrics {
  const registers = [registry];
  const connections = new Gauge({ name: 'prepmate_sync_connections', help: 'Open WebSocket sync connections', registers });
  const loadedDocuments = new Gauge({ name: 'prepmate_sync_loaded_documents', help: 'Documents held in memory', registers });
  const updates = new Counter({
    name: 'prepmate_sync_updates_total',
    help: 'Yjs updates that changed a loaded document, by where they came from',
    labelNames: ['source'] as const,
    registers,
  });
  const storeErrors = new Counter({
    name: 'prepmate_sync_store_errors_total',
    help: 'Failed store operations of the sync service (append, load, compact)',
    labelNames: ['operation'] as const,
    registers,
  });
  const closedSockets = new Counter({
    name: 'prepmate_sync_sockets_closed_total',
    help: 'Sync sockets closed by the server, by close code',
    labelNames: ['code'] as const,
    registers,
  });
  const flushSeconds = new Histogram({
    name: 'prepmate_sync_log_flush_seconds',
    help: 'Duration of one group-commit write of the update log',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const flushedRecords = new Counter({ name: 'prepmate_sync_log_records_total', help: 'Records written to the update log', registers });
  const backlog = new Gauge({ name: 'prepmate_sync_log_backlog', help: 'Update-log records not yet durable', registers });
  const snapshotDuration = new Histogram({
    name: 'prepmate_sync_snapshot_duration_seconds',
    help: 'Duration of one scheduled snapshot (compaction) run',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers,
  });
  return {
    connections,
    loadedDocuments,
    updates,
    storeErrors,
    closedSockets,
    snapshotDuration,
    log: {
      flushed(seconds, records) {
        flushSeconds.observe(seconds);
        flushedRecords.inc(records);
      },
      failed() {
        storeErrors.inc({ operation: 'append' });
      },
      backlog(records) {
        backlog.set(records);
      },
    },
  };
}
