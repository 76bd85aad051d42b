import { Emitter } from '../emitter.js';
import { createIdGenerator, type EventId } from '../ids.js';
import {
  alwaysOnline,
  noLifecycle,
  systemClock,
  type ChannelPort,
  type Clock,
  type ConnectivityPort,
  type LifecyclePort,
  type LifecycleSignal,
  type LockPort,
} from '../ports.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { createMemoryOutboxStorage } from './memory-storage.js';
import { QuotaError, utf8Length, type OutboxStorage } from './storage.js';
import type { BatchTransport, ItemResult, SendOutcome, WireItem } from './transport.js';
import type { ItemType, JsonObject, OutboxItem, OutboxLimits } from './types.js';
import { MAX_USER_AGENT_LENGTH, validateBatchItem, type ItemValidator } from './validate.js';

/** What started a flush. */
export type FlushReason = 'manual' | 'batch-size' | 'batch-bytes' | 'interval' | 'online' | 'startup' | 'retry' | 'follower';

/** Options of {@link createTelemetry}. Every size is in bytes of UTF-8 JSON, every time in ms. */
export interface TelemetryOptions {
  /** Where queued items live. The telemetry owns it and closes it on `destroy()`. */
  readonly storage: OutboxStorage | Promise<OutboxStorage>;
  readonly transport: BatchTransport;
  /** Flush when this many items are queued, and send at most this many per request. Default 50. */
  readonly batchSize?: number;
  /** Flush when this many bytes are queued, and send at most this many per request. Default 64 KiB. */
  readonly maxBatchBytes?: number;
  /** Body limit of one keepalive request on unload; browsers allow 64 KiB in flight in total. Default 60 KiB − 1. */
  readonly keepaliveChunkBytes?: number;
  /** Period of the background flush. Default 30 000. */
  readonly syncIntervalMs?: number;
  /** Queue cap by count; the oldest items are dropped beyond it. Default 10 000. */
  readonly maxQueueSize?: number;
  /** Queue cap by bytes; the oldest items are dropped beyond it. Default 10 MiB. */
  readonly maxQueueBytes?: number;
  /** Items older than this are dropped unsent: old telemetry is worth less than the space it takes. Default 7 days. */
  readonly maxEventAgeMs?: number;
  /**
   * Largest single item (its whole `itemData` as JSON); larger ones are refused at capture.
   * Default 40 KiB: room for the server's 32 KiB `eventData` plus 4 KiB `metadata`, and still one
   * item per keepalive chunk with room to spare.
   */
  readonly maxItemBytes?: number;
  readonly backoff?: BackoffOptions;
  /** Sent as `metadata.userAgent`. Default `navigator.userAgent` where it exists. */
  readonly userAgent?: string;
  /** Names the Web Lock and BroadcastChannel, so that two users on one origin do not share a sender. Default `default`. */
  readonly scope?: string;
  readonly clock?: Clock;
  /** Uniform [0, 1) for backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Elects the one sending tab; `null`: this instance always sends (Node, or a single context). */
  readonly locks?: LockPort | null;
  /** Shares status between tabs; `null`: no sharing. */
  readonly channel?: ((name: string) => ChannelPort) | null;
  readonly connectivity?: ConnectivityPort;
  readonly lifecycle?: LifecyclePort;
  /**
   * Checks each item at capture; default the server's schema (crdt-model `batchItemSchema`), so
   * nothing the server would refuse for good is ever queued. `null` turns checking off.
   */
  readonly validate?: ItemValidator | null;
  /** How long a follower tab's `flush()` waits for the leader's result, ms. Default 30 000. */
  readonly followerFlushTimeoutMs?: number;
  /** Makes event ids; default a UUIDv7 generator on `clock`. */
  readonly idGenerator?: () => EventId;
}

/** A snapshot of the outbox. */
export interface TelemetryStatus {
  readonly online: boolean;
  /** This instance is the one that sends for its origin and scope. */
  readonly leader: boolean;
  readonly syncing: boolean;
  readonly queuedEvents: number;
  readonly queuedBytes: number;
  /** Last time the queue was drained successfully, ms since epoch. */
  readonly lastSyncTime: number | null;
  readonly lastError: string | null;
  /** When the next retry is due, ms since epoch; `null` when none is scheduled. */
  readonly nextRetryAt: number | null;
  /** Items dropped by this instance (cap, expiry, quota, rejection) since it started. */
  readonly droppedEvents: number;
  /** Queued items survive a restart (false for the memory fallback). */
  readonly durable: boolean;
}

/** Counts of one flush. */
export interface FlushResult {
  readonly sent: number;
  readonly stored: number;
  readonly duplicates: number;
  readonly merged: number;
  readonly rejected: number;
  /** Items the server asked to retry (per-item transient errors). */
  readonly retried: number;
  readonly remaining: number;
  /** Why nothing was sent, when nothing was. */
  readonly skipped?: 'offline' | 'not-leader' | 'backoff' | 'destroyed';
  readonly error?: string;
}

/** The events of {@link Telemetry}. */
export interface TelemetryEvents {
  'sync:start': { readonly reason: FlushReason; readonly queued: number };
  'sync:complete': FlushResult & { readonly reason: FlushReason; readonly durationMs: number };
  'sync:error': {
    readonly error: string;
    readonly status?: number;
    /** Consecutive failed attempts while online. */
    readonly attempt: number;
    /** `null` when waiting to come online instead of on a timer. */
    readonly retryInMs: number | null;
  };
  /** Items removed unsent, with the reason; `rejected` carries the server's message. */
  dropped: { readonly reason: 'cap' | 'expired' | 'quota' | 'rejected' | 'too-large'; readonly ids: readonly EventId[]; readonly error?: string };
  status: TelemetryStatus;
  [event: string]: unknown;
}

/** The telemetry outbox. */
export interface Telemetry {
  /**
   * Queues an event. Its `eventId` and `clientTimestamp` are fixed now; the promise resolves once
   * it is written to storage (or, if storage failed, held in memory and reported). Rejects only
   * for invalid input or after `destroy()`.
   */
  captureEvent(eventType: string, eventData?: JsonObject): Promise<EventId>;
  /** Queues a `progress` or `assessment` item for the batch endpoint (merged into the learner document). */
  captureItem(itemType: Exclude<ItemType, 'event'>, itemData: JsonObject): Promise<EventId>;
  /** Sends everything queued now (ignoring backoff, not `Retry-After`). In a follower tab it asks the leader. */
  flush(): Promise<FlushResult>;
  status(): TelemetryStatus;
  on<K extends keyof TelemetryEvents>(event: K, listener: (payload: TelemetryEvents[K]) => void): () => void;
  /** Resolves when storage is open and the first election has run. */
  readonly ready: Promise<void>;
  /** Stops timers, aborts requests in flight (their items stay queued), releases the lock, closes storage. */
  destroy(): Promise<void>;
}

type SharedEvent = 'sync:start' | 'sync:complete' | 'sync:error';

type ChannelMessage =
  | { readonly t: 'status'; readonly s: Pick<TelemetryStatus, 'queuedEvents' | 'queuedBytes' | 'lastSyncTime' | 'lastError' | 'syncing' | 'nextRetryAt'> }
  /** A follower asks the leader to flush; with an id it wants the result back (`flushed`). */
  | { readonly t: 'flush'; readonly id?: string }
  | { readonly t: 'flushed'; readonly id: string; readonly result: FlushResult }
  /** The leader's sync events, re-emitted by followers so every tab can show sync activity. */
  | { readonly t: 'event'; readonly name: SharedEvent; readonly payload: TelemetryEvents[SharedEvent] }
  | { readonly t: 'hello' }
  | { readonly t: 'removed'; readonly ids: readonly EventId[] };

const emptyResult = (): Omit<FlushResult, 'remaining'> => ({ sent: 0, stored: 0, duplicates: 0, merged: 0, rejected: 0, retried: 0 });

/** Per-item error codes that mean "try again", not "this item is bad". */
const transientCodes = new Set(['STORE_UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED']);
/** JSON around each item in a request (`{"itemType":"event","itemData":…}` plus `sentAt`). */
const WIRE_OVERHEAD_PER_ITEM = 128;
const WIRE_OVERHEAD_PER_BATCH = 128;
/** In-memory copy of this instance's unsent items, for the synchronous unload send. */
const MIRROR_MAX_BYTES = 256 * 1024;
const SPILL_MAX_ITEMS = 1000;

interface Pending {
  readonly item: OutboxItem;
  readonly resolve: (id: EventId) => void;
}

interface SendResult {
  ok: EventId[];
  rejected: { item: OutboxItem; reason: 'rejected' | 'too-large'; error: string }[];
  stored: number;
  duplicates: number;
  merged: number;
  transient: number;
  failure?: Extract<SendOutcome, { kind: 'retry' }>;
}

/**
 * Creates the telemetry outbox: capture writes to storage at once; one leader per scope sends
 * batches; per-item results decide delete / retry / reject; failures back off with full jitter.
 */
export function createTelemetry(options: TelemetryOptions): Telemetry {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const batchSize = options.batchSize ?? 50;
  const maxBatchBytes = options.maxBatchBytes ?? 64 * 1024;
  const keepaliveChunkBytes = options.keepaliveChunkBytes ?? 60 * 1024 - 1;
  const syncIntervalMs = options.syncIntervalMs ?? 30_000;
  const limits: OutboxLimits = { maxItems: options.maxQueueSize ?? 10_000, maxBytes: options.maxQueueBytes ?? 10 * 1024 * 1024 };
  const maxEventAgeMs = options.maxEventAgeMs ?? 7 * 24 * 3600 * 1000;
  const maxItemBytes = options.maxItemBytes ?? 40 * 1024;
  const connectivity = options.connectivity ?? alwaysOnline;
  const lifecycle = options.lifecycle ?? noLifecycle;
  const scope = options.scope ?? 'default';
  const nextId = options.idGenerator ?? createIdGenerator(() => clock.now());
  const userAgent = (options.userAgent ?? (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent)?.slice(0, MAX_USER_AGENT_LENGTH);
  const validate = options.validate === undefined ? validateBatchItem : options.validate;
  const transport = options.transport;
  const emitter = new Emitter<TelemetryEvents>();

  let storage: OutboxStorage | null = null;
  let destroyed = false;
  let leader = false;
  let releaseLeadership: (() => void) | null = null;
  const lockAbort = new AbortController();
  const requestAbort = new AbortController();
  let channel: ChannelPort | null = null;

  // Status, partly shared from the leader when this instance follows.
  let queuedEvents = 0;
  let queuedBytes = 0;
  let lastSyncTime: number | null = null;
  let lastError: string | null = null;
  let nextRetryAt: number | null = null;
  let retryAfterUntil = 0;
  let droppedEvents = 0;
  let syncing = false;
  let attempt = 0;

  let retryTimer: unknown = null;
  let intervalTimer: unknown = null;
  let flushing: Promise<FlushResult> | null = null;
  let again = false;
  let statusQueued = false;

  const writeQueue: Pending[] = [];
  let writing: Promise<void> = Promise.resolve();
  let drainScheduled = false;
  const spill: OutboxItem[] = [];
  const mirror = new Map<EventId, OutboxItem>();
  let mirrorBytes = 0;
  const unloadInFlight = new Set<EventId>();
  /** Manual flushes of this follower waiting for the leader's answer. */
  const delegated = new Map<string, (result: FlushResult) => void>();
  /** Items of the batch request in flight now (a normal send, not keepalive). */
  const inFlight = new Set<EventId>();
  const unsubscribers: (() => void)[] = [];

  const status = (): TelemetryStatus => ({
    online: connectivity.isOnline(),
    leader,
    syncing,
    queuedEvents: queuedEvents + spill.length,
    queuedBytes,
    lastSyncTime,
    lastError,
    nextRetryAt,
    droppedEvents,
    durable: storage?.durable !== false && spill.length === 0,
  });

  /** Coalesces status changes of one tick into one `status` event (and one broadcast). */
  const statusChanged = (): void => {
    if (statusQueued || destroyed) return;
    statusQueued = true;
    queueMicrotask(() => {
      statusQueued = false;
      if (destroyed) return;
      const s = status();
      emitter.emit('status', s);
      if (leader) post({ t: 'status', s: { queuedEvents: s.queuedEvents, queuedBytes, lastSyncTime, lastError, syncing, nextRetryAt } });
    });
  };

  const post = (msg: ChannelMessage): void => {
    try {
      channel?.postMessage(msg);
    } catch {
      // A closed channel during teardown: status sharing is best effort.
    }
  };

  /** Emits a sync event here and, from the leader, in every other tab of this scope. */
  const share = <K extends SharedEvent>(name: K, payload: TelemetryEvents[K]): void => {
    emitter.emit(name, payload);
    if (leader) post({ t: 'event', name, payload });
  };

  const forget = (ids: readonly EventId[]): void => {
    for (const id of ids) {
      const item = mirror.get(id);
      if (item) {
        mirror.delete(id);
        mirrorBytes -= item.size;
      }
    }
  };

  const remember = (item: OutboxItem): void => {
    mirror.set(item.id, item);
    mirrorBytes += item.size;
    // Oldest out first; they stay in storage, only the unload fast path loses sight of them.
    for (const [id, old] of mirror) {
      if (mirrorBytes <= MIRROR_MAX_BYTES) break;
      mirror.delete(id);
      mirrorBytes -= old.size;
    }
  };

  const dropped = (reason: TelemetryEvents['dropped']['reason'], ids: readonly EventId[], error?: string): void => {
    if (ids.length === 0) return;
    droppedEvents += ids.length;
    forget(ids);
    emitter.emit('dropped', { reason, ids, ...(error !== undefined ? { error } : {}) });
    statusChanged();
  };

  // ---- capture -------------------------------------------------------------------------------

  function enqueue(itemType: ItemType, itemData: JsonObject, id: EventId, now: number): Promise<EventId> {
    let json: string;
    try {
      json = JSON.stringify(itemData);
    } catch (err) {
      return Promise.reject(new TypeError(`event data is not JSON-serialisable: ${err instanceof Error ? err.message : String(err)}`));
    }
    const problem = validate?.(itemType, itemData);
    if (problem) return Promise.reject(new TypeError(`invalid ${itemType}: ${problem}`));
    const size = utf8Length(json);
    if (size > maxItemBytes) return Promise.reject(new RangeError(`event is ${size} bytes; the limit is ${maxItemBytes}`));
    // A copy, so that the caller mutating its object after capture changes nothing: the event
    // is what it was at capture (storage writes happen a tick later, group-committed).
    const item: OutboxItem = { id, itemType, itemData: JSON.parse(json) as JsonObject, createdAt: now, size };
    remember(item);
    return new Promise<EventId>((resolve) => {
      writeQueue.push({ item, resolve });
      if (!drainScheduled) {
        drainScheduled = true;
        // Group commit: every capture of this tick goes into one storage transaction.
        writing = writing.then(drain);
      }
    });
  }

  async function drain(): Promise<void> {
    drainScheduled = false;
    const batch = writeQueue.splice(0, writeQueue.length);
    if (batch.length === 0) return;
    const items = batch.map((p) => p.item);
    try {
      const store = storage ?? (await storageReady);
      await appendWithQuota(store, items);
    } catch (err) {
      // Storage is unusable (not a quota we could make room for): keep the items in memory,
      // where the next flush still sends them, and say so.
      const room = Math.max(0, SPILL_MAX_ITEMS - spill.length);
      spill.push(...items.slice(0, room));
      if (items.length > room) dropped('quota', items.slice(room).map((i) => i.id), String(err));
      lastError = `outbox storage failed: ${err instanceof Error ? err.message : String(err)}`;
      statusChanged();
    }
    for (const p of batch) p.resolve(p.item.id);
    maybeFlushOnThreshold();
  }

  async function appendWithQuota(store: OutboxStorage, items: OutboxItem[]): Promise<void> {
    let result;
    try {
      result = await store.append(items, limits);
    } catch (err) {
      if (!(err instanceof QuotaError)) throw err;
      // Out of space: give up the oldest tenth (at least as many as we add) and try once more.
      const freed = await store.removeOldest(Math.max(items.length, Math.ceil(queuedEvents / 10)));
      dropped('quota', freed, err.message);
      result = await store.append(items, limits);
    }
    queuedEvents = result.count;
    queuedBytes = result.bytes;
    dropped('cap', result.dropped);
    statusChanged();
  }

  function maybeFlushOnThreshold(): void {
    const reason: FlushReason | null = queuedEvents >= batchSize ? 'batch-size' : queuedBytes >= maxBatchBytes ? 'batch-bytes' : null;
    if (!reason || destroyed) return;
    if (!leader) {
      post({ t: 'flush' });
      return;
    }
    if (nextRetryAt !== null || flushing || !connectivity.isOnline()) return;
    void flushAs(reason);
  }

  // ---- sending -------------------------------------------------------------------------------

  const wire = (items: readonly OutboxItem[]): WireItem[] => items.map((i) => ({ itemType: i.itemType, itemData: i.itemData }));

  function applyResults(items: readonly OutboxItem[], results: readonly ItemResult[], out: SendResult): void {
    const byIndex = new Map<number, ItemResult>();
    for (const r of results) byIndex.set(r.index, r);
    items.forEach((item, index) => {
      const r = byIndex.get(index);
      if (!r) {
        out.transient++;
        return;
      }
      if (r.status === 'stored') out.stored++;
      else if (r.status === 'duplicate') out.duplicates++;
      else if (r.status === 'merged') out.merged++;
      if (r.status !== 'rejected') {
        out.ok.push(item.id);
        return;
      }
      const code = typeof r.error === 'object' ? r.error?.code : undefined;
      const message = typeof r.error === 'string' ? r.error : `${r.error?.code ?? 'REJECTED'}: ${r.error?.message ?? ''}`;
      if (code && transientCodes.has(code)) out.transient++;
      else out.rejected.push({ item, reason: 'rejected', error: message });
    });
  }

  async function sendSplitting(items: readonly OutboxItem[], out: SendResult): Promise<void> {
    for (const item of items) inFlight.add(item.id);
    let outcome: SendOutcome;
    try {
      outcome = await transport.send(wire(items), { signal: requestAbort.signal });
    } finally {
      for (const item of items) inFlight.delete(item.id);
    }
    if (outcome.kind === 'results') return applyResults(items, outcome.results, out);
    if (outcome.kind === 'retry') {
      out.failure = outcome;
      return;
    }
    // 413 or a 400 for the whole batch: halve until the culprit stands alone, then reject just it.
    if (items.length === 1) {
      const error = outcome.kind === 'too-large' ? 'PAYLOAD_TOO_LARGE: the server refused the item as too large' : outcome.error;
      out.rejected.push({ item: items[0]!, reason: outcome.kind === 'too-large' ? 'too-large' : 'rejected', error });
      return;
    }
    const mid = Math.ceil(items.length / 2);
    await sendSplitting(items.slice(0, mid), out);
    if (out.failure || destroyed) return;
    await sendSplitting(items.slice(mid), out);
  }

  async function settle(store: OutboxStorage, res: SendResult): Promise<void> {
    const gone = [...res.ok, ...res.rejected.map((r) => r.item.id)];
    if (gone.length === 0) return;
    await store.remove(gone);
    const goneSet = new Set<string>(gone);
    for (let i = spill.length - 1; i >= 0; i--) if (goneSet.has(spill[i]!.id)) spill.splice(i, 1);
    forget(res.ok);
    post({ t: 'removed', ids: gone });
    for (const reason of ['rejected', 'too-large'] as const) {
      const rs = res.rejected.filter((r) => r.reason === reason);
      if (rs.length > 0) dropped(reason, rs.map((r) => r.item.id), rs[0]!.error);
    }
  }

  async function refreshStats(store: OutboxStorage): Promise<void> {
    const s = await store.stats();
    queuedEvents = s.count;
    queuedBytes = s.bytes;
    statusChanged();
  }

  function scheduleRetry(delay: number): void {
    if (retryTimer !== null) clock.clearTimeout(retryTimer);
    nextRetryAt = clock.now() + delay;
    retryTimer = clock.setTimeout(() => {
      retryTimer = null;
      nextRetryAt = null;
      void flushAs('retry');
    }, delay);
  }

  function fail(failure: Extract<SendOutcome, { kind: 'retry' }>): void {
    // Offline is not a failed attempt: we wait for `online` instead of burning the backoff.
    const offline = !connectivity.isOnline();
    lastError = failure.error;
    let retryInMs: number | null = null;
    if (!offline) {
      const delay = backoffDelay(attempt, random, options.backoff, failure.retryAfterMs);
      attempt++;
      if (failure.retryAfterMs !== undefined) retryAfterUntil = clock.now() + failure.retryAfterMs;
      scheduleRetry(delay);
      retryInMs = delay;
    }
    share('sync:error', { error: failure.error, ...(failure.status !== undefined ? { status: failure.status } : {}), attempt, retryInMs });
    statusChanged();
  }

  async function flushOnce(reason: FlushReason): Promise<FlushResult> {
    const store = storage ?? (await storageReady);
    await writing; // items captured before this flush are part of it
    const empty = { sent: 0, stored: 0, duplicates: 0, merged: 0, rejected: 0, retried: 0 };
    if (destroyed) return { ...empty, remaining: queuedEvents, skipped: 'destroyed' };
    if (!connectivity.isOnline()) return { ...empty, remaining: queuedEvents, skipped: 'offline' };
    if (clock.now() < retryAfterUntil) return { ...empty, remaining: queuedEvents, skipped: 'backoff' };
    if (retryTimer !== null) {
      clock.clearTimeout(retryTimer);
      retryTimer = null;
      nextRetryAt = null;
    }
    if (spill.length > 0) {
      try {
        await appendWithQuota(store, spill);
        spill.length = 0;
      } catch {
        // still failing: the spilled items are sent from memory below
      }
    }
    dropped('expired', await store.removeExpired(clock.now() - maxEventAgeMs));
    await refreshStats(store);
    const started = clock.now();
    const total: SendResult = { ok: [], rejected: [], stored: 0, duplicates: 0, merged: 0, transient: 0 };
    let sent = 0;
    if (queuedEvents + spill.length > 0) {
      syncing = true;
      statusChanged();
      share('sync:start', { reason, queued: queuedEvents + spill.length });
    } else {
      attempt = 0;
      lastSyncTime = clock.now();
      return { ...empty, remaining: 0 };
    }
    let failure: SendResult['failure'];
    try {
      while (!destroyed && connectivity.isOnline()) {
        const fromSpill = spill.slice(0, batchSize);
        const batch = fromSpill.length > 0 ? fromSpill : await store.peek(batchSize, maxBatchBytes - WIRE_OVERHEAD_PER_BATCH);
        if (batch.length === 0) break;
        const res: SendResult = { ok: [], rejected: [], stored: 0, duplicates: 0, merged: 0, transient: 0 };
        await sendSplitting(batch, res);
        await settle(store, res);
        sent += batch.length;
        total.ok.push(...res.ok);
        total.rejected.push(...res.rejected);
        total.stored += res.stored;
        total.duplicates += res.duplicates;
        total.merged += res.merged;
        total.transient += res.transient;
        if (res.failure) {
          failure = res.failure;
          break;
        }
        if (res.ok.length + res.rejected.length === 0) {
          // The server kept every item of the batch for later: back off instead of spinning.
          failure = { kind: 'retry', error: 'the server asked to retry every item' };
          break;
        }
      }
    } finally {
      syncing = false;
    }
    await refreshStats(store);
    const result: FlushResult = {
      sent,
      stored: total.stored,
      duplicates: total.duplicates,
      merged: total.merged,
      rejected: total.rejected.length,
      retried: total.transient,
      remaining: queuedEvents + spill.length,
      ...(failure ? { error: failure.error } : {}),
    };
    if (failure) fail(failure);
    else if (!destroyed && connectivity.isOnline()) {
      attempt = 0;
      lastError = null;
      lastSyncTime = clock.now();
    }
    share('sync:complete', { ...result, reason, durationMs: clock.now() - started });
    statusChanged();
    return result;
  }

  /**
   * `flushOnce`, but a storage failure (database closed under us, disk gone) becomes a failed
   * round with a retry instead of a rejected promise: flushes are started from timers and events
   * with `void`, where a rejection would be unhandled (and fatal in Node).
   */
  async function safeFlushOnce(reason: FlushReason): Promise<FlushResult> {
    try {
      return await flushOnce(reason);
    } catch (err) {
      syncing = false;
      const error = `flush failed: ${err instanceof Error ? err.message : String(err)}`;
      if (!destroyed) fail({ kind: 'retry', error });
      return { ...emptyResult(), remaining: queuedEvents + spill.length, error };
    }
  }

  function flushAs(reason: FlushReason): Promise<FlushResult> {
    if (!leader) {
      post({ t: 'flush' });
      return Promise.resolve({ sent: 0, stored: 0, duplicates: 0, merged: 0, rejected: 0, retried: 0, remaining: queuedEvents, skipped: 'not-leader' });
    }
    if (flushing) {
      again = true;
      return flushing;
    }
    flushing = (async () => {
      // A flush requested while one runs joins it and gets one more round: its caller sees the
      // counts of every round, so "flush() resolved" means "what was queued before it was sent".
      let result = await safeFlushOnce(reason);
      // A round skipped as offline is retried when the request to join came from going online.
      const worthAnother = (r: FlushResult): boolean => !r.error && (!r.skipped || (r.skipped === 'offline' && connectivity.isOnline()));
      while (again && !destroyed && worthAnother(result)) {
        again = false;
        const next = await safeFlushOnce(reason);
        result = {
          ...next,
          sent: result.sent + next.sent,
          stored: result.stored + next.stored,
          duplicates: result.duplicates + next.duplicates,
          merged: result.merged + next.merged,
          rejected: result.rejected + next.rejected,
          retried: result.retried + next.retried,
        };
      }
      again = false;
      return result;
    })().finally(() => {
      flushing = null;
    });
    return flushing;
  }

  // ---- unload --------------------------------------------------------------------------------

  function onLifecycle(signal: LifecycleSignal): void {
    if (destroyed || !transport.sendNow) return;
    // Hidden, the page lives on and its batch request in flight will complete: do not send those
    // twice. On pagehide the browser cancels ordinary requests, so they go again with keepalive
    // (the server de-duplicates by eventId if the first one made it after all).
    const skip = (id: EventId): boolean => unloadInFlight.has(id) || (signal === 'hidden' && inFlight.has(id));
    const items = [...mirror.values(), ...spill].filter((i) => !skip(i.id));
    if (items.length === 0) return;
    items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const chunks: OutboxItem[][] = [];
    let chunk: OutboxItem[] = [];
    let bytes = WIRE_OVERHEAD_PER_BATCH;
    for (const item of items) {
      const cost = item.size + WIRE_OVERHEAD_PER_ITEM;
      if (chunk.length > 0 && (bytes + cost > keepaliveChunkBytes || chunk.length >= batchSize)) {
        chunks.push(chunk);
        chunk = [];
        bytes = WIRE_OVERHEAD_PER_BATCH;
      }
      chunk.push(item);
      bytes += cost;
    }
    if (chunk.length > 0) chunks.push(chunk);
    // One chunk in flight at a time: the browser's keepalive budget is 64 KiB for all requests together.
    const sendChunk = (i: number): void => {
      const part = chunks[i];
      if (!part || destroyed) return;
      const pending = transport.sendNow?.(wire(part));
      if (!pending) return;
      for (const item of part) unloadInFlight.add(item.id);
      void pending
        .then(async (outcome) => {
          if (outcome.kind !== 'results') return;
          const res: SendResult = { ok: [], rejected: [], stored: 0, duplicates: 0, merged: 0, transient: 0 };
          applyResults(part, outcome.results, res);
          // Only confirmed items are deleted; rejected ones go through the normal path later.
          res.rejected = [];
          if (storage && !destroyed) {
            await settle(storage, res);
            await refreshStats(storage);
          }
          sendChunk(i + 1);
        })
        .catch(() => undefined)
        .finally(() => {
          for (const item of part) unloadInFlight.delete(item.id);
        });
    };
    sendChunk(0);
  }

  // ---- leadership, channel, triggers ---------------------------------------------------------

  function becomeLeader(): void {
    if (destroyed) return;
    leader = true;
    statusChanged();
    const tick = (): void => {
      intervalTimer = clock.setTimeout(() => {
        if (!destroyed && leader && nextRetryAt === null) void flushAs('interval');
        if (!destroyed) tick();
      }, syncIntervalMs);
    };
    tick();
    void flushAs('startup');
  }

  function onChannelMessage(data: unknown): void {
    if (destroyed || typeof data !== 'object' || data === null) return;
    const msg = data as ChannelMessage;
    if (msg.t === 'flush' && leader) {
      const id = msg.id;
      if (typeof id === 'string') {
        // A user pressed "sync now" in another tab: treat it like a manual flush here.
        void flushAs('follower').then((result) => post({ t: 'flushed', id, result }));
      } else if (nextRetryAt === null) void flushAs('follower');
    } else if (msg.t === 'flushed' && typeof msg.id === 'string') {
      delegated.get(msg.id)?.(msg.result);
    } else if (msg.t === 'event' && !leader && (msg.name === 'sync:start' || msg.name === 'sync:complete' || msg.name === 'sync:error')) {
      emitter.emit(msg.name, msg.payload as never);
    } else if (msg.t === 'hello' && leader) {
      statusChanged();
    } else if (msg.t === 'removed' && Array.isArray(msg.ids)) {
      forget(msg.ids);
    } else if (msg.t === 'status' && !leader && typeof msg.s === 'object' && msg.s !== null) {
      ({ queuedEvents, queuedBytes, lastSyncTime, lastError, syncing, nextRetryAt } = msg.s);
      statusChanged();
    }
  }

  const storageReady: Promise<OutboxStorage> = Promise.resolve(options.storage).then(
    (s) => {
      storage = s;
      return s;
    },
    (err: unknown) => {
      // Storage could not be opened (private mode, a locked journal…): keep working in memory
      // rather than lose captures, and say so in the status.
      lastError = `outbox storage unavailable, events are kept in memory only: ${err instanceof Error ? err.message : String(err)}`;
      storage = createMemoryOutboxStorage();
      return storage;
    },
  );

  const ready = (async () => {
    const store = await storageReady;
    await refreshStats(store);
    if (destroyed) return;
    unsubscribers.push(
      connectivity.subscribe((online) => {
        statusChanged();
        if (online && leader) {
          // Back online: what failed while offline deserves a fresh start.
          attempt = 0;
          void flushAs('online');
        }
      }),
      lifecycle.subscribe(onLifecycle),
    );
    if (options.channel) {
      channel = options.channel(`prepmate-outbox:${scope}`);
      channel.addEventListener('message', (ev) => onChannelMessage(ev.data));
      post({ t: 'hello' });
    }
    if (!options.locks) {
      becomeLeader();
      return;
    }
    // Held until destroy(): queued behind the current leader, granted when it goes away.
    void options.locks
      .request(`prepmate-outbox:${scope}`, { signal: lockAbort.signal }, () =>
        new Promise<void>((release) => {
          releaseLeadership = release;
          becomeLeader();
        }),
      )
      .catch(() => undefined);
  })();

  ready.catch((err: unknown) => {
    // Storage could not be opened: captures still work (held in memory, see drain) and the
    // status says why. Callers awaiting `ready` see the error themselves.
    lastError = `outbox storage failed: ${err instanceof Error ? err.message : String(err)}`;
    statusChanged();
  });

  return {
    captureEvent(eventType: string, eventData: JsonObject = {}): Promise<EventId> {
      if (destroyed) return Promise.reject(new Error('telemetry is destroyed'));
      // The full check (the server's schema) runs in enqueue; this one only keeps the error
      // readable when validation is turned off.
      if (typeof eventType !== 'string' || eventType.length === 0) return Promise.reject(new TypeError(`invalid event type ${JSON.stringify(eventType)}`));
      if (typeof eventData !== 'object' || eventData === null || Array.isArray(eventData)) {
        return Promise.reject(new TypeError('event data must be a plain object'));
      }
      const now = clock.now();
      const eventId = nextId();
      const metadata: JsonObject = { clientTimestamp: new Date(now).toISOString(), eventId };
      if (userAgent) metadata['userAgent'] = userAgent;
      return enqueue('event', { eventId, eventType, eventData, metadata }, eventId, now);
    },
    captureItem(itemType, itemData): Promise<EventId> {
      if (destroyed) return Promise.reject(new Error('telemetry is destroyed'));
      if (itemType !== 'progress' && itemType !== 'assessment') return Promise.reject(new TypeError(`invalid item type ${String(itemType)}`));
      const now = clock.now();
      return enqueue(itemType, itemData, nextId(), now);
    },
    async flush(): Promise<FlushResult> {
      await ready;
      await writing;
      if (leader || !channel || destroyed) return flushAs('manual');
      // A follower: the leader sends; wait for its answer, for at most `followerFlushTimeoutMs`.
      const id = nextId();
      return new Promise<FlushResult>((resolve) => {
        const timer = clock.setTimeout(() => finish({ ...emptyResult(), remaining: queuedEvents, skipped: 'not-leader' }), options.followerFlushTimeoutMs ?? 30_000);
        const finish = (result: FlushResult): void => {
          clock.clearTimeout(timer);
          delegated.delete(id);
          resolve(result);
        };
        delegated.set(id, finish);
        post({ t: 'flush', id });
      });
    },
    status,
    on: (event, listener) => emitter.on(event, listener),
    ready,
    async destroy(): Promise<void> {
      if (destroyed) return;
      await ready.catch(() => undefined);
      await writing.catch(() => undefined);
      destroyed = true;
      requestAbort.abort();
      lockAbort.abort();
      for (const finish of [...delegated.values()]) finish({ ...emptyResult(), remaining: queuedEvents, skipped: 'destroyed' });
      if (retryTimer !== null) clock.clearTimeout(retryTimer);
      if (intervalTimer !== null) clock.clearTimeout(intervalTimer);
      for (const u of unsubscribers.splice(0)) u();
      // Requests were aborted above; a custom fetch that ignores the signal must not hold
      // destroy() forever (its items stay queued either way).
      if (flushing) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([flushing.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, 5_000)))]);
        clearTimeout(timer);
      }
      leader = false;
      releaseLeadership?.();
      channel?.close();
      emitter.clear();
      await storage?.close();
    },
  };
}
