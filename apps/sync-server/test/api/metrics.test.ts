import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeLabel } from '../../src/http/request-metrics.js';
import { openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { iso, progressItem, uid } from './fixtures.js';

const dashboardPath = fileURLToPath(new URL('../../../../docs/grafana/prepmate-sync.json', import.meta.url));

/** `name{labels} value` lines of the Prometheus text format, as [name, labels, value]. */
function samples(text: string): { name: string; labels: string; value: number }[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(l);
      if (!m) throw new Error(`not a sample line: ${l}`);
      return { name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) };
    });
}

describe('operator metrics', () => {
  let opened: OpenedStore;
  let api: ApiHarness;
  let text = '';

  beforeAll(async () => {
    opened = await openStore('sqlite');
    api = await startApi({ store: opened.store });
    const user = uid('u');
    const token = await api.token(user);
    const topicId = uid('t');
    const now = Date.now();
    // A completed batch, then a late older patch: one merge that lost (a conflict).
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [progressItem(topicId, { updatedAt: iso(now) })] } });
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [progressItem(topicId, { updatedAt: iso(now - 60_000) })] } });
    // A failed batch (every item rejected).
    await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items: [{ itemType: 'event', itemData: {} }] } });
    await api.request('GET', '/api/progress', { token });
    await api.request('GET', `/api/telemetry/events?limit=5&eventType=x`, { token });
    await api.request('GET', `/api/no-such-route/${uid('id')}`, { token });
    expect(await api.jobs.runNow('sync-queue')).toBe(true);
    const service = await api.token('metrics-scraper', { role: 'service' });
    const res = await api.request('GET', '/api/metrics', { token: service });
    expect(res.status).toBe(200);
    text = res.text;
  });
  afterAll(async () => {
    await api.close();
    await opened.dispose();
  });

  it('when requests were served, then API response time is a histogram per route template, never per raw path', () => {
    const counts = samples(text).filter((s) => s.name === 'prepmate_http_request_duration_seconds_count');
    const routes = new Set(counts.map((s) => /route="([^"]*)"/.exec(s.labels)?.[1]));
    expect(routes).toContain('/api/progress');
    expect(routes).toContain('/api/telemetry/batch');
    expect(routes).toContain('/api/telemetry/events');
    expect(routes).toContain('/api/*unmatched');
    // No id, query string or unknown path ever becomes a label value.
    for (const route of routes) expect(route).not.toMatch(/u_|\?|no-such-route/);
    const batch = counts.find((s) => s.labels.includes('route="/api/telemetry/batch"') && s.labels.includes('status="2xx"'));
    expect(batch?.value).toBe(3);
  });

  it('when the store was used, then database operation latency is reported per port and operation', () => {
    const ops = samples(text).filter((s) => s.name === 'prepmate_store_operation_duration_seconds_count');
    const pairs = new Set(ops.map((s) => `${/port="([^"]*)"/.exec(s.labels)?.[1]}.${/operation="([^"]*)"/.exec(s.labels)?.[1]}`));
    expect(pairs).toContain('batchLogs.insert');
    expect(pairs).toContain('syncQueue.claim');
    expect(pairs).toContain('telemetry.listEvents');
  });

  it('when the queue job ran, then its processing time is reported', () => {
    const runs = samples(text).find((s) => s.name === 'prepmate_job_duration_seconds_count' && s.labels.includes('job="sync-queue"') && s.labels.includes('outcome="ok"'));
    expect(runs?.value).toBe(1);
  });

  it('when batches succeeded, failed and conflicted, then the success rate and the conflict rate can be computed', () => {
    const value = (name: string, label: string): number => samples(text).find((s) => s.name === name && s.labels.includes(label))?.value ?? 0;
    expect(value('prepmate_sync_batches_total', 'status="completed"')).toBe(2);
    expect(value('prepmate_sync_batches_total', 'status="failed"')).toBe(1);
    expect(value('prepmate_sync_merges_total', 'outcome="merged"')).toBe(1);
    expect(value('prepmate_sync_merges_total', 'outcome="conflict"')).toBe(1);
    expect(value('prepmate_conflicts_total', 'source="request"')).toBe(1);
  });

  it('when the Grafana dashboard queries a metric, then the server exports it', () => {
    const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exported = new Set(samples(text).map((s) => s.name));
    const queried = new Set<string>();
    for (const panel of dashboard.panels) for (const target of panel.targets) for (const m of target.expr.matchAll(/\bprepmate_[a-z0-9_]+/g)) queried.add(m[0]);
    expect(queried.size).toBeGreaterThanOrEqual(10);
    const missing = [...queried].filter((name) => !exported.has(name));
    expect(missing).toEqual([]);
    // The five signals the operations guide names are all on the dashboard.
    for (const name of ['prepmate_http_request_duration_seconds_bucket', 'prepmate_store_operation_duration_seconds_bucket', 'prepmate_job_duration_seconds_bucket', 'prepmate_sync_merges_total', 'prepmate_sync_batches_total']) {
      expect(queried).toContain(name);
    }
  });

  it('route labels: templates under /api, one label for every unmatched path, static outside /api', () => {
    expect(routeLabel('/api/progress?x=1', '/progress')).toBe('/api/progress');
    expect(routeLabel('/api/anything/123', undefined)).toBe('/api/*unmatched');
    expect(routeLabel('/assets/app.js', undefined)).toBe('static');
    expect(routeLabel('/apiary', '/x')).toBe('static');
  });
});
