import { LearnerDocument, isOrigin } from '@prepmate/crdt-model';
import type { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { fromBase64, toBase64 } from 'lib0/buffer';
import { AckTracker, type KeptUnsaved } from './doc/ack.js';
import { connectDocument, type DocConnection, type WebSocketConstructor } from './doc/connection.js';
import type { ServerClose } from './doc/server-close.js';
import type { DocPersistence, DocPersistenceFactory } from './doc/persistence.js';
import { skipEncodingOfLoads, skipEncodingOfReceived, type ReceivedUpdate } from './doc/quiet-load.js';
import { Emitter } from './emitter.js';
import { createIdGenerator, type EventId } from './ids.js';
import type { OutboxStorage } from './outbox/storage.js';
import { createTelemetry, type DrainOptions, type DrainResult, type FlushResult, type Telemetry, type TelemetryEvents, type TelemetryOptions, type TelemetryStatus } from './outbox/telemetry.js';
import { createHttpTransport, type BatchSigning, type FetchLike, type GetToken } from './outbox/transport.js';
import { systemClock, type ChannelPort, type Clock, type ConnectivityPort, type LifecyclePort, type LockPort, type RescueStore } from './ports.js';

/** Options shared by the browser and Node entries of `createSyncClient`. */
export interface SyncClientOptions {
  /** Server origin for REST, e.g. `https://prepmate.example` (`/api/...` is appended). */
  readonly apiBaseUrl: string;
  /** WebSocket base, e.g. `wss://prepmate.example/sync` (the document name is appended). */
  readonly wsUrl: string;
  /** The learner; 1–128 of `[A-Za-z0-9_-]`. */
  readonly userId: string;
  /**
   * Returns a bearer token. Called before each request that needs one and on every reconnect;
   * `forceRefresh: true` after the server refused the current one. Cache inside it.
   */
  readonly getToken: GetToken;
  /** Document name; default the userId (`<userId>` or `<userId>/<name>`, see docs/crdt-model.md). */
  readonly docName?: string;
  /**
   * This device's id in the document's edit stamps (1–64 of `[A-Za-z0-9_-]`), kept across
   * sessions, so that the app can tell which losing values of concurrent edits were made here.
   * Default: a new random id per client.
   */
  readonly deviceId?: string;
  /** Tuning of the outbox (batch size, caps, intervals…); see {@link TelemetryOptions}. */
  readonly telemetry?: Omit<TelemetryOptions, 'storage' | 'transport' | 'clock' | 'connectivity' | 'lifecycle' | 'locks' | 'channel' | 'scope'>;
  /** Do not connect the document (telemetry only, e.g. a REST-only service). Default false. */
  readonly documentSync?: boolean;
  readonly fetch?: FetchLike;
  /** Upper bound of the document's reconnect backoff (full jitter from 250 ms), ms. Default 30 000. */
  readonly maxReconnectDelayMs?: number;
  /** Gzip telemetry request bodies ≥ 1 KiB. Default true. */
  readonly compressRequests?: boolean;
  /** Sign telemetry batches with this client's key (server `BATCH_SIGNING_KEYS`). */
  readonly batchSigning?: BatchSigning;
  /** Per-request timeout of telemetry sends, ms. Default 30 000. */
  readonly requestTimeoutMs?: number;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Override a platform port (tests). */
  readonly connectivity?: ConnectivityPort;
  readonly lifecycle?: LifecyclePort;
  readonly locks?: LockPort | null;
  readonly channel?: ((name: string) => ChannelPort) | null;
  readonly WebSocket?: WebSocketConstructor;
  readonly outboxStorage?: OutboxStorage | Promise<OutboxStorage>;
  /** `null`: keep the document in memory only. */
  readonly docPersistence?: DocPersistenceFactory | null;
  /** `null`: no copy of unwritten captures on unload. */
  readonly rescue?: RescueStore | null;
}

/** What the platform entry supplies (browser or Node); each can be overridden in the options. */
export interface Platform {
  readonly connectivity: ConnectivityPort;
  readonly lifecycle: LifecyclePort;
  readonly locks: LockPort | null;
  readonly channel: ((name: string) => ChannelPort) | null;
  readonly WebSocket: WebSocketConstructor | null;
  readonly outboxStorage: (userId: string) => OutboxStorage | Promise<OutboxStorage>;
  readonly docPersistence: DocPersistenceFactory | null;
  /** Where the outbox copies unwritten captures when the page goes away (`localStorage`); absent: none. */
  readonly rescue?: RescueStore | null;
  /** y-websocket's BroadcastChannel sync between tabs. */
  readonly crossTab: boolean;
}

/** The combined status of the document and the outbox. */
export interface SyncStatus {
  readonly online: boolean;
  /** The document's WebSocket is open. */
  readonly connected: boolean;
  /** The document has exchanged state with the server since the last connect. */
  readonly synced: boolean;
  /** Local document changes the server has not yet acknowledged as durable. */
  readonly unsavedChanges: number;
  readonly queuedEvents: number;
  /** Last time the server confirmed anything (an ack or a batch), ms since epoch. */
  readonly lastSyncTime: number | null;
  readonly lastError: string | null;
  /**
   * The server's last named close of the document socket (a quota, a slow link), until the
   * document syncs again; `retryAt` says when the SDK reconnects, or `null` when it stopped.
   * Apps explain it to the learner; local edits are kept in every case.
   */
  readonly serverClose: ServerClose | null;
  readonly telemetry: TelemetryStatus;
}

/** The events of a {@link SyncClient}. */
export interface SyncClientEvents {
  'sync:start': TelemetryEvents['sync:start'];
  'sync:complete': TelemetryEvents['sync:complete'];
  'sync:error': TelemetryEvents['sync:error'] | { readonly error: string; readonly source: 'document' };
  status: SyncStatus;
  /** The server closed the document socket with a named code (see {@link SyncStatus.serverClose}). */
  'document:closed': ServerClose;
  [event: string]: unknown;
}

/** The SDK: one learner's document and telemetry. */
export interface SyncClient {
  /** The learner document (crdt-model API). Edit it freely, online or not. */
  readonly document: LearnerDocument;
  readonly doc: Y.Doc;
  readonly telemetry: Telemetry;
  /** The y-websocket provider once connected (awareness, presence); `null` before `ready` or without document sync. */
  readonly provider: WebsocketProvider | null;
  /** Resolves once the document is loaded from local persistence and the outbox is open. */
  readonly ready: Promise<void>;
  status(): SyncStatus;
  on<K extends keyof SyncClientEvents>(event: K, listener: (payload: SyncClientEvents[K]) => void): () => void;
  /** Shorthand for `telemetry.captureEvent`. */
  captureEvent(eventType: string, eventData?: Parameters<Telemetry['captureEvent']>[1]): Promise<EventId>;
  /** Sends queued events now; resolves with `error` and `remaining` rather than rejecting when the server cannot be reached. */
  flush(): Promise<FlushResult>;
  /** Sends until the outbox is empty, keeping a Node process alive until then; rejects at `timeoutMs` with the count left (`DrainTimeoutError`). */
  drain(options: DrainOptions): Promise<DrainResult>;
  /** Resolves when `unsavedChanges` is 0 (every local edit is durable on the server). */
  whenSaved(): Promise<void>;
  /**
   * Keeps `value` (structured-cloneable) in local persistence as the view of the document's state
   * *now*, for `readStoredView` of the next page to return while that state is what is stored.
   * Resolves `false` (nothing kept) when the stored state is not exactly the document's: not
   * loaded yet, updates not yet handed to storage, records written by another tab, or a
   * persistence without views (Node, memory).
   */
  saveStoredView(value: unknown): Promise<boolean>;
  /** Disconnects, stops timers, closes storage. Queued events and unsaved edits stay in local storage. */
  destroy(): Promise<void>;
}

/** Where a page keeps its unsaved count for the next page of the same document. */
export function unsavedCountKey(docName: string): string {
  return `prepmate-doc-unsaved:${encodeURIComponent(docName)}`;
}

/** Builds a client on a platform; the entries (`index.ts`, `node/index.ts`) call it. */
export function createSyncClientOn(platform: Platform, options: SyncClientOptions): SyncClient {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(options.userId)) throw new TypeError('userId must be 1–128 characters of [A-Za-z0-9_-]');
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const connectivity = options.connectivity ?? platform.connectivity;
  const docName = options.docName ?? options.userId;
  const emitter = new Emitter<SyncClientEvents>();
  let lastDocError: string | null = null;
  let destroyed = false;

  const ids = createIdGenerator(() => clock.now());
  const transport = createHttpTransport({
    apiBaseUrl: options.apiBaseUrl,
    getToken: options.getToken,
    batchId: () => `batch_${ids()}`,
    nowIso: () => new Date(clock.now()).toISOString(),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}),
    ...(options.compressRequests !== undefined ? { compress: options.compressRequests } : {}),
    // The client's tokens are the learner's own: their subject is `userId`, which every signature names.
    ...(options.batchSigning ? { signing: { ...options.batchSigning, userId: options.userId }, now: () => clock.now() } : {}),
  });
  const telemetry = createTelemetry({
    ...options.telemetry,
    storage: options.outboxStorage ?? platform.outboxStorage(options.userId),
    transport,
    clock,
    random,
    connectivity,
    lifecycle: options.lifecycle ?? platform.lifecycle,
    locks: options.locks !== undefined ? options.locks : platform.locks,
    channel: options.channel !== undefined ? options.channel : platform.channel,
    scope: options.userId,
    rescue: options.rescue !== undefined ? options.rescue : (platform.rescue ?? null),
  });

  const doc = new Y.Doc();
  const document = new LearnerDocument(doc, { now: () => clock.now(), ...(options.deviceId !== undefined ? { node: options.deviceId } : {}) });
  const tracker = new AckTracker();
  const persistenceFactory = options.docPersistence !== undefined ? options.docPersistence : platform.docPersistence;
  let persistence: DocPersistence | null = null;
  let connection: DocConnection | null = null;
  let stopSkipping = (): void => undefined;
  let stopSkippingReceived = (): void => undefined;
  /** The sync update (step 2 or update message) the provider is applying (see `skipEncodingOfReceived`). */
  let receiving: ReceivedUpdate | null = null;

  // The unsaved count is kept next to the document (in the rescue store, i.e. localStorage), so a
  // reload says the same number of unsaved changes as before it, not a guess.
  const keepStore = persistenceFactory ? (options.rescue !== undefined ? options.rescue : (platform.rescue ?? null)) : null;
  const keptKey = unsavedCountKey(docName);
  let lastKept: string | null = null;
  const keepUnsaved = (): void => {
    if (!keepStore) return;
    const acked = tracker.lastAckedStateVector;
    const value = JSON.stringify({ unsaved: tracker.unsaved, acked: acked ? toBase64(acked) : null });
    if (value === lastKept) return;
    try {
      keepStore.set(keptKey, value);
      lastKept = value;
    } catch {
      // Storage full or blocked: the next page counts the restored state as one change.
    }
  };
  const readKept = (): KeptUnsaved | undefined => {
    try {
      const raw = keepStore?.get(keptKey);
      if (!raw) return undefined;
      const v = JSON.parse(raw) as { unsaved?: unknown; acked?: unknown };
      if (typeof v.unsaved !== 'number') return undefined;
      return { unsaved: v.unsaved, acked: typeof v.acked === 'string' ? fromBase64(v.acked) : null };
    } catch {
      return undefined;
    }
  };

  let statusQueued = false;
  const status = (): SyncStatus => {
    const t = telemetry.status();
    const docSync = connection?.lastAckTime ?? null;
    return {
      online: connectivity.isOnline(),
      connected: connection?.connected ?? false,
      synced: connection?.synced ?? false,
      unsavedChanges: tracker.unsaved,
      queuedEvents: t.queuedEvents,
      lastSyncTime: docSync === null ? t.lastSyncTime : t.lastSyncTime === null ? docSync : Math.max(docSync, t.lastSyncTime),
      lastError: lastDocError ?? t.lastError,
      serverClose: connection?.serverClose ?? null,
      telemetry: t,
    };
  };
  const saveWaiters = new Set<() => void>();
  /** Before the stored state is loaded, the count is not yet worth keeping (it would overwrite the last page's). */
  let restoredDone = false;
  const changed = (): void => {
    if (restoredDone) keepUnsaved();
    if (tracker.unsaved === 0) for (const w of [...saveWaiters]) w();
    if (statusQueued || destroyed) return;
    statusQueued = true;
    queueMicrotask(() => {
      statusQueued = false;
      if (!destroyed) emitter.emit('status', status());
    });
  };

  telemetry.on('status', changed);
  telemetry.on('sync:start', (e) => emitter.emit('sync:start', e));
  telemetry.on('sync:complete', (e) => emitter.emit('sync:complete', e));
  telemetry.on('sync:error', (e) => emitter.emit('sync:error', e));

  // Registered before the provider exists, so it runs before the provider broadcasts the update:
  // the frame that carries a change is then numbered with that change's sequence number.
  const onDocUpdate = (_update: Uint8Array, origin: unknown): void => {
    if (persistence && origin === persistence.origin) return;
    if (connection && origin === connection.provider) return;
    if (isOrigin(origin) && (origin.kind === 'remote' || origin.kind === 'persistence' || origin.kind === 'server')) return;
    tracker.localChange();
    changed();
  };
  doc.on('update', onDocUpdate);

  const ready = (async () => {
    if (persistenceFactory) {
      persistence = persistenceFactory(docName, doc, (message) => {
        lastDocError = message;
        emitter.emit('sync:error', { error: message, source: 'document' });
        changed();
      });
      stopSkipping = skipEncodingOfLoads(doc, persistence.origin, [onDocUpdate, ...(persistence.updateListeners ?? [])]);
      await persistence.whenLoaded;
      tracker.restored(Y.encodeStateVector(doc), readKept());
    }
    restoredDone = true;
    keepUnsaved();
    if (destroyed || options.documentSync === false) return;
    const WS = options.WebSocket ?? platform.WebSocket;
    if (!WS) throw new Error('no WebSocket implementation: pass options.WebSocket');
    connection = connectDocument({
      wsUrl: options.wsUrl,
      docName,
      doc,
      getToken: options.getToken,
      WebSocket: WS,
      connectivity,
      tracker,
      clock,
      random,
      crossTab: platform.crossTab,
      ...(options.maxReconnectDelayMs !== undefined ? { maxBackoffMs: options.maxReconnectDelayMs } : {}),
      onChange: changed,
      onServerClose: (close) => emitter.emit('document:closed', close),
      onReceiving: (message) => {
        receiving = message;
      },
      onError: (message) => {
        lastDocError = message;
        emitter.emit('sync:error', { error: message, source: 'document' });
        changed();
      },
    });
    // A new device's first sync is the whole document in one step 2: stored as received rather
    // than encoded again from the transaction (a second pass as long as decoding it).
    const storeReceived = persistence?.storeReceived;
    if (persistence && storeReceived) {
      const provider = connection.provider;
      stopSkippingReceived = skipEncodingOfReceived(doc, provider, [onDocUpdate, provider._updateHandler, ...(persistence.updateListeners ?? [])], () => receiving, storeReceived);
    }
    let schemaChecked = false;
    connection.provider.on('sync', (isSynced: boolean) => {
      if (isSynced) lastDocError = null;
      // After the first sync, so that the schema the server already has is seen, not re-made.
      if (isSynced && !schemaChecked) {
        schemaChecked = true;
        document.ensureSchema();
      }
    });
    connection.connect();
    changed();
  })();
  const allReady = Promise.all([ready, telemetry.ready]).then(() => undefined);
  allReady.catch(() => undefined);

  return {
    document,
    doc,
    telemetry,
    get provider() {
      return connection?.provider ?? null;
    },
    ready: allReady,
    status,
    on: (event, listener) => emitter.on(event, listener),
    captureEvent: (eventType, eventData) => telemetry.captureEvent(eventType, eventData),
    flush: () => telemetry.flush(),
    drain: (drainOptions) => telemetry.drain(drainOptions),
    whenSaved() {
      if (tracker.unsaved === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          saveWaiters.delete(done);
          resolve();
        };
        saveWaiters.add(done);
      });
    },
    saveStoredView(value) {
      if (destroyed || !restoredDone || !persistence?.saveView) return Promise.resolve(false);
      return persistence.saveView(value);
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await ready.catch(() => undefined);
      connection?.destroy();
      stopSkipping();
      stopSkippingReceived();
      await persistence?.destroy();
      await telemetry.destroy();
      emitter.clear();
      doc.destroy();
    },
  };
}
