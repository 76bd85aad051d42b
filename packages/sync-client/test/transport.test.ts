import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHttpTransport, parseRetryAfter, type WireItem } from '../src/outbox/transport.js';

const items = (n: number): WireItem[] =>
  Array.from({ length: n }, (_, i) => ({ itemType: 'event', itemData: { eventId: `e${i}`, eventType: 't', eventData: { i }, metadata: { clientTimestamp: '2026-01-01T00:00:00.000Z' } } }));

function transport(respond: (init: RequestInit, n: number) => Response, extra: { compress?: boolean } = {}) {
  const seen: RequestInit[] = [];
  const tokens: boolean[] = [];
  const t = createHttpTransport({
    apiBaseUrl: 'http://server/',
    getToken: ({ forceRefresh }) => {
      tokens.push(forceRefresh);
      return forceRefresh ? 'fresh' : 'stale';
    },
    batchId: () => 'batch_1',
    nowIso: () => '2026-01-01T00:00:05.000Z',
    fetch: async (_url, init) => {
      seen.push(init);
      return respond(init, seen.length);
    },
    ...extra,
  });
  return { t, seen, tokens };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('HTTP batch transport', () => {
  it('when a body is 1 KiB or more, then it is gzipped and says so', async () => {
    const { t, seen } = transport(() => json(200, { success: true, data: { results: [] } }));
    await t.send(items(40));
    const init = seen[0]!;
    expect((init.headers as Record<string, string>)['content-encoding']).toBe('gzip');
    const body = JSON.parse(gunzipSync(init.body as Uint8Array).toString('utf8')) as { items: WireItem[] };
    expect(body.items).toHaveLength(40);
    expect((body.items[0]!.itemData['metadata'] as { sentAt: string }).sentAt).toBe('2026-01-01T00:00:05.000Z');
  });

  it('when the token is refused, then it is refreshed once and the request repeated', async () => {
    const { t, seen, tokens } = transport((init) =>
      (init.headers as Record<string, string>)['authorization'] === 'Bearer fresh' ? json(200, { success: true, data: { results: [{ index: 0, status: 'stored' }] } }) : json(401, { success: false, error: { code: 'UNAUTHORIZED', message: 'expired' } }),
    );
    expect(await t.send(items(1))).toEqual({ kind: 'results', results: [{ index: 0, status: 'stored' }] });
    expect(tokens).toEqual([false, true]);
    expect(seen).toHaveLength(2);
  });

  it('maps statuses to outcomes: 413 split, 400 invalid, 410 gone, 429/503 retry with Retry-After, network error retry', async () => {
    const cases: [Response, unknown][] = [
      [json(413, { success: false, error: { code: 'PAYLOAD_TOO_LARGE', message: '' } }), { kind: 'too-large' }],
      [json(410, { success: false, error: { code: 'GONE', message: 'erased' } }), { kind: 'gone', status: 410, error: 'GONE: erased' }],
      [json(400, { success: false, error: { code: 'VALIDATION_FAILED', message: 'bad' } }), { kind: 'invalid', error: 'VALIDATION_FAILED: bad' }],
      [json(429, { success: false, error: { code: 'RATE_LIMITED', message: 'slow' } }, { 'retry-after': '7' }), { kind: 'retry', status: 429, retryAfterMs: 7000, error: 'RATE_LIMITED: slow' }],
      [json(503, { success: false, error: { code: 'STORE_UNAVAILABLE', message: 'x' } }, { 'retry-after': '2' }), { kind: 'retry', status: 503, retryAfterMs: 2000, error: 'STORE_UNAVAILABLE: x' }],
      [new Response('<html>bad gateway</html>', { status: 502 }), { kind: 'retry', status: 502, error: 'HTTP 502' }],
      [json(200, { nope: true }), { kind: 'retry', status: 200, error: 'unreadable batch response' }],
    ];
    for (const [res, expected] of cases) {
      const { t } = transport(() => res.clone());
      expect(await t.send(items(1))).toEqual(expected);
    }
    const failing = createHttpTransport({ apiBaseUrl: 'http://x', getToken: () => 't', batchId: () => 'b', nowIso: () => '', fetch: () => Promise.reject(new TypeError('Failed to fetch')) });
    expect(await failing.send(items(1))).toEqual({ kind: 'retry', error: 'Failed to fetch', network: true });
  });

  it('when the page unloads before any token was fetched, then sendNow declines instead of waiting', async () => {
    const { t, seen } = transport(() => json(200, { success: true, data: { results: [] } }));
    expect(t.sendNow!(items(1))).toBeNull();
    await t.send(items(1));
    const p = t.sendNow!(items(1));
    expect(p).not.toBeNull();
    // Started synchronously, with keepalive, never gzipped.
    expect(seen).toHaveLength(2);
    expect(seen[1]!.keepalive).toBe(true);
    expect(typeof seen[1]!.body).toBe('string');
    await p;
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });
});
