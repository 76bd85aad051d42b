import type { Emitter } from '../../emitter.js';
import type { EventId } from '../../ids.js';
import type { ConnectivityPort } from '../../ports.js';
import type { OutboxStorage } from '../storage.js';
import type { TelemetryEvents, TelemetryStatus } from './api.js';
import type { TelemetryState } from './state.js';
import type { SharedEvent, TabChannel } from './tab-channel.js';
import type { UnsentMirror } from './unsent-mirror.js';

/** How one instance reports what happens: its status, its events, and their echo in other tabs. */
export interface StatusReporter {
  status(): TelemetryStatus;
  /** Coalesces status changes of one tick into one `status` event (and one broadcast). */
  statusChanged(): void;
  /** Emits a sync event here and, from the leader, in every other tab of this scope. */
  share<K extends SharedEvent>(name: K, payload: TelemetryEvents[K]): void;
  /** Counts items removed unsent and reports them with the reason. */
  dropped(reason: TelemetryEvents['dropped']['reason'], ids: readonly EventId[], error?: string): void;
  /** Reads the queue's count and bytes back from storage. */
  refreshStats(store: OutboxStorage): Promise<void>;
}

export interface StatusReporterDeps {
  readonly state: TelemetryState;
  readonly connectivity: ConnectivityPort;
  readonly emitter: Emitter<TelemetryEvents>;
  readonly tabs: TabChannel;
  readonly mirror: UnsentMirror;
}

export function createStatusReporter({ state, connectivity, emitter, tabs, mirror }: StatusReporterDeps): StatusReporter {
  let statusQueued = false;

  const status = (): TelemetryStatus => ({
    online: connectivity.isOnline(),
    leader: state.leader,
    syncing: state.syncing,
    queuedEvents: state.queuedEvents + state.spill.length,
    queuedBytes: state.queuedBytes,
    lastSyncTime: state.lastSyncTime,
    lastError: state.lastError,
    nextRetryAt: state.nextRetryAt,
    droppedEvents: state.droppedEvents,
    durable: state.storage?.durable !== false && state.spill.length === 0,
    learnerErased: state.learnerErased,
  });

  const statusChanged = (): void => {
    if (statusQueued || state.destroyed) return;
    statusQueued = true;
    queueMicrotask(() => {
      statusQueued = false;
      if (state.destroyed) return;
      const s = status();
      emitter.emit('status', s);
      if (state.leader) {
        tabs.post({
          t: 'status',
          s: { queuedEvents: s.queuedEvents, queuedBytes: state.queuedBytes, lastSyncTime: state.lastSyncTime, lastError: state.lastError, syncing: state.syncing, nextRetryAt: state.nextRetryAt, learnerErased: state.learnerErased },
        });
      }
    });
  };

  const share = <K extends SharedEvent>(name: K, payload: TelemetryEvents[K]): void => {
    emitter.emit(name, payload);
    if (state.leader) tabs.post({ t: 'event', name, payload });
  };

  const dropped = (reason: TelemetryEvents['dropped']['reason'], ids: readonly EventId[], error?: string): void => {
    if (ids.length === 0) return;
    state.droppedEvents += ids.length;
    mirror.forget(ids);
    emitter.emit('dropped', { reason, ids, ...(error !== undefined ? { error } : {}) });
    statusChanged();
  };

  async function refreshStats(store: OutboxStorage): Promise<void> {
    const s = await store.stats();
    state.queuedEvents = s.count;
    state.queuedBytes = s.bytes;
    statusChanged();
  }

  return { status, statusChanged, share, dropped, refreshStats };
}
