import type { ItemType, JsonObject } from './types.js';

/** One item of a batch request, as sent. */
export interface WireItem {
  readonly itemType: ItemType;
  readonly itemData: JsonObject;
}

/** The per-item result of `POST /api/telemetry/batch` (docs/api.md). */
export interface ItemResult {
  readonly index: number;
  readonly status: 'stored' | 'duplicate' | 'merged' | 'rejected';
  readonly error?: { readonly code?: string; readonly message?: string } | string;
}

/**
 * What one send attempt came to. The outbox decides from this alone: the transport knows HTTP,
 * the outbox knows what to delete, retry, split or reject.
 */
export type SendOutcome =
  | { readonly kind: 'results'; readonly results: readonly ItemResult[] }
  /** 413: the body is too large; split the batch. */
  | { readonly kind: 'too-large' }
  /** 400 for the batch as a whole: some item is malformed; split to find it. */
  | { readonly kind: 'invalid'; readonly error: string }
  /**
   * 410: the token's learner was erased after the token was issued. Nothing in this outbox will
   * ever be accepted for that learner again: the outbox stops sending instead of retrying.
   */
  | { readonly kind: 'gone'; readonly error: string; readonly status: 410 }
  /** Anything worth retrying later: network error, timeout, 5xx, 429, 401 after a refresh. */
  | { readonly kind: 'retry'; readonly error: string; readonly status?: number; readonly retryAfterMs?: number; readonly network?: boolean };

export interface SendOptions {
  /** Survive the page being unloaded (`fetch` keepalive); body must be < 64 KiB. */
  readonly keepalive?: boolean;
  readonly signal?: AbortSignal;
}

/** The outbox's network port. */
export interface BatchTransport {
  /** Sends a batch. Must not throw: every failure is a {@link SendOutcome}. */
  send(items: readonly WireItem[], options?: SendOptions): Promise<SendOutcome>;
  /**
   * Starts a keepalive send synchronously (page unload leaves no time for awaiting a token), or
   * returns `null` when that is impossible (no cached token yet).
   */
  sendNow?(items: readonly WireItem[]): Promise<SendOutcome> | null;
}

/** Supplies the bearer token; `forceRefresh` after a 401 (the cached one expired). */
export type GetToken = (options: { forceRefresh: boolean }) => string | Promise<string>;

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpTransportOptions {
  /** Base URL of the server, e.g. `https://prepmate.example` (the `/api` prefix is added). */
  readonly apiBaseUrl: string;
  readonly getToken: GetToken;
  /** Default `globalThis.fetch`. */
  readonly fetch?: FetchLike;
  /** Makes a batch id: `batch_<uuidv7>` by the outbox. */
  readonly batchId: () => string;
  /** Per-request timeout, ms. Default 30 000. */
  readonly timeoutMs?: number;
  /** Current time as ISO-8601, for `metadata.sentAt`. */
  readonly nowIso: () => string;
  /** A `role: service` token acts for this user: `userId` goes on every item. */
  readonly actAsUserId?: string;
  /**
   * Gzip request bodies of at least 1 KiB (`Content-Encoding: gzip`, which the REST API accepts) where
   * `CompressionStream` exists. Telemetry JSON shrinks several-fold. Keepalive sends on unload are
   * never compressed: compression is asynchronous and the page may be gone. Default true.
   */
  readonly compress?: boolean;
  /**
   * Sign every batch for a server with `BATCH_SIGNING_KEYS` (docs/api.md): `X-Client-Id`,
   * `X-Batch-Timestamp` (Unix seconds) and `X-Batch-Signature: sha256=<hex HMAC-SHA256 of
   * "<timestamp>.<userId>.<JSON body before gzip>">`, where `userId` is `signing.userId`: the
   * token's subject, whom the batches are sent as. Uses WebCrypto (browsers, Node ≥ 20). Signed clients
   * make no synchronous keepalive sends on unload (signing is asynchronous): their events stay in
   * the outbox and go with the next start.
   */
  readonly signing?: BatchSigner;
  /** Current time in ms, for the signature timestamp. Default `Date.now`. */
  readonly now?: () => number;
}

/** A client's batch-signing key, as configured on the server in `BATCH_SIGNING_KEYS`. */
export interface BatchSigning {
  readonly clientId: string;
  readonly secret: string;
}

/** The key and the learner every signature names (the token's subject): a signed batch is valid for that learner only. */
export interface BatchSigner extends BatchSigning {
  readonly userId: string;
}

const COMPRESS_MIN_BYTES = 1024;

/**
 * `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<userId>.<body>"), the server's
 * `X-Batch-Signature`; `userId` is the learner the request is sent as, so the signature is
 * worthless under another learner's token.
 */
export async function signBatchBody(body: string, timestampSeconds: number, userId: string, key: CryptoKey): Promise<string> {
  const mac = await globalThis.crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${Math.trunc(timestampSeconds)}.${userId}.${body}`));
  let hex = '';
  for (const byte of new Uint8Array(mac)) hex += byte.toString(16).padStart(2, '0');
  return `sha256=${hex}`;
}

/** Imports a signing secret once (WebCrypto keys are reusable and not extractable). */
export function importSigningKey(secret: string): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/** Gzips a string with the platform's `CompressionStream`. */
async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Adds `metadata.sentAt` to event items: the server can then tell clock skew from queueing delay. */
export function toWire(items: readonly WireItem[], sentAt: string, actAsUserId?: string): WireItem[] {
  return items.map((item) => {
    let data = item.itemData;
    if (item.itemType === 'event') {
      const meta = (data['metadata'] ?? {}) as JsonObject;
      data = { ...data, metadata: { ...meta, sentAt } };
    }
    if (actAsUserId) data = { ...data, userId: actAsUserId };
    return { itemType: item.itemType, itemData: data };
  });
}

/** The transport over `fetch` to `POST {apiBaseUrl}/api/telemetry/batch`. */
export function createHttpTransport(options: HttpTransportOptions): BatchTransport {
  const url = `${options.apiBaseUrl.replace(/\/+$/, '')}/api/telemetry/batch`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doFetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  let token: string | null = null;
  const signing = options.signing;
  const now = options.now ?? Date.now;
  let signingKey: Promise<CryptoKey> | null = null;

  /** The signature headers for one body (empty when the client does not sign). */
  async function signatureHeaders(json: string): Promise<Record<string, string>> {
    if (!signing) return {};
    signingKey ??= importSigningKey(signing.secret);
    const timestamp = Math.floor(now() / 1000);
    return {
      'x-client-id': signing.clientId,
      'x-batch-timestamp': String(timestamp),
      'x-batch-signature': await signBatchBody(json, timestamp, signing.userId, await signingKey),
    };
  }

  const body = (items: readonly WireItem[]): string =>
    JSON.stringify({ batchId: options.batchId(), items: toWire(items, options.nowIso(), options.actAsUserId) });

  async function interpret(res: Response): Promise<SendOutcome> {
    if (res.status === 200) {
      try {
        const json = (await res.json()) as { data?: { results?: ItemResult[] } };
        const results = json.data?.results;
        if (Array.isArray(results)) return { kind: 'results', results };
      } catch {
        // fall through: a 200 we cannot read is retried, never taken as success
      }
      return { kind: 'retry', error: 'unreadable batch response', status: 200 };
    }
    const text = await res.text().catch(() => '');
    let message = `HTTP ${res.status}`;
    try {
      const err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      if (err?.code) message = `${err.code}: ${err.message ?? ''}`;
    } catch {
      // not JSON (a proxy's error page): keep the status line
    }
    if (res.status === 413) return { kind: 'too-large' };
    if (res.status === 410) return { kind: 'gone', error: message, status: 410 };
    if (res.status === 400) return { kind: 'invalid', error: message };
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now());
    return { kind: 'retry', error: message, status: res.status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }

  const compress = (options.compress ?? true) && typeof CompressionStream !== 'undefined';

  function post(
    payload: string | Uint8Array<ArrayBuffer>,
    auth: string,
    keepalive: boolean,
    signal?: AbortSignal,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${auth}`, ...extraHeaders };
    if (typeof payload !== 'string') headers['content-encoding'] = 'gzip';
    return doFetch(url, {
      method: 'POST',
      headers,
      body: payload,
      keepalive,
      ...(signal ? { signal } : {}),
    });
  }

  async function attempt(items: readonly WireItem[], keepalive: boolean, signal?: AbortSignal): Promise<SendOutcome> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    try {
      token ??= await options.getToken({ forceRefresh: false });
      const json = body(items);
      const payload = compress && json.length >= COMPRESS_MIN_BYTES ? await gzip(json) : json;
      const signed = await signatureHeaders(json);
      let res = await post(payload, token, keepalive, combined, signed);
      if (res.status === 401) {
        await res.body?.cancel().catch(() => undefined);
        // The token expired (or was revoked): one refresh, then the outbox's backoff takes over.
        token = await options.getToken({ forceRefresh: true });
        res = await post(payload, token, keepalive, combined, await signatureHeaders(json));
        if (res.status === 401) {
          await res.body?.cancel().catch(() => undefined);
          token = null;
          return { kind: 'retry', error: 'UNAUTHORIZED: token refused after refresh', status: 401 };
        }
      }
      return await interpret(res);
    } catch (err) {
      const message = timeout.signal.aborted ? `timeout after ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
      return { kind: 'retry', error: message, network: true };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    send: (items, opts = {}) => attempt(items, opts.keepalive ?? false, opts.signal),
    sendNow(items) {
      // Signing is asynchronous (WebCrypto): no synchronous unload send for a signing client.
      if (token === null || signing) return null;
      // Synchronous up to the fetch call: the request is on its way before the page freezes.
      const res = post(body(items), token, true);
      return res.then(interpret, (err: unknown) => ({ kind: 'retry', error: err instanceof Error ? err.message : String(err), network: true }) as const);
    },
  };
}
