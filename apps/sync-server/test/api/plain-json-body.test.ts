import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorMiddleware } from '../../src/http/errors.js';
import { plainJsonBody } from '../../src/http/plain-json-body.js';
import { createLogger } from '../../src/logger.js';
import { keepRawBodyForSignature } from '../../src/security/batch-signature.js';

const LIMIT = 4096;

interface Answer {
  readonly status: number;
  readonly text: string;
}

/** The body readers of `createApp` (express.json options included) in front of an echo of what they read. */
function serve(reader: RequestHandler): Promise<{ server: Server; port: number }> {
  const app = express();
  app.use(reader);
  app.post('/echo', (req, res) => {
    const raw = (req as unknown as { rawBody?: Buffer }).rawBody;
    res.json({ body: req.body as unknown, raw: raw === undefined ? null : raw.toString('base64') });
  });
  app.use(errorMiddleware(createLogger('silent'), 1));
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => ({ server, port: (server.address() as AddressInfo).port }));
}

function post(port: number, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the plain JSON body reader of the batch route', () => {
  const json = express.json({ limit: LIMIT, inflate: true, strict: true, type: 'application/json', verify: keepRawBodyForSignature });
  let fallbacks = 0;
  const counted: RequestHandler = (req, res, next) => {
    fallbacks += 1;
    return json(req, res, next);
  };
  let plain: { server: Server; port: number };
  let parser: { server: Server; port: number };

  beforeAll(async () => {
    plain = await serve(plainJsonBody({ limit: LIMIT, verify: keepRawBodyForSignature }, () => true, counted));
    parser = await serve(json);
  });
  afterAll(async () => {
    for (const s of [plain, parser]) if (s) await new Promise((resolve) => s.server.close(resolve));
  });

  it('when it reads a body, then the outcome is express.json’s: same status, same error, same parsed value, same raw bytes kept', async () => {
    const plainTypes = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON; charset="utf-8"'];
    const text = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v, null, 2)),
      fc.string({ maxLength: 60 }),
      fc.constantFrom('', ' ', '\n\t {"a":1}', ' [1,2]', '"x"', '1', 'null', '{"a":', '{"a":1}}', '\ufeff{"a":1}', '\ufeff\ufeff{}', '{"s":"\ud800"}', ' \ufeff{}', '{"__proto__":{"x":1}}'),
    );
    const bytes = fc.oneof(
      text.map((t) => Buffer.from(t, 'utf8')),
      // Invalid UTF-8 (lone continuation bytes, truncated sequences) inside and outside strings.
      fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([v, junk]) => Buffer.concat([Buffer.from(`{"a":${JSON.stringify(v)},"b":"`), Buffer.from(junk), Buffer.from('"}')])),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
      // Beyond the limit (express.json answers 413 for both).
      fc.constant(Buffer.from(`{"pad":"${'x'.repeat(LIMIT)}"}`)),
    );
    const cases = fc.sample(fc.tuple(bytes, fc.constantFrom(...plainTypes), fc.boolean()), { seed: 20261204, numRuns: 400 });
    let taken = 0;
    for (const [body, type, signed] of cases) {
      const headers: Record<string, string> = { 'content-type': type };
      if (signed) headers['x-batch-signature'] = 'sha256=00';
      const before = fallbacks;
      const mine = await post(plain.port, body, headers);
      const theirs = await post(parser.port, body, headers);
      const label = `${type} ${signed ? 'signed ' : ''}${body.toString('base64')}`;
      expect(mine.status, label).toBe(theirs.status);
      expect(mine.text, label).toBe(theirs.text);
      // The plain reader took every non-empty body within the limit; the rest went to express.json.
      const plainCase = body.length > 0 && body.length <= LIMIT;
      expect(fallbacks - before, label).toBe(plainCase ? 0 : 1);
      if (plainCase) taken += 1;
    }
    expect(taken).toBeGreaterThan(250);
  });

  it('when a body is not plain (another charset or encoding, unusual parameters), then express.json reads it', async () => {
    const body = Buffer.from('{"a":1}');
    const variants: Record<string, string>[] = [
      { 'content-type': 'application/json; charset=utf-16' },
      { 'content-type': 'application/json; charset=latin1' },
      { 'content-type': 'application/json; foo=bar' },
      { 'content-type': 'application/json', 'content-encoding': 'identity' },
      { 'content-type': 'application/json', 'content-encoding': 'compress' },
    ];
    for (const headers of variants) {
      const before = fallbacks;
      const mine = await post(plain.port, body, headers);
      const theirs = await post(parser.port, body, headers);
      expect(fallbacks - before, JSON.stringify(headers)).toBe(1);
      expect(mine).toEqual(theirs);
    }
  });
});
