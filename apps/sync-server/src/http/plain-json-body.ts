import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Request, RequestHandler, Response } from 'express';

/**
 * A JSON body reader for the plain request of one hot route (`POST /telemetry/batch`), with the
 * outcomes of `express.json` (body-parser) for every body it takes, and `express.json` itself
 * for everything else.
 *
 * It takes a request only when it is the common case: a `Content-Length` from 1 byte to the
 * limit, no `Transfer-Encoding`, no `Content-Encoding`, and a `Content-Type` of exactly
 * `application/json`, optionally with `charset=utf-8`. Anything else (gzip, chunked, another
 * charset, an empty or too-large body, unusual parameters) goes to `express.json`, so the 413,
 * 415 and decompression behaviour stay body-parser's own. For the bodies it takes, it does what
 * body-parser does, without its per-request machinery (stream wrappers, charset lookup, the
 * iconv decoder object, debug calls): the bytes are collected, handed to `verify` (the signed
 * batch keeps them), decoded as UTF-8 with the byte-order mark dropped (iconv-lite's decoding
 * with `StringDecoder`), and parsed with one `JSON.parse` after body-parser's strict check
 * (the first non-blank character must open an object or an array). Failures carry
 * body-parser's error `type` and `status`, which `errorMiddleware` maps to the API's answers
 * (`entity.parse.failed` is 400 "not valid JSON"; an aborted or short body 400).
 * `plain-json-body.test.ts` sends the same requests through both readers and compares.
 */
export interface PlainJsonBodyOptions {
  /** MAX_BODY_BYTES, as given to `express.json`. */
  readonly limit: number;
  /** As `express.json`'s `verify`: called with the raw body before it is parsed. */
  readonly verify?: (req: IncomingMessage, res: Response, body: Buffer) => void;
}

/** `application/json`, optionally with `charset=utf-8`, nothing else (case as type-is and content-type read it). */
const PLAIN_JSON_TYPE = /^application\/json(?:; ?charset=(?:utf-8|"utf-8"))?$/i;
const DIGITS = /^\d{1,15}$/;
/** body-parser's strict mode: the first character that is not JSON whitespace. */
const FIRST_NON_BLANK = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d]|$)/;

/** An error with body-parser's `type` and `status` for the same failure. */
export class BodyReadError extends Error {
  readonly expose = true;
  constructor(
    message: string,
    readonly type: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'BodyReadError';
  }
}

/** The declared length when the request is one the plain reader takes, else null. */
export function plainJsonLength(req: IncomingMessage, limit: number): number | null {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined || h['content-encoding'] !== undefined) return null;
  const type = h['content-type'];
  const declared = h['content-length'];
  if (type === undefined || declared === undefined || !DIGITS.test(declared) || !PLAIN_JSON_TYPE.test(type)) return null;
  const length = Number(declared);
  return length > 0 && length <= limit ? length : null;
}

/** body-parser's strict JSON parse of a decoded body; throws `entity.parse.failed`. */
export function parseStrictJson(text: string): unknown {
  const first = text[0];
  if (first !== '{' && first !== '[') {
    const match = FIRST_NON_BLANK.exec(text);
    const c = match?.[1];
    if (c !== '{' && c !== '[') throw new BodyReadError('The request body is not a JSON object or array', 'entity.parse.failed', 400);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BodyReadError(error instanceof Error ? error.message : 'invalid JSON', 'entity.parse.failed', 400);
  }
}

/** UTF-8 as iconv-lite decodes it for body-parser: `StringDecoder`, a leading byte-order mark dropped. */
export function decodeUtf8(body: Buffer): string {
  const decoder = new StringDecoder('utf8');
  const text = decoder.write(body) + decoder.end();
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Middleware: reads the body of a request `takes` accepts with the plain reader, and hands every
 * other request to `fallback` (the `express.json` middleware).
 */
export function plainJsonBody(options: PlainJsonBodyOptions, takes: (req: Request) => boolean, fallback: RequestHandler): RequestHandler {
  const { limit, verify } = options;
  return (req, res, next) => {
    const length = takes(req) ? plainJsonLength(req, limit) : null;
    if (length === null) {
      void fallback(req, res, next);
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('error', onError);
    };
    const fail = (error: BodyReadError): void => {
      cleanup();
      // As body-parser: read off what is left of the body before answering.
      req.resume();
      next(error);
    };
    function onData(chunk: Buffer): void {
      received += chunk.length;
      if (received > length!) {
        fail(new BodyReadError('request size did not match content length', 'request.size.invalid', 400));
        return;
      }
      chunks.push(chunk);
    }
    function onEnd(): void {
      cleanup();
      if (received !== length) {
        next(new BodyReadError('request size did not match content length', 'request.size.invalid', 400));
        return;
      }
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      if (verify) {
        try {
          verify(req, res, body);
        } catch (error) {
          next(new BodyReadError(error instanceof Error ? error.message : 'verify failed', 'entity.verify.failed', 403));
          return;
        }
      }
      try {
        req.body = parseStrictJson(decodeUtf8(body));
      } catch (error) {
        next(error);
        return;
      }
      next();
    }
    function onAborted(): void {
      fail(new BodyReadError('request aborted', 'request.aborted', 400));
    }
    function onError(error: Error): void {
      fail(new BodyReadError(error.message, 'request.error', 400));
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onError);
  };
}
