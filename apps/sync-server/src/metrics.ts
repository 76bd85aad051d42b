import { Registry, collectDefaultMetrics } from 'prom-client';

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
