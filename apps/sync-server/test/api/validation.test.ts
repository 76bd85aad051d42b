import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInlineValidator, createWorkerValidator, type ItemValidator } from '../../src/telemetry/item-validator.js';
import { openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { eventually } from '../helpers/stores.js';
import { assessmentItem, eventItem, progressItem, uid } from './fixtures.js';

/** A logger that keeps its lines, to prove the pool never fell back to inline validation. */
function recordingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }), lines };
}

describe('validation in worker threads', () => {
  let workers: ItemValidator;
  const inline = createInlineValidator();
  const log = recordingLogger();

  beforeAll(() => {
    workers = createWorkerValidator({ logger: log.logger, threads: 1, minItems: 1 });
  });
  afterAll(async () => {
    await workers?.close();
    expect(log.lines).toEqual([]);
  });

  it('when the same items (valid, invalid, with extra keys, seeded) are validated in a worker and inline, then the results are equal', async () => {
    const seed = 7;
    const valid = [eventItem('v1'), assessmentItem('a1', { weakAreas: ['  padded  '] }), progressItem('t1'), eventItem('v2', { extra: 'stripped' })];
    const items = fc.sample(
      fc.oneof(
        fc.constantFrom<unknown>(...valid),
        fc.jsonValue({ maxDepth: 4 }),
        fc.record({ itemType: fc.constantFrom('event', 'progress', 'assessment', 'x'), itemData: fc.jsonValue({ maxDepth: 3 }) }),
      ),
      { seed, numRuns: 300 },
    );
    const [fromWorkers, fromInline] = await Promise.all([workers.validate(items), inline.validate(items)]);
    expect(fromWorkers).toEqual(fromInline);
    expect(fromInline.filter((r) => r.ok).length).toBeGreaterThan(30);
    // The trimmed weak area and the stripped key show that parsed output, not input, is returned.
    const [, assessment, , extra] = await workers.validate(valid);
    expect(assessment).toMatchObject({ ok: true, item: { itemData: { weakAreas: ['padded'] } } });
    expect(extra!.ok && 'extra' in extra!.item.itemData).toBe(false);
  });

  it('when the worker cannot start, then it is restarted at most 3 times and validation answers inline', async () => {
    const log = recordingLogger();
    const broken = new URL(`data:text/javascript,${encodeURIComponent('throw new Error("broken worker")')}`);
    const pool = createWorkerValidator({ logger: log.logger, threads: 1, minItems: 1, entry: broken });
    try {
      await eventually(() => log.lines.some((l) => l.includes('validating inline from now on')), { timeoutMs: 10_000 });
      const [result] = await pool.validate([eventItem('while-broken')]);
      expect(result!.ok).toBe(true);
      expect(log.lines.filter((l) => l.includes('replacing it'))).toHaveLength(2);
    } finally {
      await pool.close();
    }
  });

  it('when the pool is closed, then validation still answers inline', async () => {
    const pool = createWorkerValidator({ logger: pino({ level: 'silent' }), threads: 1, minItems: 1 });
    await pool.close();
    const [result] = await pool.validate([eventItem('after-close')]);
    expect(result!.ok).toBe(true);
  });
});

describe('ingestion with the worker validator', () => {
  let opened: OpenedStore;
  let api: ApiHarness;
  let validator: ItemValidator;

  beforeAll(async () => {
    opened = await openStore('sqlite');
    validator = createWorkerValidator({ logger: pino({ level: 'silent' }), threads: 1, minItems: 2 });
    api = await startApi({ store: opened.store, validator });
  });
  afterAll(async () => {
    await api?.close();
    await validator?.close();
    await opened?.dispose();
  });

  it('when a mixed batch is ingested through the pool, then the results are those of inline validation', async () => {
    const user = uid('u');
    const token = await api.token(user);
    const items = [eventItem(uid('e')), assessmentItem(uid('a')), progressItem('w'), { itemType: 'event', itemData: { eventId: 'bad id' } }];
    const res = await api.request('POST', '/api/telemetry/batch', { token, body: { batchId: uid('b'), items } });
    expect(res.status).toBe(200);
    expect(res.json.data.results.map((r: { status: string }) => r.status)).toEqual(['stored', 'merged', 'merged', 'rejected']);
    expect(res.json.data.results[3].error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['itemData.eventId', 'itemData.eventType']));
  });
});
