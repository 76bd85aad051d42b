/**
 * The public types of the telemetry outbox: the options, status, events and interface of
 * `createTelemetry` (telemetry.ts re-exports them). Kept apart from the composition so that its
 * parts can name them without importing it.
 */
import type { EventId } from '../../ids.js';
import type { ChannelPort, Clock, ConnectivityPort, LifecyclePort, LockPort, RescueStore } from '../../ports.js';
import type { BackoffOptions } from '../backoff.js';
import type { OutboxStorage } from '../storage.js';
import type { BatchTransport } from '../transport.js';
import type { ItemType, JsonObject } from '../types.js';
import type { ItemValidator } from '../validate.js';
import type { DrainOptions, DrainResult } from './drain.js';

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
   * Where captures not yet in storage are copied when the page goes away (`hidden`, `pagehide`),
   * and taken back from at the next start (browsers: `localStorage`). `null` (default): none.
   */
  readonly rescue?: RescueStore | null;
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
  /**
   * The server answered 410 `GONE`: this learner was erased after the token was issued. The
   * outbox stopped sending for good (no retries); what is queued stays queued until the app
   * clears the device (`destroy()` then `forgetLocalData()`) and signs the learner out.
   */
  readonly learnerErased: boolean;
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
  readonly skipped?: 'offline' | 'not-leader' | 'backoff' | 'destroyed' | 'learner-erased';
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
    /** `null` when waiting to come online instead of on a timer, or when it does not retry. */
    readonly retryInMs: number | null;
    /** 410 `GONE`: the learner was erased; the outbox does not retry (see `TelemetryStatus.learnerErased`). */
    readonly learnerErased?: true;
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
  /**
   * Sends everything queued now (ignoring backoff, not `Retry-After`). In a follower tab it asks the
   * leader. Never rejects for a failed send: it resolves with `error` (e.g. `fetch failed` when the
   * server is down) and `remaining`, and the items stay queued for the retry.
   */
  flush(): Promise<FlushResult>;
  /**
   * Sends until the outbox is empty, keeping a Node process alive until then (the SDK's timers do
   * not); rejects with a `DrainTimeoutError` carrying `remaining` at the deadline.
   */
  drain(options: DrainOptions): Promise<DrainResult>;
  status(): TelemetryStatus;
  on<K extends keyof TelemetryEvents>(event: K, listener: (payload: TelemetryEvents[K]) => void): () => void;
  /** Resolves when storage is open and the first election has run. */
  readonly ready: Promise<void>;
  /** Stops timers, aborts requests in flight (their items stay queued), releases the lock, closes storage. */
  destroy(): Promise<void>;
}
