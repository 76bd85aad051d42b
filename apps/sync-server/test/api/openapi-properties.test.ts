/**
 * docs/openapi.yaml is exact: requests generated from its schemas (valid ones, and the same
 * ones with a field removed, replaced or a refused key added) are accepted by the real server
 * (startServer) exactly when the spec's validator accepts them, and every answer has a status
 * the operation documents and the body of that status.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TEST_SECRET } from '../helpers/api.js';
import { tempSqliteDir } from '../helpers/stores.js';
import { SpecValidator, arbitraryOf, discriminatorMappingErrors, loadSpec, mutate, mutationArb, resolveRef, type Json, type Overrides, type Schema } from '../helpers/openapi.js';

const spec = loadSpec();
const validator = new SpecValidator(spec);
const schemaOf = (name: string): Schema => resolveRef(spec, `#/components/schemas/${name}`);

/**
 * Generator-only choices, each where a rule the spec states in prose goes beyond JSON Schema:
 * topic names are compared after normalisation (so generated names are already normalised),
 * and most times are near now, as real clients send them.
 */
const now = Date.now();
const HOUR = 3_600_000;
const dateTime = fc.oneof(
  fc.integer({ min: now - 400 * 24 * HOUR, max: now + 48 * HOUR }).map((ms) => new Date(ms).toISOString()),
  fc.stringMatching(new RegExp(schemaOf('DateTime')['pattern'] as string)),
);
const topicName = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcXYZ09+#é機学ü '), minLength: 0, maxLength: 90 }).filter((s) => !/^ | $| {2}/.test(s)),
  // Control characters and direction overrides (refused), whitespace only (refused), a tab (a space once normalised).
  fc.constantFrom('a\u0007b', 'x\u202ey', 'a\u0085b', '   ', 'a\tb', 'C++', '機械学習'),
);
const overrides: Overrides = new Map<Schema, fc.Arbitrary<Json>>([
  [schemaOf('DateTime'), dateTime],
  [(schemaOf('ProgressItemData')['properties'] as Record<string, Schema>)['name']!, topicName],
]);
const generate = (name: string, maxItems = 3): fc.Arbitrary<Json> => arbitraryOf(spec, schemaOf(name), { overrides, skip: new Set(['userId']), maxItems });

/** Generated once, sometimes mutated: the oracle, not the generator, says which are valid. */
const maybeMutated = (arb: fc.Arbitrary<Json>): fc.Arbitrary<Json> =>
  fc.tuple(arb, fc.array(mutationArb, { maxLength: 2 }), fc.constantFrom('keep', 'anywhere', 'top')).map(([value, mutations, how]) =>
    how === 'keep' ? value : mutate(value, mutations, how === 'top'),
  );

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

/**
 * The rules the spec states in its descriptions because JSON Schema cannot compare two fields
 * or measure serialized size: equal event ids in both places, correctAnswers ≤
 * questionsAttempted, 32 KiB eventData, 4 KiB metadata.
 */
function proseRulesHold(kind: 'track' | 'event' | 'assessment' | 'progress', data: unknown): boolean {
  if (!isObject(data)) return true;
  if (kind === 'track' || kind === 'event') {
    if (bytes(data['eventData']) > 32 * 1024 || bytes(data['metadata']) > 4 * 1024) return false;
    const meta = data['metadata'];
    if (kind === 'event' && isObject(meta) && data['eventId'] !== undefined && meta['eventId'] !== undefined && meta['eventId'] !== data['eventId']) return false;
  }
  if (kind === 'assessment') {
    const { correctAnswers, questionsAttempted } = data;
    if (typeof correctAnswers === 'number' && typeof questionsAttempted === 'number' && correctAnswers > questionsAttempted) return false;
    // Not dated more than 5 minutes after the server's clock.
    if (typeof data['completedAt'] === 'string' && Date.parse(data['completedAt']) > Date.now() + 5 * 60_000) return false;
  }
  return true;
}

function itemAllowed(item: unknown): boolean {
  if (!validator.component('BatchItem')(item)) return false;
  const { itemType, itemData } = item as { itemType: 'event' | 'assessment' | 'progress'; itemData: unknown };
  return proseRulesHold(itemType, itemData);
}

/** The batch envelope as the spec describes it: `BatchRequest` with its items checked one by one. */
const envelopeSchema: Schema = (() => {
  const batch = schemaOf('BatchRequest');
  const props = batch['properties'] as Record<string, Schema>;
  return { ...batch, properties: { ...props, items: { ...props['items']!, items: {} } } };
})();

describe('docs/openapi.yaml against the real server, with generated requests', () => {
  let tmp: { dir: string; remove(): Promise<void> };
  let server: RunningServer;
  let learner: string;
  let service: string;

  beforeAll(async () => {
    tmp = await tempSqliteDir();
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: tmp.dir,
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: 'silent',
      ENABLE_SCHEDULED_SYNC: 'false',
      RATE_LIMIT_PER_MINUTE: '1000000',
    });
    server = await startServer(config, { logger: createLogger('silent'), auditWindowMs: 10 });
    learner = await server.tokens.sign('spec_learner');
    service = await server.tokens.sign('spec_service', { role: 'service' });
  });
  afterAll(async () => {
    await server?.stop();
    await tmp?.remove();
  });

  async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown; headers: Headers }> {
    const res = await fetch(`${server.url}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    const documentedPath = path.split('?')[0]!;
    const errors = validator.responseErrors(documentedPath, method, res.status, json, res.headers.get('content-type'));
    expect(errors, `${method} ${path} → ${res.status} ${text.slice(0, 300)}`).toEqual([]);
    return { status: res.status, json, headers: res.headers };
  }

  it('when /telemetry/track gets generated bodies, then it answers 200 exactly for those the spec allows, else 400', async () => {
    const allowed = validator.component('TrackRequest');
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(maybeMutated(generate('TrackRequest')), async (body) => {
        const expected = allowed(body) && proseRulesHold('track', body);
        const res = await call('POST', '/telemetry/track', learner, body);
        expect(res.status, JSON.stringify(body)).toBe(expected ? 200 : 400);
        if (expected) accepted += 1;
        else refused += 1;
      }),
      { numRuns: 150 },
    );
    // Both sides of the oracle were reached.
    expect(accepted).toBeGreaterThan(15);
    expect(refused).toBeGreaterThan(15);
  });

  it('when /telemetry/batch gets generated batches, then the envelope is refused and each item rejected exactly as the spec says', async () => {
    const envelopeAllowed = validator.compile(envelopeSchema, 'batch-envelope');
    const counts = { refused: 0, itemsAccepted: 0, itemsRejected: 0 };
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(maybeMutated(generate('BatchRequest', 4)), async (body) => {
        const res = await call('POST', '/telemetry/batch', learner, body);
        if (!envelopeAllowed(body)) {
          expect(res.status, JSON.stringify(body)).toBe(400);
          counts.refused += 1;
          return;
        }
        expect(res.status, JSON.stringify(body)).toBe(200);
        const items = (body as { items: unknown[] }).items;
        const results = (res.json as { data: { results: { index: number; status: string }[] } }).data.results;
        expect(results.map((r) => r.index)).toEqual(items.map((_, i) => i));
        items.forEach((item, i) => {
          const expected = itemAllowed(item);
          expect(results[i]!.status === 'rejected', `item ${i}: ${JSON.stringify(item)} → ${JSON.stringify(results[i])}`).toBe(!expected);
          if (expected) {
            counts.itemsAccepted += 1;
            kinds.add((item as { itemType: string }).itemType);
          } else {
            counts.itemsRejected += 1;
          }
        });
      }),
      { numRuns: 120 },
    );
    expect(counts.refused).toBeGreaterThan(10);
    expect(counts.itemsAccepted).toBeGreaterThan(20);
    expect(counts.itemsRejected).toBeGreaterThan(20);
    expect([...kinds].sort()).toEqual(['assessment', 'event', 'progress']);
  });

  it('when the listings are queried with generated parameters, then each answers 200 exactly when they match the documented parameters', async () => {
    // Cursors are left out: only the server's own `nextCursor` values are valid, which no schema
    // can say; so is the acting userId (who may name whom is authorization, tested above).
    const listings = [
      ['/telemetry/events', () => learner],
      ['/audit', () => service],
      ['/audit/history', () => service],
    ] as const;
    for (const [path, token] of listings) {
      const params = (spec.paths[path]!['get']!['parameters'] as Schema[])
        .filter((p) => p['$ref'] !== '#/components/parameters/ActingUserId')
        .map((p) => (typeof p['$ref'] === 'string' ? resolveRef(spec, p['$ref']) : p))
        .filter((p) => p['in'] === 'query' && p['name'] !== 'cursor');
      const named = params.map((p) => ({
        name: p['name'] as string,
        required: p['required'] === true,
        schema: p['schema'] as Schema,
        allowed: validator.compile(p['schema'] as Schema, `q:${path}:${p['name'] as string}`),
      }));
      const value = (schema: Schema): fc.Arbitrary<string> =>
        fc.oneof(
          arbitraryOf(spec, schema, { overrides }).map(String),
          fc.constantFrom('', 'abc', '0', '1001', '2.5', 'Interview_Started', 'a'.repeat(301), '2025-02-30T00:00:00Z'),
        );
      const queryArb = fc.record(Object.fromEntries(named.map((p) => [p.name, value(p.schema)])), { requiredKeys: [] });
      let ok = 0;
      let bad = 0;
      await fc.assert(
        fc.asyncProperty(queryArb, async (query) => {
          // Query strings are strings: an integer parameter is its decimal form.
          const expected = named.every((p) => {
            const v = (query as Record<string, string | undefined>)[p.name];
            if (v === undefined) return !p.required;
            return p.schema['type'] === 'integer' ? /^-?\d+$/.test(v) && p.allowed(Number(v)) : p.allowed(v);
          });
          const res = await call('GET', `${path}?${new URLSearchParams(query as Record<string, string>).toString()}`, token());
          expect(res.status, `${path} ${JSON.stringify(query)}`).toBe(expected ? 200 : 400);
          if (expected) ok += 1;
          else bad += 1;
        }),
        { numRuns: 50 },
      );
      expect(ok, path).toBeGreaterThan(5);
      expect(bad, path).toBeGreaterThan(5);
    }
  });

  it('when a service token names a generated learner on the read and erase routes, then it answers 200 exactly for a valid userId, else 400', async () => {
    const userIdAllowed = validator.component('UserId');
    const userId = fc.oneof(generate('UserId') as fc.Arbitrary<string>, fc.constantFrom('', '__proto__', 'a b', 'x'.repeat(129), 'ünï', 'a/b'));
    const routes = [
      ['GET', '/progress'],
      ['GET', '/telemetry/status'],
      ['GET', '/users/me/export'],
      ['DELETE', '/users/me'],
    ] as const;
    await fc.assert(
      fc.asyncProperty(userId, fc.constantFrom(...routes), async (id, [method, path]) => {
        const res = await call(method, `${path}?userId=${encodeURIComponent(id)}`, service);
        expect(res.status, `${method} ${path} userId=${JSON.stringify(id)}`).toBe(userIdAllowed(id) ? 200 : 400);
      }),
      { numRuns: 60 },
    );
  });

  it('when a documented path is called with a method it does not list, then it answers 405 with Allow naming its methods', async () => {
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    let checked = 0;
    for (const [path, item] of Object.entries(spec.paths)) {
      const documented = methods.filter((m) => item[m.toLowerCase()] !== undefined);
      const allow = [...documented, ...(documented.includes('GET') ? ['HEAD'] : []), 'OPTIONS'];
      for (const method of methods.filter((m) => !documented.includes(m))) {
        const res = await fetch(`${server.url}/api${path}`, { method, headers: { authorization: `Bearer ${service}` } });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')?.split(', ').sort(), `${method} ${path}`).toEqual([...allow].sort());
        const body = (await res.json()) as { error: { code: string } };
        expect(body.error.code).toBe('METHOD_NOT_ALLOWED');
        expect(validator.component('ErrorResponse')(body), JSON.stringify(body)).toBe(true);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(30);
    // The documented answer for it exists, and a path the spec does not list stays 404.
    expect(resolveRef(spec, '#/components/responses/MethodNotAllowed')['headers']).toHaveProperty('Allow');
    const miss = await fetch(`${server.url}/api/telemetry/nope`, { method: 'POST', headers: { authorization: `Bearer ${service}` } });
    expect(miss.status).toBe(404);
    expect(((await miss.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('when itemData is validated alone, then each kind of item matches exactly one branch (the branches are disjoint)', () => {
    const items = [
      { itemType: 'assessment', itemData: { assessmentId: 'a1', topicId: 'arrays', score: 50, completedAt: '2025-01-01T00:00:00Z' } },
      { itemType: 'progress', itemData: { topicId: 'arrays', status: 'in_progress' } },
      { itemType: 'event', itemData: { eventType: 'x', eventData: {}, metadata: { clientTimestamp: '2025-01-01T00:00:00Z', eventId: 'e1' } } },
    ];
    expect(discriminatorMappingErrors(spec)).toEqual([]);
    const branches = ['EventBatchItem', 'ProgressBatchItem', 'AssessmentBatchItem'].map((n) => validator.component(n));
    for (const item of items) {
      expect(branches.filter((b) => b(item)).length, JSON.stringify(item)).toBe(1);
      expect(validator.component('BatchItem')(item), JSON.stringify(validator.component('BatchItem').errors)).toBe(true);
    }
    // The itemType decides the branch: an assessment's fields labelled `progress` are a progress
    // item (unknown fields are ignored, as the server ignores them), a progress item without topicId none.
    expect(validator.component('BatchItem')({ ...items[0], itemType: 'progress' })).toBe(true);
    expect(validator.component('BatchItem')({ itemType: 'progress', itemData: { score: 50 } })).toBe(false);
  });
});
