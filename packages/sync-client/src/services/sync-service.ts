import type { SyncClient } from '../client.js';
import { Emitter } from '../emitter.js';
import type { FlushResult } from '../outbox/telemetry.js';
import { resolveClient, type ServiceSource } from './source.js';
import { forwardEvents, toServiceSyncResult, type ServiceEvents } from './telemetry-service.js';

/** `getStatus()` of the guide's `SyncService`. Counts are of items (events, progress, assessments). */
export interface ServiceSyncStatus {
  /** Between `start()` and `stop()`. */
  readonly isRunning: boolean;
  /** Items the server confirmed since this service was made (stored, merged, or already stored). */
  readonly syncedCount: number;
  /** Items the server refused for good since this service was made. */
  readonly failedCount: number;
  /** Items queued locally now, waiting to be sent. */
  readonly pendingCount: number;
  /** `syncedCount + failedCount + pendingCount`. */
  readonly totalCount: number;
  /** Last time the server confirmed anything (a batch or a document change), ISO 8601. */
  readonly lastSyncTime: string | null;
  readonly online: boolean;
  /** The learner document's socket is open. */
  readonly connected: boolean;
  /** Local document changes the server has not yet acknowledged as durable. */
  readonly unsavedChanges: number;
  readonly lastError: string | null;
}

/**
 * The guide's `SyncService`: `start()`, `getStatus()` with `syncedCount` / `totalCount`, and the
 * same events as `TelemetryService`. A facade over the SDK client: the learner document over
 * WebSocket and the telemetry outbox. Made from options it owns its client (document sync on
 * unless `documentSync: false`); made with `{ client }` it shares one.
 */
export class SyncService {
  readonly client: SyncClient;
  readonly #owned: boolean;
  readonly #emitter = new Emitter<ServiceEvents>();
  readonly #unforward: () => void;
  readonly #offCount: () => void;
  #running = false;
  #synced = 0;
  #failed = 0;

  constructor(source: ServiceSource) {
    const { client, owned } = resolveClient(source, true);
    this.client = client;
    this.#owned = owned;
    this.#unforward = forwardEvents(client, this.#emitter);
    // Counted from construction, not from start(): a capture made before start() that the
    // start-up flush sends belongs to this service's total.
    this.#offCount = client.on('sync:complete', (e) => {
      const r = toServiceSyncResult(e);
      this.#synced += r.successCount;
      this.#failed += r.failureCount;
    });
  }

  /**
   * Resolves once local storage is loaded, the outbox is open and what was queued has been
   * offered to the server. The background sync (interval, reconnects, retries) runs from then on.
   */
  async start(): Promise<FlushResult> {
    await this.client.ready;
    this.#running = true;
    return this.client.flush();
  }

  getStatus(): ServiceSyncStatus {
    const s = this.client.status();
    return {
      isRunning: this.#running,
      syncedCount: this.#synced,
      failedCount: this.#failed,
      pendingCount: s.queuedEvents,
      totalCount: this.#synced + this.#failed + s.queuedEvents,
      lastSyncTime: s.lastSyncTime === null ? null : new Date(s.lastSyncTime).toISOString(),
      online: s.online,
      connected: s.connected,
      unsavedChanges: s.unsavedChanges,
      lastError: s.lastError,
    };
  }

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof ServiceEvents>(event: K, listener: (payload: ServiceEvents[K]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  off<K extends keyof ServiceEvents>(event: K, listener: (payload: ServiceEvents[K]) => void): void {
    this.#emitter.off(event, listener);
  }

  /** Stops; destroys the client when this service made it (queued events and unsaved edits stay in local storage). */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unforward();
    this.#offCount();
    this.#emitter.clear();
    if (this.#owned) await this.client.destroy();
  }
}
