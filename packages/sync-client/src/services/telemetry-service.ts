import type { SyncClient, SyncClientEvents, SyncStatus } from '../client.js';
import { Emitter } from '../emitter.js';
import type { EventId } from '../ids.js';
import type { DrainOptions, DrainResult, FlushResult, TelemetryEvents } from '../outbox/telemetry.js';
import type { JsonObject } from '../outbox/types.js';
import { resolveClient, type ServiceSource } from './source.js';

/** `sync:complete` as the guide reads it: the SDK's counts plus `successCount` / `failureCount`. */
export type ServiceSyncResult = TelemetryEvents['sync:complete'] & {
  /** Items the server confirmed in this round (stored, merged, or already stored). */
  readonly successCount: number;
  /** Items the server refused for good in this round (also reported by `dropped`). */
  readonly failureCount: number;
};

/** The events of {@link TelemetryService} (and of `SyncService`). */
export interface ServiceEvents {
  'sync:start': SyncClientEvents['sync:start'];
  'sync:complete': ServiceSyncResult;
  'sync:error': SyncClientEvents['sync:error'];
  /** Items removed unsent, with the reason. */
  dropped: TelemetryEvents['dropped'];
  status: SyncStatus;
  [event: string]: unknown;
}

/** Adds the guide's counts to the SDK's `sync:complete` payload. */
export function toServiceSyncResult(e: TelemetryEvents['sync:complete']): ServiceSyncResult {
  return { ...e, successCount: e.stored + e.duplicates + e.merged, failureCount: e.rejected };
}

/**
 * Forwards a client's events, with `sync:complete` in the guide's shape. Returns the
 * unsubscribe function of all of them.
 */
export function forwardEvents(client: SyncClient, emitter: Emitter<ServiceEvents>): () => void {
  const offs = [
    client.on('sync:start', (e) => emitter.emit('sync:start', e)),
    client.on('sync:complete', (e) => emitter.emit('sync:complete', toServiceSyncResult(e))),
    client.on('sync:error', (e) => emitter.emit('sync:error', e)),
    client.on('status', (s) => emitter.emit('status', s)),
    client.telemetry.on('dropped', (d) => emitter.emit('dropped', d)),
  ];
  return () => offs.forEach((off) => off());
}

/**
 * The guide's `TelemetryService`: `captureEvent(type, data)` and `on('sync:*', …)`, a thin
 * facade over the SDK's outbox (durable at once, sent in batches, stored exactly once).
 * Made from options it owns a telemetry-only client; made with `{ client }` it shares one.
 */
export class TelemetryService {
  readonly client: SyncClient;
  readonly #owned: boolean;
  readonly #emitter = new Emitter<ServiceEvents>();
  readonly #unforward: () => void;

  constructor(source: ServiceSource) {
    const { client, owned } = resolveClient(source, false);
    this.client = client;
    this.#owned = owned;
    this.#unforward = forwardEvents(client, this.#emitter);
  }

  /**
   * Queues an event; resolves with its id once it is in local storage. Rejects only for data the
   * server would refuse (see the SDK README) or after `destroy()`.
   */
  captureEvent(eventType: string, eventData: JsonObject = {}): Promise<EventId> {
    return this.client.captureEvent(eventType, eventData);
  }

  /** Sends what is queued now. Never rejects for network errors: see `FlushResult.error`. */
  flush(): Promise<FlushResult> {
    return this.client.flush();
  }

  /** Sends until the outbox is empty, keeping a Node process alive; rejects at `timeoutMs` with the count left. */
  drain(options: DrainOptions): Promise<DrainResult> {
    return this.client.drain(options);
  }

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof ServiceEvents>(event: K, listener: (payload: ServiceEvents[K]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  off<K extends keyof ServiceEvents>(event: K, listener: (payload: ServiceEvents[K]) => void): void {
    this.#emitter.off(event, listener);
  }

  /** Stops listening; destroys the client when this service made it (queued events stay in storage). */
  async destroy(): Promise<void> {
    this.#unforward();
    this.#emitter.clear();
    if (this.#owned) await this.client.destroy();
  }
}
