import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Router } from 'express';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { TEST_SECRET, openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { SpecValidator, loadSpec } from '../helpers/openapi.js';
import { tempSqliteDir } from '../helpers/stores.js';
import { assessmentItem, eventItem, progressItem, trackBody, uid } from './fixtures.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

const specPath = fileURLToPath(new URL('../../../../docs/openapi.yaml', import.meta.url));
const spec = parse(readFileSync(specPath, 'utf8')) as { openapi: string; paths: Record<string, Record<string, Schema>>; components: Schema };
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function resolveRef(ref: string): Schema {
  expect(ref.startsWith('#/'), ref).toBe(true);
  let node: Json = spec as unknown as Json;
  for (const part of ref.slice(2).split('/')) {
    node = (node as Record<string, Json>)[part] ?? null;
    expect(node, `unresolved ${ref}`).not.toBeNull();
  }
  return node as Schema;
}

/** What the document's schema says is wrong with `value` ([] when it matches), by a JSON Schema 2020-12 validator. */
const validator = new SpecValidator(loadSpec());
let compiled = 0;
function violations(schema: Schema, value: unknown): string[] {
  const fn = validator.compile(schema, `openapi.test:${compiled++}`);
  return fn(value) ? [] : (fn.errors ?? []).map((e) => `${e.instancePath || '$'} ${e.message ?? ''}`);
}

/** `METHOD /path` of every route of the routers, as Express sees them. */
function mountedRoutes(routers: readonly Router[]): string[] {
  const out: string[] = [];
  const walk = (stack: unknown[]): void => {
    for (const layer of stack as { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push(`${method.toUpperCase()} ${layer.route.path}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  for (const router of routers) walk((router as unknown as { stack: unknown[] }).stack);
  return out.sort();
}

function documentedRoutes(): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(spec.paths)) for (const method of Object.keys(item)) if (METHODS.includes(method)) out.push(`${method.toUpperCase()} ${path}`);
  return out.sort();
}

describe('docs/openapi.yaml against the composition root', () => {
  it('when the real server (startServer) runs, then every mounted route is documented and every documented operation answers', async () => {
    const tmp = await tempSqliteDir();
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: tmp.dir, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', ENABLE_SCHEDULED_SYNC: 'false' });
    const server = await startServer(config, { logger: createLogger('silent'), auditWindowMs: 10 });
    try {
      // Middleware in front of a route (audit, batch signatures) shows as a second layer of it.
      expect([...new Set(mountedRoutes(server.apiRouters))]).toEqual(documentedRoutes());
      const service = await server.tokens.sign('docs_check', { role: 'service' });
      for (const operation of documentedRoutes()) {
        const [method, path] = operation.split(' ') as [string, string];
        // No body: a route answers 400/415 or its own answer, a missing one the generic 404.
        const res = await fetch(`${server.url}/api${path}`, { method, headers: { authorization: `Bearer ${service}` } });
        const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
        expect(body?.error?.message ?? '', operation).not.toMatch(/^No route /);
      }
      // The routes only the real composition root mounts (audit) answer their documented schemas.
      const learner = await server.tokens.sign('docs_learner');
      await fetch(`${server.url}/api/telemetry/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${learner}`, 'content-type': 'application/json' },
        body: JSON.stringify({ batchId: uid('b'), items: [eventItem(uid('e')), assessmentItem(uid('a'))] }),
      });
      for (const [path, list] of [['/audit?userId=docs_learner', 'entries'], ['/audit/history?docName=docs_learner', 'updates']] as const) {
        // Audit entries are group-written (auditWindowMs): poll until they are there.
        const deadline = Date.now() + 10_000;
        let body: { data?: Record<string, unknown[]> } = {};
        for (;;) {
          const res = await fetch(`${server.url}/api${path}`, { headers: { authorization: `Bearer ${service}` } });
          expect(res.status, path).toBe(200);
          body = (await res.json()) as typeof body;
          if ((body.data?.[list]?.length ?? 0) > 0 || Date.now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(body.data?.[list]?.length, path).toBeGreaterThan(0);
        const op = spec.paths[path.split('?')[0]!]!['get']!;
        const schema = ((op['responses'] as Record<string, Schema>)['200'] as unknown as { content: Record<string, { schema: Schema }> }).content['application/json']!.schema;
        expect(violations(schema, body), path).toEqual([]);
      }
    } finally {
      await server.stop();
      await tmp.remove();
    }
  });
});

describe('docs/openapi.yaml', () => {
  let opened: OpenedStore;
  let api: ApiHarness;

  beforeAll(async () => {
    opened = await openStore('sqlite');
    api = await startApi({ store: opened.store });
  });
  afterAll(async () => {
    await api?.close();
    await opened?.dispose();
  });

  it('when parsed, then it is OpenAPI 3.1 and every $ref resolves', () => {
    expect(spec.openapi).toMatch(/^3\.1\./);
    const refs: string[] = [];
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === '$ref' && typeof v === 'string') refs.push(v);
          else collect(v);
        }
      }
    };
    collect(spec);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) resolveRef(ref);
    // The checker itself is not vacuous.
    expect(violations({ $ref: '#/components/schemas/BatchResult' }, { batchId: 1, results: [{ index: 0, status: 'lost' }] })).not.toEqual([]);
    expect(violations({ $ref: '#/components/schemas/BatchResult' }, { batchId: 'b', processed: 0, failed: 0, conflicts: 0, duplicates: 0, results: [{ index: 0, status: 'lost' }] })).toEqual([
      '/results/0/status must be equal to one of the allowed values',
    ]);
  });

  it('when compared with the test harness, then it mounts a subset of the documented routes', () => {
    // The harness leaves out the security layer (audit routes); the real root is checked above.
    expect(documentedRoutes()).toEqual(expect.arrayContaining(mountedRoutes(api.apiRouters)));
    expect(mountedRoutes(api.apiRouters).length).toBeGreaterThan(8);
  });

  it('when every documented operation is called, then the route exists and its answer matches the documented schema', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const service = await api.token('docs_check', { role: 'service' });
    // Seed data so lists and documents are not empty.
    await api.request('POST', '/api/telemetry/batch', {
      token,
      body: { batchId: uid('b'), items: [eventItem(uid('e')), assessmentItem(uid('a')), progressItem('arrays')] },
    });
    const bodies: Record<string, unknown> = {
      'POST /telemetry/track': trackBody(uid('e')),
      'POST /telemetry/batch': { batchId: uid('b'), items: [eventItem(uid('e')), { itemType: 'event', itemData: {} }] },
      'POST /auth/dev-token': { userId: user },
    };
    // Erasure last: it empties what the other answers show.
    // Each operation once: the audit layer mounts its own handler on the routes it records.
    const operations = [...new Set(mountedRoutes(api.apiRouters))].sort((a, b) => Number(a.startsWith('DELETE')) - Number(b.startsWith('DELETE')));
    for (const operation of operations) {
      const [method, path] = operation.split(' ') as [string, string];
      const op = spec.paths[path]![method.toLowerCase()]!;
      // The audit trail spans learners: service tokens only.
      const needsService = path === '/metrics' || path.startsWith('/audit');
      const query = path === '/audit/history' ? `?docName=${user}` : '';
      const res = await api.request(method, `/api${path}${query}`, {
        token: needsService ? service : token,
        ...(bodies[operation] !== undefined ? { body: bodies[operation] } : {}),
      });
      expect(res.json?.error?.code, `${operation} is not a route miss`).not.toBe('NOT_FOUND');
      expect(res.status, operation).toBe(200);
      const responses = op['responses'] as Record<string, Schema>;
      const documented = responses['200']!;
      const content = documented['content'] as Record<string, { schema: Schema }>;
      if (content['application/json']) {
        expect(violations(content['application/json'].schema, res.json), operation).toEqual([]);
      } else {
        expect(res.headers.get('content-type'), operation).toMatch(/^text\/plain/);
      }
    }
  });

  it('when routes answer errors, then the bodies match ErrorResponse and the statuses are documented', async () => {
    const token = await api.token(uid('u'));
    const errorSchema: Schema = { $ref: '#/components/schemas/ErrorResponse' };
    const cases: [string, string, { token?: string; body?: unknown; headers?: Record<string, string> }, string][] = [
      ['POST', '/telemetry/track', { token, body: { eventType: 1 } }, '400'],
      ['POST', '/telemetry/batch', {}, '401'],
      ['GET', '/telemetry/events', { token, headers: {} }, '200'],
      ['GET', `/progress?userId=${uid('x')}`, { token }, '403'],
      ['POST', '/telemetry/track', { token, body: 'x=1', headers: { 'content-type': 'text/plain' } }, '415'],
    ];
    for (const [method, path, options, status] of cases) {
      const res = await api.request(method, `/api${path}`, options);
      expect(String(res.status), `${method} ${path}`).toBe(status);
      const op = spec.paths[path.split('?')[0]!]![method.toLowerCase()]!;
      expect(Object.keys(op['responses'] as Schema), `${method} ${path} documents ${status}`).toContain(status);
      if (res.status >= 400) expect(violations(errorSchema, res.json)).toEqual([]);
    }
  });
});
