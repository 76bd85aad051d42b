import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per server instance. Subsystems register their own metrics in it;
 * the default global registry is never used, so two servers in one process (tests) never clash.
 */
export function createMetricsRegistry(instanceId: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ instance: instanceId });
  collectDefaultMetrics({ register: registry, prefix: 'prepmate_' });
  return registry;
}

/** Whether a timed operation ended well. */
export type Outcome = 'ok' | 'error';

/**
 * The latencies operators watch (docs/operations.md, docs/grafana/prepmate-sync.json), as plain
 * callbacks: the HTTP layer, the store decorator and the scheduler report durations without
 * knowing prom-client.
 */
export interface OperationMetrics {
  /** One API request; `route` is the route template (`/api/progress`), never the raw path. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** One store call; `port` is the store's concern (`telemetry`, `documents`, …). */
  storeOperation(port: string, operation: string, outcome: Outcome, seconds: number): void;
  /** One run of a scheduled job (`sync-queue` is the queue's processing time). */
  jobRun(job: string, outcome: Outcome, seconds: number): void;
}

export function createOperationMetrics(registry: Registry): OperationMetrics {
  const registers = [registry];
  const http = new Histogram({
    name: 'prepmate_http_request_duration_seconds',
    help: 'API response time by route template, method and status class',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const store = new Histogram({
    name: 'prepmate_store_operation_duration_seconds',
    help: 'Database operation latency by store port and operation',
    labelNames: ['port', 'operation', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const jobs = new Histogram({
    name: 'prepmate_job_duration_seconds',
    help: 'Duration of one scheduled job run (job="sync-queue": queue processing time)',
    labelNames: ['job', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers,
  });
  return {
    httpRequest(method, route, status, seconds) {
      http.observe({ method, route, status: `${Math.floor(status / 100)}xx` }, seconds);
    },
    storeOperation(port, operation, outcome, seconds) {
      store.observe({ port, operation, outcome }, seconds);
    },
    jobRun(job, outcome, seconds) {
      jobs.observe({ job, outcome }, seconds);
    },
  };
}
