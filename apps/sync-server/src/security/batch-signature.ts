import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { ApiError } from '../errors.js';

/**
 * Signed telemetry batches.
 *
 * What is signed: the bytes `<timestamp>.<userId>.<body>`, where `<timestamp>` is the decimal
 * Unix time in seconds sent as `X-Batch-Timestamp`, `<userId>` is the learner the request acts for
 * (the token's subject, or the learner a service token names with `?userId=` or the body's
 * `userId`), and `<body>` is the JSON request body exactly as sent before any
 * `Content-Encoding: gzip` (the server verifies the inflated bytes, so a client signs what it
 * serialised and may then compress it). The signature is
 * `X-Batch-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<userId>.<body>")>`.
 * The client names itself with `X-Client-Id`; the secret is its entry in `BATCH_SIGNING_KEYS`.
 * The learner is part of the signed bytes so that a signed batch seen once (a log, a proxy)
 * cannot be sent again under another learner's token; user ids hold no `.`, so the string is
 * unambiguous.
 */

/** How far `X-Batch-Timestamp` may be from the server clock, either way. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** `sha256=<hex>` for `body` sent at `timestamp` (Unix seconds) for learner `userId`. The SDK signs the same bytes with its key. */
export function signBatch(body: string | Uint8Array, timestamp: number, userId: string, secret: string): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${Math.trunc(timestamp)}.${userId}.`, 'utf8');
  mac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return `sha256=${mac.digest('hex')}`;
}

/** Where `express.json({ verify })` leaves the raw (inflated) body for the verifier. */
interface WithRawBody {
  rawBody?: Buffer;
}

/**
 * The `verify` option of `express.json`: keeps the raw bytes of a request that carries a batch
 * signature (only those, so ordinary requests hold no second copy of their body).
 */
export function keepRawBodyForSignature(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  if (req.headers['x-batch-signature'] !== undefined) (req as IncomingMessage & WithRawBody).rawBody = buf;
}

export interface BatchSignatureOptions {
  /** clientId → secret (`BATCH_SIGNING_KEYS`). */
  readonly keys: ReadonlyMap<string, string>;
  /** `BATCH_SIGNING_REQUIRED`: every batch must be signed by a known client. */
  readonly required: boolean;
  readonly now?: () => Date;
  /** Called with a short reason for each refused batch (metrics). */
  readonly onReject?: (reason: 'unknown_client' | 'timestamp' | 'stale' | 'missing_signature' | 'no_body' | 'mismatch') => void;
}

const unauthorized = (message: string): ApiError => new ApiError('UNAUTHORIZED', message, [{ path: 'headers', message }]);

/** The learner an authenticated request acts for (the routes' own rule), read after auth. */
export type LearnerOf = (req: Request, res: Response) => string;

/**
 * Middleware for every ingestion route (`POST /telemetry/batch`, `POST /telemetry/track`), run
 * after auth. A request naming a client that has a key — or any request when signing is
 * required — must carry a fresh timestamp and a valid signature over the learner it acts for
 * and its body; otherwise 401 in the API's error shape. Other requests pass untouched.
 * A replay for the same learner within the tolerance is harmless: batches are idempotent
 * (batchId, eventIds); under another learner's token the signature does not match.
 */
export function verifyBatchSignature(options: BatchSignatureOptions, learnerOf: LearnerOf): RequestHandler {
  const now = options.now ?? (() => new Date());
  const refuse = (reason: Parameters<NonNullable<BatchSignatureOptions['onReject']>>[0], message: string): ApiError => {
    options.onReject?.(reason);
    return unauthorized(message);
  };
  return (req, res, next) => {
    const clientHeader = req.headers['x-client-id'];
    const clientId = typeof clientHeader === 'string' ? clientHeader.trim() : '';
    const secret = clientId === '' ? undefined : options.keys.get(clientId);
    if (secret === undefined) {
      if (!options.required) {
        next();
        return;
      }
      throw refuse('unknown_client', 'Batches must be signed: X-Client-Id must name a client with a signing key');
    }
    const tsHeader = req.headers['x-batch-timestamp'];
    if (typeof tsHeader !== 'string' || !/^\d{1,12}$/.test(tsHeader)) throw refuse('timestamp', 'X-Batch-Timestamp (Unix seconds) is required for this client');
    const timestamp = Number(tsHeader);
    if (Math.abs(now().getTime() / 1000 - timestamp) > SIGNATURE_TOLERANCE_SECONDS) throw refuse('stale', `X-Batch-Timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS} s from the server clock`);
    const sigHeader = req.headers['x-batch-signature'];
    const match = typeof sigHeader === 'string' ? /^sha256=([0-9a-f]{64})$/i.exec(sigHeader.trim()) : null;
    if (match === null) throw refuse('missing_signature', 'X-Batch-Signature: sha256=<hex> is required for this client');
    const raw = (req as unknown as WithRawBody).rawBody;
    if (raw === undefined) throw refuse('no_body', 'A signed batch needs a JSON body');
    const expected = Buffer.from(signBatch(raw, timestamp, learnerOf(req, res), secret).slice('sha256='.length), 'hex');
    const given = Buffer.from(match[1]!.toLowerCase(), 'hex');
    if (!timingSafeEqual(expected, given)) throw refuse('mismatch', 'X-Batch-Signature does not match the body');
    next();
  };
}
