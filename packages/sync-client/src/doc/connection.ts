import * as decoding from 'lib0/decoding';
import { WebsocketProvider, messageSync } from 'y-websocket';
import type * as Y from 'yjs';
import { backoffDelay } from '../outbox/backoff.js';
import type { GetToken } from '../outbox/transport.js';
import type { Clock, ConnectivityPort } from '../ports.js';
import { MESSAGE_DURABLE_ACK, readDurableAckBody, type AckTracker } from './ack.js';
import type { ReceivedUpdate } from './quiet-load.js';
import { closePolicy, quotaRetryDelay, type ServerClose } from './server-close.js';

/**
 * The server's TOKEN_EXPIRED close (docs/PROTOCOL.md): the token the socket was opened with ran
 * out. In 4400–4499, which stock y-websocket clients treat as final; we can fetch a new token, so
 * for us it means "refresh and reconnect".
 */
const CLOSE_TOKEN_EXPIRED = 4401;

/** A WebSocket constructor: the browser's, or the `ws` package's in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

export interface DocConnectionOptions {
  /** `ws(s)://host:port/sync`; the document name is appended. */
  readonly wsUrl: string;
  readonly docName: string;
  readonly doc: Y.Doc;
  readonly getToken: GetToken;
  readonly WebSocket: WebSocketConstructor;
  readonly connectivity: ConnectivityPort;
  readonly tracker: AckTracker;
  readonly clock: Clock;
  readonly random: () => number;
  /** Cross-tab sync over BroadcastChannel (y-websocket's). Browsers only. */
  readonly crossTab: boolean;
  /** Upper bound of the reconnect backoff, ms. Default 30 000. */
  readonly maxBackoffMs?: number;
  readonly onChange: () => void;
  readonly onError: (message: string) => void;
  /** The server closed the socket with a named code an app should explain (a quota, a slow link). */
  readonly onServerClose?: (close: ServerClose) => void;
  /**
   * Told the update of a sync step 2 or sync update message just before the provider applies it,
   * and `null` once it is applied: the bytes received are that update, so the local store can keep
   * them as they are.
   */
  readonly onReceiving?: (message: ReceivedUpdate | null) => void;
}

export interface DocConnection {
  readonly provider: WebsocketProvider;
  readonly connected: boolean;
  readonly synced: boolean;
  /** Last durable ack that covered new changes, ms since epoch. */
  readonly lastAckTime: number | null;
  /** The last named close of the server, until the document syncs again (null: none). */
  readonly serverClose: ServerClose | null;
  /** Starts (or resumes) connecting. */
  connect(): void;
  destroy(): void;
}

/**
 * What the SDK asks of the server on every socket: durable acks, and a first sync in the stored
 * form's parts (the changes since the document's base, then the base as the step 2), which it can
 * take because it stores the updates Yjs held back together with the step 2 that integrates them.
 */
const SOCKET_PARAMS = { ack: '1', parts: '1' } as const;

/**
 * The stock `WebsocketProvider`, plus three things it lacks: the durable ack (`?ack=1`), a fresh
 * token on every reconnect (`?token=` is read when the URL is built, so reconnection is taken over
 * from y-websocket: it would retry with the token it had), and no reconnect storm while offline.
 */
export function connectDocument(options: DocConnectionOptions): DocConnection {
  const { tracker, clock, connectivity } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  let destroyed = false;
  let lastAckTime: number | null = null;
  let failures = 0;
  let forceRefresh = false;
  let reconnectTimer: unknown = null;
  let connecting = false;
  let serverClose: ServerClose | null = null;
  /** Quota closes in a row (reset by a durable ack): each doubles the wait before reconnecting. */
  let quotaRepeats = 0;
  /** No reconnect before this time (a quota close asked to wait), ms since epoch. */
  let notBefore = 0;
  /** The server closed with a code after which reconnecting would only be refused again. */
  let stopped = false;
  const opened = new WeakSet<object>();

  const Base = options.WebSocket;
  // Every outgoing frame passes here: update-carrying ones are numbered for the ack.
  class TrackedSocket extends Base {
    override send(data: string | BufferSource | Blob): void {
      if (data instanceof Uint8Array) tracker.sent(this, data);
      else if (data instanceof ArrayBuffer) tracker.sent(this, new Uint8Array(data));
      super.send(data);
    }
  }

  const provider = new WebsocketProvider(options.wsUrl, options.docName, options.doc, {
    connect: false,
    params: { ...SOCKET_PARAMS },
    WebSocketPolyfill: TrackedSocket as unknown as typeof WebSocket,
    disableBc: !options.crossTab,
    maxBackoffTime: maxBackoffMs,
  });

  // y-websocket's cross-tab handshake (subscribe, then post a state vector, the whole document
  // encoded, and the awareness) runs inside connect(), i.e. in the task that has just applied the
  // stored document, before the page first paints it. It is moved to when the page is next idle:
  // updates made before it are in the document it then posts, and other tabs answer its state
  // vector with whatever they have that this tab lacks, so the tabs end up the same as before.
  let handshakePending = false;
  const handshake = provider.connectBc.bind(provider);
  provider.connectBc = () => {
    if (provider.disableBc || handshakePending) return;
    handshakePending = true;
    whenIdle(clock, () => {
      handshakePending = false;
      if (!destroyed && provider.shouldConnect) handshake();
    });
  };

  const onReceiving = options.onReceiving;
  const handleSync = provider.messageHandlers[messageSync];
  if (onReceiving && handleSync) {
    provider.messageHandlers[messageSync] = (encoder, decoder, p, emitSynced, type) => {
      const message = receivedUpdate(decoder);
      if (message) onReceiving(message);
      try {
        handleSync(encoder, decoder, p, emitSynced, type);
      } finally {
        if (message) onReceiving(null);
      }
    };
  }

  provider.messageHandlers[MESSAGE_DURABLE_ACK] = (_encoder, decoder, p) => {
    let ack;
    try {
      ack = readDurableAckBody(decoder);
    } catch {
      options.onError('malformed durable ack from the server');
      return;
    }
    if (p.ws && tracker.acked(p.ws, ack)) {
      quotaRepeats = 0;
      lastAckTime = clock.now();
      options.onChange();
    }
  };

  provider.on('status', ({ status }) => {
    if (status === 'connected' && provider.ws) {
      opened.add(provider.ws);
      failures = 0;
      forceRefresh = false;
    }
    options.onChange();
  });
  provider.on('sync', (isSynced: boolean) => {
    if (isSynced) serverClose = null;
    options.onChange();
  });
  provider.on('connection-error', () => options.onError('WebSocket error'));
  provider.on('connection-close', (event, p) => {
    const ws = p.ws;
    // A socket that closed before opening was most likely refused at the upgrade (a 401 for an
    // expired token is invisible to browser code): ask for a fresh token next time.
    if (ws && !opened.has(ws)) forceRefresh = true;
    // The server saw the token expire on an open socket: the cached token is stale too.
    if (event && event.code === CLOSE_TOKEN_EXPIRED) forceRefresh = true;
    const policy = event ? closePolicy(event.code) : null;
    const final = policy ? policy.minRetryMs === null : event !== null && event.code >= 4400 && event.code < 4500 && event.code !== CLOSE_TOKEN_EXPIRED;
    let minDelay = 0;
    if (event && policy) {
      // A quota close: wait (longer each time) or stop; never the usual quick reconnect, which
      // would send the same refused bytes or open the same refused socket again.
      if (policy.minRetryMs) quotaRepeats++;
      minDelay = policy.minRetryMs ? quotaRetryDelay(policy.minRetryMs, quotaRepeats) : 0;
      const now = clock.now();
      notBefore = now + minDelay;
      serverClose = { code: event.code, reason: policy.reason, detail: event.reason, at: now, retryAt: final ? null : now + minDelay };
      options.onServerClose?.(serverClose);
    }
    if (final && event) {
      stopped = true;
      options.onError(`server closed the document connection: ${event.code} ${policy ? policy.reason : event.reason}${policy && event.reason ? ` (${event.reason})` : ''}; local edits are kept`);
    }
    // 1009: a frame above the server's SYNC_MAX_MESSAGE_BYTES. Retrying sends the same frame again, so
    // say so loudly: the edits are safe locally but will not reach the server as they are.
    if (event && event.code === 1009) options.onError('a document message exceeded the server limit (1009 MESSAGE_TOO_BIG); local edits are kept');
    // Take reconnection over from y-websocket: its own timer finds shouldConnect false and does nothing.
    p.shouldConnect = false;
    if (!destroyed && !final) schedule(minDelay);
    options.onChange();
  });

  function schedule(minDelay = 0): void {
    if (destroyed || reconnectTimer !== null) return;
    const backoff = failures === 0 ? 0 : backoffDelay(failures, options.random, { baseMs: 250, maxMs: maxBackoffMs });
    const delay = Math.max(minDelay, backoff);
    failures++;
    reconnectTimer = clock.setTimeout(() => {
      reconnectTimer = null;
      void open();
    }, delay);
  }

  async function open(): Promise<void> {
    if (destroyed || stopped || connecting || provider.ws !== null) return;
    if (!connectivity.isOnline()) return; // the `online` listener reconnects
    // Coming back online does not cut a quota wait short: the timer reconnects when it is over.
    if (clock.now() < notBefore) return;
    connecting = true;
    try {
      const token = await options.getToken({ forceRefresh });
      if (destroyed) return;
      provider.params = { ...provider.params, token, ...SOCKET_PARAMS };
      provider.connect();
    } catch (err) {
      options.onError(`getToken failed: ${err instanceof Error ? err.message : String(err)}`);
      schedule();
    } finally {
      connecting = false;
    }
  }

  const unsubscribe = connectivity.subscribe((online) => {
    if (online) {
      failures = 0;
      void open();
    } else if (provider.ws) {
      // Chromium keeps a socket "open" while the network is down, and a dead one can take long
      // to time out: the status would say connected when nothing gets through. Close it; the
      // `online` event reconnects (and the new connection's step 2 re-sends what was not acked).
      provider.disconnect();
    }
  });

  return {
    provider,
    get connected() {
      return provider.wsconnected;
    },
    get synced() {
      return provider.synced;
    },
    get lastAckTime() {
      return lastAckTime;
    },
    get serverClose() {
      return serverClose;
    },
    connect: () => void open(),
    destroy() {
      destroyed = true;
      unsubscribe();
      if (reconnectTimer !== null) clock.clearTimeout(reconnectTimer);
      provider.destroy();
    },
  };
}

/** The longest the cross-tab handshake waits for an idle moment, ms. */
const IDLE_WAIT_MS = 1_000;

/** Runs `fn` when the page is idle (after it has painted); where there is no `requestIdleCallback`, on the next timer turn. */
function whenIdle(clock: Clock, fn: () => void): void {
  const ric = (globalThis as { requestIdleCallback?: (cb: () => void, opts: { timeout: number }) => unknown }).requestIdleCallback;
  if (ric) ric(fn, { timeout: IDLE_WAIT_MS });
  else clock.setTimeout(fn, 0);
}

/** y-protocols' sync message type of a step 2 (the sender's answer: what the receiver lacks). */
const SYNC_STEP_2 = 1;
/** y-protocols' sync message type of an update. */
const SYNC_UPDATE = 2;

/**
 * The update a sync message carries if it is a step 2 or an update, read without moving `decoder`
 * (the provider reads the message itself); `null` for other sync messages and malformed ones. A
 * view, not a copy: the provider wraps each message's own buffer, which nothing writes to.
 */
function receivedUpdate(decoder: decoding.Decoder): ReceivedUpdate | null {
  try {
    const peek = decoding.clone(decoder);
    const type = decoding.readVarUint(peek);
    if (type !== SYNC_STEP_2 && type !== SYNC_UPDATE) return null;
    return { update: decoding.readVarUint8Array(peek), stepTwo: type === SYNC_STEP_2 };
  } catch {
    return null;
  }
}
