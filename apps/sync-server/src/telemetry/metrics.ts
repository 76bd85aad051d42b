import { Counter, Histogram, type Registry } from 'prom-client';
import type { TelemetryMetrics } from './types.js';

/** Ingestion metrics in the server's own registry (never prom-client's global one). */
export function createTelemetryMetrics(registry: Registry): TelemetryMetrics {
  const items = new Counter({
    name: 'prepmate_telemetry_items_total',
    help: 'Telemetry items by type and outcome (stored, duplicate, merged, rejected)',
    labelNames: ['item_type', 'status'] as const,
    registers: [registry],
  });
  const batches = new Histogram({
    name: 'prepmate_telemetry_batch_seconds',
    help: 'Time to ingest one batch, seconds',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const batchLogs = new Counter({
    name: 'prepmate_sync_batches_total',
    help: 'Telemetry batches by outcome (completed, partial, failed): the sync success rate',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const merges = new Counter({
    name: 'prepmate_sync_merges_total',
    help: 'Progress and assessment items merged into learner documents, by where and how (merged, conflict, failed)',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const conflicts = new Counter({
    name: 'prepmate_conflicts_total',
    help: 'Items whose values lost to the document (conflict resolution), by where they were decided',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  return {
    itemsIngested(itemType, status, count) {
      if (count > 0) items.inc({ item_type: itemType, status }, count);
    },
    batchDuration(seconds) {
      batches.observe(seconds);
    },
    batchLogged(status) {
      batchLogs.inc({ status });
    },
    merged(source, outcome, count) {
      if (count > 0) merges.inc({ source, outcome }, count);
    },
    conflicts(source, count) {
      if (count > 0) conflicts.inc({ source }, count);
    },
  };
}
