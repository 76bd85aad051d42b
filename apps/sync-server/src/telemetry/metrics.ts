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
  return {
    itemsIngested(itemType, status, count) {
      if (count > 0) items.inc({ item_type: itemType, status }, count);
    },
    batchDuration(seconds) {
      batches.observe(seconds);
    },
  };
}
