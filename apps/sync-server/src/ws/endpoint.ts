/**
 * The `/sync/<docName>` WebSocket endpoint (y-websocket protocol, `ws` in `noServer` mode).
 *
 * Refusals happen before anything is allocated: the token and the document's owner are checked,
 * and the document is loaded, while the socket is still plain HTTP, so a refused client gets a
 * real status line (401, 403, 503) and no WebSocket or document ever exists for it.
 *
 * A socket outlives its upgrade, so the token's expiry is kept per connection and checked by the
 * ping loop and on every frame in either direction: an expired socket is closed with 4401
 * (TOKEN_EXPIRED).
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type PerMessageDeflateOptions, type RawData } from 'ws';
import { docNameSchema, ownerOfDocName } from '@prepmate/crdt-model';
import type { Principal, TokenService } from '../auth/tokens.js';
import type { Logger } from '../logger.js';
import { createRefusalLog, type RefusalLog } from './refusal-log.js';
import type { LiveDocument } from '../docs/live-document.js';
import type { Peer } from '../docs/origins.js';
import type { DocumentManager } from '../docs/manager.js';
import type { SyncMetrics } from '../docs/metrics.js';
import { CloseCode } from '../protocol/close-codes.js';
import { createLearnerQuotas } from './learner-quotas.js';
import { createFrameWriter, type FrameWriter } from './frame-writer.js';
import { parseUpgradeUrl } from './upgrade-url.js';
import { MalformedMessageError, readClientMessage, writeAwareness } from '../protocol/wire.js';
import { encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** Per-connection limits (configuration; benchmarks raise them). */
export interface SyncLimits {
  /** Largest accepted message, bytes (`SYNC_MAX_MESSAGE_BYTES`); larger closes with 1009. */
  readonly maxMessageBytes: number;
  /** Sustained messages per second per connection (`SYNC_MESSAGES_PER_SECOND`); above it the socket is paused (TCP backpressure). */
  readonly messagesPerSecond: number;
  /** Messages a connection may send at once before the rate applies (`SYNC_BURST`). */
  readonly burst: number;
  /** Bytes queued for a socket that does not read (`SYNC_MAX_BUFFERED_BYTES`); above it: 4503. */
  readonly maxBufferedBytes: number;
  /** Largest awareness message (`SYNC_MAX_AWARENESS_BYTES`); larger: 4413. */
  readonly maxAwarenessBytes: number;
  /** Awareness client ids one connection may introduce (`SYNC_MAX_AWARENESS_STATES`); more: 4413. */
  readonly maxAwarenessStates: number;
  /** A socket that has not answered a ping within this interval is terminated, ms. Default 30 000. */
  readonly pingIntervalMs: number;
  /** Outgoing messages from this size are compressed when the client negotiated it (`SYNC_DEFLATE_MIN_BYTES`); 0: never negotiated. */
  readonly deflateMinBytes: number;
  /** Stored size of one document (`SYNC_MAX_DOCUMENT_BYTES`); an update past it: 4430. */
  readonly maxDocumentBytes: number;
  /** Documents `<userId>/<name>` per learner (`SYNC_MAX_DOCUMENTS_PER_LEARNER`); a new one past it: 4431. */
  readonly maxDocumentsPerLearner: number;
  /** Open sockets per learner on this instance (`SYNC_MAX_SOCKETS_PER_LEARNER`); more: 4432. */
  readonly maxSocketsPerLearner: number;
  /** Sustained update bytes per second per learner on this instance (`SYNC_WRITE_BYTES_PER_SECOND`); over: 4429. */
  readonly writeBytesPerSecond: number;
  /** Update bytes per learner at once (`SYNC_WRITE_BURST_BYTES`). */
  readonly writeBurstBytes: number;
}

export interface SyncLimitsConfig {
  readonly SYNC_MAX_MESSAGE_BYTES: number;
  readonly SYNC_DEFLATE_MIN_BYTES?: number | undefined;
  readonly SYNC_MESSAGES_PER_SECOND?: number | undefined;
  readonly SYNC_BURST?: number | undefined;
  readonly SYNC_MAX_BUFFERED_BYTES?: number | undefined;
  readonly SYNC_MAX_AWARENESS_BYTES?: number | undefined;
  readonly SYNC_MAX_AWARENESS_STATES?: number | undefined;
  readonly SYNC_MAX_DOCUMENT_BYTES?: number | undefined;
  readonly SYNC_MAX_DOCUMENTS_PER_LEARNER?: number | undefined;
  readonly SYNC_MAX_SOCKETS_PER_LEARNER?: number | undefined;
  readonly SYNC_WRITE_BYTES_PER_SECOND?: number | undefined;
  readonly SYNC_WRITE_BURST_BYTES?: number | undefined;
}

/** The limits of the configuration; a missing value takes the configuration's default. */
export const syncLimitsFromConfig = (config: SyncLimitsConfig): SyncLimits => ({
  maxMessageBytes: config.SYNC_MAX_MESSAGE_BYTES,
  deflateMinBytes: config.SYNC_DEFLATE_MIN_BYTES ?? 16 * 1024,
  messagesPerSecond: config.SYNC_MESSAGES_PER_SECOND ?? 200,
  burst: config.SYNC_BURST ?? 1000,
  maxBufferedBytes: config.SYNC_MAX_BUFFERED_BYTES ?? 32 * 1024 * 1024,
  maxAwarenessBytes: config.SYNC_MAX_AWARENESS_BYTES ?? 64 * 1024,
  maxAwarenessStates: config.SYNC_MAX_AWARENESS_STATES ?? 16,
  maxDocumentBytes: config.SYNC_MAX_DOCUMENT_BYTES ?? 24 * 1024 * 1024,
  maxDocumentsPerLearner: config.SYNC_MAX_DOCUMENTS_PER_LEARNER ?? 100,
  maxSocketsPerLearner: config.SYNC_MAX_SOCKETS_PER_LEARNER ?? 32,
  writeBytesPerSecond: config.SYNC_WRITE_BYTES_PER_SECOND ?? 64 * 1024,
  writeBurstBytes: config.SYNC_WRITE_BURST_BYTES ?? 16 * 1024 * 1024,
  pingIntervalMs: 30_000,
});

export interface SyncEndpointDeps {
  readonly tokens: TokenService;
  readonly documents: DocumentManager;
  readonly logger: Logger;
  readonly metrics: SyncMetrics;
  readonly limits: SyncLimits;
  /**
   * True when a learner's token predates that learner's erasure. Such a socket is accepted and
   * closed at once with 4410 (no document is loaded): the app clears its local data on 4410,
   * which a refused upgrade would never tell it.
   */
  readonly issuedBeforeErasure?: (userId: string, issuedAt: number) => Promise<boolean>;
  /**
   * True when opening `docName` would give learner `userId` more than `maxDocumentsPerLearner`
   * documents `<userId>/<name>` (only asked for such names). Absent: not limited.
   */
  readonly wouldExceedDocuments?: (userId: string, docName: string) => Promise<boolean>;
  /** Where refused upgrades are reported. Default: a rate-limited warn line per refusal. */
  readonly refusalLog?: RefusalLog;
}

export interface SyncEndpoint {
  /** For `server.on('upgrade', ...)`: answers every upgrade, `/sync/*` or 404. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  readonly connections: number;
  /** Bytes queued for all sockets and not yet handed to the kernel (each at most `maxBufferedBytes`). */
  queuedBytes(): number;
  /** Refuses new upgrades and closes every socket with `code`; resolves when they are closed. */
  close(code: number, reason: string, timeoutMs: number): Promise<void>;
}

const SYNC_PREFIX = '/sync/';

/** A refused upgrade: a plain HTTP response in the API's error shape, then the socket is closed. */
function writeRefusal(socket: Duplex, status: number, code: string, message: string, retryAfterSeconds?: number): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ success: false, error: { code, message, details: [] } });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(retryAfterSeconds ? [`Retry-After: ${retryAfterSeconds}`] : []),
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  // end() half-closes; make sure a client that never closes its side does not hold the socket.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

interface ConnectionOptions {
  /** `?ack=1`: durable acks (our SDK). */
  readonly wantsAck: boolean;
  /** A first sync may be answered in the stored form's parts: the changes since the base, then the base. */
  readonly takesParts: boolean;
}

/**
 * What a socket's query asks for. A client that holds updates back until their base arrives (any
 * Yjs client) can take a first sync in parts, but SDK builds from before `?parts=1` existed store
 * a first sync's step 2 as received, as the whole document, and would keep the changes that came
 * before it only in memory. Those builds identify themselves by `?ack=1` without `?parts=1`,
 * and get the whole document in the step 2.
 */
function connectionOptions(ack: string | null, parts: string | null): ConnectionOptions {
  const wantsAck = ack === '1';
  return { wantsAck, takesParts: !wantsAck || parts === '1' };
}

class Connection implements Peer {
  readonly kind = 'peer' as const;
  readonly awarenessIds = new Set<number>();
  alive = true;
  tokens: number;
  lastRefill = performance.now();
  resumeTimer: NodeJS.Timeout | null = null;
  /** Frames read while over the rate limit, processed as tokens refill (and on close). */
  queue: Array<[RawData, boolean]> | null = null;
  /** A sync-step-2 answer is queued and not yet written: further step 1s are not answered. */
  stepTwoInFlight = false;

  constructor(
    readonly ws: WebSocket,
    readonly live: LiveDocument,
    readonly author: string,
    /** The learner whose quotas this socket counts against; null for a service token. */
    readonly learner: string | null,
    /** The token's `exp`, ms since epoch (Infinity without one): one number, no timer per socket. */
    readonly expiresAt: number,
    readonly wantsAck: boolean,
    /** Whether a first sync may be answered in the stored form's parts (see `connectionOptions`). */
    readonly takesParts: boolean,
    burst: number,
    private readonly maxBufferedBytes: number,
    private readonly onServerClose: (code: number) => void,
    private readonly frames: FrameWriter,
  ) {
    this.tokens = burst;
  }

  /**
   * Closes the socket with 4401 once its token has expired (a closing socket is left alone) and
   * says whether it has. Same rule as the check at the upgrade (auth/hs256.ts): expired from `exp` on.
   */
  closeIfExpired(now: number): boolean {
    if (now < this.expiresAt) return false;
    this.close(CloseCode.TOKEN_EXPIRED, 'token expired');
    return true;
  }

  send(frame: Uint8Array): void {
    // An idle socket would otherwise keep receiving the learner's data until the next ping.
    if (this.expiresAt !== Infinity && this.closeIfExpired(Date.now())) return;
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount + frame.byteLength > this.maxBufferedBytes) return this.closeSlowReader();
    this.frames.send(this.ws, frame);
  }

  /**
   * Answers a step 1 unless an answer is still queued: one full-state answer at most per socket,
   * whatever the client sends. Skipping is safe: the queued answer holds everything up to its
   * encoding and every later update reaches the socket as a broadcast. The answer's frames go
   * through ws in order (the last one is the step 2).
   */
  answerStepOne(encode: () => readonly Uint8Array[]): void {
    if (this.stepTwoInFlight || this.ws.readyState !== WebSocket.OPEN) return;
    const frames = encode();
    let bytes = 0;
    for (const frame of frames) bytes += frame.byteLength;
    if (this.ws.bufferedAmount + bytes > this.maxBufferedBytes) return this.closeSlowReader();
    this.stepTwoInFlight = true;
    frames.forEach((frame, i) => {
      if (i < frames.length - 1) this.ws.send(frame);
      else this.ws.send(frame, () => (this.stepTwoInFlight = false));
    });
  }

  /** The queue is over its cap: close with 4503 and, since the peer is not reading, drop the socket soon. */
  private closeSlowReader(): void {
    this.close(CloseCode.SLOW_READER, 'too much data queued for a socket that does not read');
    const ws = this.ws;
    setTimeout(() => ws.terminate(), 1_000).unref();
  }

  /** The code the server closed this socket with, if it did. */
  serverCloseCode: number | null = null;

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.serverCloseCode = code;
      this.onServerClose(code);
      this.ws.close(code, reason);
    }
  }
}

/**
 * permessage-deflate for large messages only. Small messages (edits, awareness) are the fan-out
 * path: one encoded frame goes to every recipient, and compressing it would cost one deflate per
 * recipient. No context takeover on either side: a socket keeps no 32 KiB window between
 * messages (memory per connection matters more than the last few percent of ratio), and level 6
 * with 8 concurrent jobs keeps one large first sync from occupying the whole zlib thread pool.
 */
function deflateOptions(minBytes: number): PerMessageDeflateOptions | false {
  if (minBytes <= 0) return false;
  return {
    threshold: minBytes,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    zlibDeflateOptions: { level: 6, memLevel: 8 },
    concurrencyLimit: 8,
  };
}

export function createSyncEndpoint(deps: SyncEndpointDeps): SyncEndpoint {
  const { tokens, documents, logger, metrics, limits } = deps;
  const refusalLog = deps.refusalLog ?? createRefusalLog(logger);
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, perMessageDeflate: deflateOptions(limits.deflateMinBytes), clientTracking: false });
  const connections = new Set<Connection>();
  const quotas = createLearnerQuotas(limits);
  const frames = createFrameWriter(limits.deflateMinBytes);
  let closing = false;

  const countClose = (code: number): void => void metrics.closedSockets.inc({ code: String(code) });

  // One timer for every socket instead of one per socket: memory per connection matters. It also
  // closes sockets whose token expired while they were idle.
  const pingTimer = setInterval(() => {
    const now = Date.now();
    quotas.sweep(performance.now());
    for (const conn of connections) {
      if (conn.closeIfExpired(now)) continue;
      if (!conn.alive) {
        logger.debug({ docName: conn.live.name }, 'sync: terminating a socket that missed its pong');
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }, limits.pingIntervalMs);
  pingTimer.unref();

  function refill(conn: Connection): void {
    const now = performance.now();
    conn.tokens = Math.min(limits.burst, conn.tokens + ((now - conn.lastRefill) / 1000) * limits.messagesPerSecond);
    conn.lastRefill = now;
  }

  /**
   * Token bucket per connection. Over the limit, frames wait in a queue and the socket is paused
   * (TCP backpressure) instead of being closed: a fast client is slowed down and loses nothing.
   * The queue holds at most what was already read from the socket before the pause.
   */
  function onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    // Per frame, not only per ping: between pings an expired socket could keep writing. Nothing
    // of a frame that arrives after expiry is applied (frames still buffered after the close too).
    // Outgoing frames are checked in Connection.send.
    if (conn.closeIfExpired(Date.now())) return;
    conn.alive = true;
    if (!conn.queue) {
      refill(conn);
      if (conn.tokens >= 1) {
        conn.tokens -= 1;
        onMessage(conn, data, isBinary);
        return;
      }
    }
    (conn.queue ??= []).push([data, isBinary]);
    if (!conn.resumeTimer) {
      conn.ws.pause();
      scheduleDrain(conn);
    }
  }

  function scheduleDrain(conn: Connection): void {
    const waitMs = Math.max(1, Math.ceil(((1 - conn.tokens) / limits.messagesPerSecond) * 1000));
    conn.resumeTimer = setTimeout(() => {
      conn.resumeTimer = null;
      refill(conn);
      const queue = conn.queue ?? [];
      while (queue.length > 0 && conn.tokens >= 1 && conn.ws.readyState === WebSocket.OPEN) {
        conn.tokens -= 1;
        const [data, isBinary] = queue.shift()!;
        onMessage(conn, data, isBinary);
      }
      if (conn.ws.readyState !== WebSocket.OPEN) applyQueuedOnClose(conn);
      else if (queue.length > 0) scheduleDrain(conn);
      else {
        conn.queue = null;
        conn.ws.resume();
      }
    }, waitMs);
  }

  /**
   * Frames the server read before the socket closed are the learner's edits: they are applied,
   * rate limit or not (nothing is answered: the socket is gone). Not after the token expired.
   */
  function applyQueuedOnClose(conn: Connection): void {
    const queue = conn.queue;
    conn.queue = null;
    if (!queue || Date.now() >= conn.expiresAt) return;
    // Erased, expired or garbage: what was queued behind it is not the learner's to keep.
    // Over a write quota: the frames behind the refused one would be refused too (the client resends them).
    const refused: ReadonlyArray<number> = [
      CloseCode.DOCUMENT_DELETED,
      CloseCode.TOKEN_EXPIRED,
      CloseCode.MALFORMED_MESSAGE,
      CloseCode.UNSUPPORTED_DATA,
      CloseCode.WRITE_RATE_EXCEEDED,
      CloseCode.DOCUMENT_TOO_LARGE,
    ];
    if (conn.serverCloseCode !== null && refused.includes(conn.serverCloseCode)) return;
    for (const [data, isBinary] of queue) onMessage(conn, data, isBinary);
  }

  function onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (!isBinary || !Buffer.isBuffer(data)) {
      conn.close(CloseCode.UNSUPPORTED_DATA, 'binary y-websocket messages only');
      return;
    }
    const live = conn.live;
    try {
      const message = readClientMessage(data);
      switch (message.type) {
        case 'sync-step1':
          conn.answerStepOne(() => live.syncStep2(message.stateVector, conn.takesParts));
          break;
        case 'sync-step2':
        case 'sync-update':
          if (conn.learner !== null && !quotas.takeWriteBytes(conn.learner, message.update.byteLength, performance.now())) {
            logger.info({ docName: live.name, author: conn.author }, 'sync: closing a socket over SYNC_WRITE_BYTES_PER_SECOND');
            conn.close(CloseCode.WRITE_RATE_EXCEEDED, `update bytes above ${limits.writeBytesPerSecond} bytes per second`);
            break;
          }
          documents.applyPeerUpdate(live, conn, message.update);
          break;
        case 'awareness': {
          if (message.update.byteLength > limits.maxAwarenessBytes) {
            conn.close(CloseCode.AWARENESS_REFUSED, `awareness message above ${limits.maxAwarenessBytes} bytes`);
            break;
          }
          const owned = ownAwarenessEntries(message.update, conn, live.peers, live.awareness.getStates());
          if (owned.newIds + conn.awarenessIds.size > limits.maxAwarenessStates) {
            conn.close(CloseCode.AWARENESS_REFUSED, `more than ${limits.maxAwarenessStates} awareness states on one socket`);
            break;
          }
          if (owned.update) documents.applyPeerAwareness(live, conn, owned.update);
          break;
        }
        case 'query-awareness': {
          const ids = [...live.awareness.getStates().keys()];
          if (ids.length > 0) conn.send(writeAwareness(encodeAwarenessUpdate(live.awareness, ids)));
          break;
        }
      }
    } catch (error) {
      // Only this socket is closed; Yjs rejects a bad update while decoding, before integrating.
      logger.info({ docName: live.name, author: conn.author, err: error instanceof MalformedMessageError ? error.message : String(error) }, 'sync: closing a socket that sent a malformed message');
      conn.close(CloseCode.MALFORMED_MESSAGE, 'malformed message');
    }
  }

  function onConnection(ws: WebSocket, live: LiveDocument, principal: Principal, options: ConnectionOptions, learner: string | null): void {
    const author = principal.role === 'service' ? `service:${principal.userId}` : principal.userId;
    const conn = new Connection(ws, live, author, learner, principal.expiresAt ?? Infinity, options.wantsAck, options.takesParts, limits.burst, limits.maxBufferedBytes, countClose, frames);
    connections.add(conn);
    metrics.connections.set(connections.size);
    ws.on('message', (data, isBinary) => onFrame(conn, data, isBinary));
    ws.on('pong', () => (conn.alive = true));
    ws.on('error', (error: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for oversize, 1002 for protocol errors).
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') countClose(CloseCode.MESSAGE_TOO_BIG);
      logger.info({ docName: live.name, err: error.message, code: error.code }, 'sync: socket error');
    });
    ws.on('close', () => {
      if (conn.resumeTimer) clearTimeout(conn.resumeTimer);
      applyQueuedOnClose(conn);
      connections.delete(conn);
      metrics.connections.set(connections.size);
      documents.detach(live, conn);
    });
    documents.attach(live, conn);
  }

  /** Completes the upgrade only to close with `code` at once: nothing is loaded for the socket. */
  function closeAtOnce(req: IncomingMessage, socket: Duplex, head: Buffer, code: number, reason: string): void {
    if (socket.destroyed) return;
    countClose(code);
    wss.handleUpgrade(req, socket, head, (ws) => ws.close(code, reason));
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (s: Duplex, status: number, code: string, message: string, retryAfterSeconds?: number): void => {
      if (!s.destroyed) refusalLog(req, status, code);
      writeRefusal(s, status, code, message, retryAfterSeconds);
    };
    const url = parseUpgradeUrl(req.url);
    if (!url.pathname.startsWith(SYNC_PREFIX)) return refuse(socket, 404, 'NOT_FOUND', 'WebSocket endpoint is /sync/<docName>');
    let principal: Principal;
    try {
      principal = await tokens.verify(url.param('token'));
    } catch {
      return refuse(socket, 401, 'UNAUTHORIZED', 'a valid token is required (?token=...)');
    }
    let rawName: string;
    try {
      rawName = decodeURIComponent(url.pathname.slice(SYNC_PREFIX.length));
    } catch {
      return refuse(socket, 400, 'VALIDATION_FAILED', 'the document name is not valid');
    }
    const parsed = docNameSchema.safeParse(rawName);
    if (!parsed.success) return refuse(socket, 400, 'VALIDATION_FAILED', 'the document name is not valid');
    const docName = parsed.data;
    if (principal.role !== 'service' && ownerOfDocName(docName) !== principal.userId) {
      return refuse(socket, 403, 'FORBIDDEN', 'this document belongs to another learner');
    }
    if (closing) return refuse(socket, 503, 'STORE_UNAVAILABLE', 'the server is shutting down', 1);
    if (principal.role === 'learner' && deps.issuedBeforeErasure && (await deps.issuedBeforeErasure(principal.userId, principal.issuedAt))) {
      if (socket.destroyed) return;
      wss.handleUpgrade(req, socket, head, (ws) => ws.close(CloseCode.DOCUMENT_DELETED, 'learner erased'));
      return;
    }
    // Quotas answer with a close code, not an HTTP status: a browser never sees the status of a
    // refused upgrade, and the app must be able to tell the learner which limit was hit.
    const learner = principal.role === 'service' ? null : principal.userId;
    if (learner !== null && !quotas.openSocket(learner)) {
      logger.info({ docName, userId: learner }, 'sync: refusing a socket over SYNC_MAX_SOCKETS_PER_LEARNER');
      return closeAtOnce(req, socket, head, CloseCode.TOO_MANY_SOCKETS, `more than ${limits.maxSocketsPerLearner} sockets for one learner`);
    }
    // From here the socket is counted until its TCP connection closes, whichever way it ends
    // (refused below, aborted by ws, or closed after its life as a WebSocket).
    let counted = learner !== null;
    const giveBack = (): void => {
      if (!counted || learner === null) return;
      counted = false;
      quotas.closeSocket(learner);
    };
    socket.once('close', giveBack);
    if (socket.closed) giveBack(); // the client left while its token was being checked
    try {
      if (learner !== null && docName.includes('/') && deps.wouldExceedDocuments && (await deps.wouldExceedDocuments(learner, docName))) {
        giveBack();
        logger.info({ docName, userId: learner }, 'sync: refusing a new document over SYNC_MAX_DOCUMENTS_PER_LEARNER');
        return closeAtOnce(req, socket, head, CloseCode.TOO_MANY_DOCUMENTS, `more than ${limits.maxDocumentsPerLearner} documents for one learner`);
      }
    } catch (error) {
      giveBack();
      logger.warn({ docName, err: error instanceof Error ? error.message : String(error) }, 'sync: refusing a connection: the learner\'s documents could not be counted');
      return refuse(socket, 503, 'STORE_UNAVAILABLE', 'the document cannot be loaded right now', 1);
    }
    let live: LiveDocument;
    try {
      live = await documents.acquire(docName);
    } catch (error) {
      giveBack();
      logger.warn({ docName, err: error instanceof Error ? error.message : String(error) }, 'sync: refusing a connection: the document could not be loaded');
      return refuse(socket, 503, 'STORE_UNAVAILABLE', 'the document cannot be loaded right now', 1);
    }
    if (socket.destroyed || closing) {
      giveBack();
      documents.release(live);
      if (!socket.destroyed) refuse(socket, 503, 'STORE_UNAVAILABLE', 'the server is shutting down', 1);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, live, principal, connectionOptions(url.param('ack'), url.param('parts')), learner));
  }

  return {
    handleUpgrade(req, socket, head) {
      // Until ws takes the socket over, an ECONNRESET must not become an uncaught error.
      socket.on('error', () => socket.destroy());
      upgrade(req, socket, head).catch((error: unknown) => {
        logger.error({ err: error }, 'sync: upgrade failed');
        refusalLog(req, 500, 'INTERNAL');
        writeRefusal(socket, 500, 'INTERNAL', 'internal error');
      });
    },
    get connections() {
      return connections.size;
    },
    queuedBytes() {
      let total = 0;
      for (const conn of connections) total += conn.ws.bufferedAmount;
      return total;
    },
    async close(code, reason, timeoutMs) {
      closing = true;
      clearInterval(pingTimer);
      const open = [...connections];
      await new Promise<void>((resolve) => {
        if (open.length === 0) return resolve();
        const timer = setTimeout(() => {
          for (const conn of connections) conn.ws.terminate();
          resolve();
        }, timeoutMs);
        let left = open.length;
        for (const conn of open) {
          conn.ws.once('close', () => {
            if (--left === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
          conn.close(code, reason);
        }
      });
      wss.close();
    },
  };
}

/**
 * The entries of an awareness update this connection may apply: a client id another socket of the
 * document introduced is dropped (the rest of the message applies). Another socket is a local
 * peer, or one on another instance: an id with a live state that no local connection introduced
 * came over the fan-out, and stays its owner's until that owner removes it (or it times out).
 * Also counts the ids the connection would newly introduce. Throws on a message that does not decode.
 */
function ownAwarenessEntries(update: Uint8Array, conn: Connection, peers: ReadonlySet<Peer>, live: ReadonlyMap<number, unknown>): { update: Uint8Array | null; newIds: number } {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  const encoder = encoding.createEncoder();
  let kept = 0;
  let newIds = 0;
  const entries: Array<[number, number, string]> = [];
  for (let i = 0; i < count; i++) {
    const id = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    const state = decoding.readVarString(decoder);
    if (!conn.awarenessIds.has(id)) {
      let foreign = live.has(id);
      for (const peer of peers) if (peer !== conn && peer.awarenessIds.has(id)) foreign = true;
      if (foreign) continue;
      newIds += 1;
    }
    entries.push([id, clock, state]);
    kept += 1;
  }
  if (decoder.pos !== update.byteLength) throw new MalformedMessageError('trailing bytes after the awareness update');
  if (kept === 0) return { update: null, newIds };
  encoding.writeVarUint(encoder, kept);
  for (const [id, clock, state] of entries) {
    encoding.writeVarUint(encoder, id);
    encoding.writeVarUint(encoder, clock);
    encoding.writeVarString(encoder, state);
  }
  return { update: kept === count ? update : encoding.toUint8Array(encoder), newIds };
}
