import type { EventId } from '../../ids.js';
import type { Clock } from '../../ports.js';
import { QuotaError, utf8Length, type OutboxStorage } from '../storage.js';
import type { ItemType, JsonObject, OutboxItem, OutboxLimits } from '../types.js';
import type { ItemValidator } from '../validate.js';
import type { Telemetry } from './api.js';
import type { TelemetryState } from './state.js';
import type { StatusReporter } from './status.js';
import type { UnsentMirror } from './unsent-mirror.js';

/** Most captures held in memory while storage fails; beyond it they are dropped (`quota`). */
const SPILL_MAX_ITEMS = 1000;

interface Pending {
  readonly item: OutboxItem;
  readonly resolve: (id: EventId) => void;
}

export interface CaptureDeps {
  readonly state: TelemetryState;
  readonly storageReady: Promise<OutboxStorage>;
  readonly clock: Clock;
  readonly nextId: () => EventId;
  /** Already cut to the length the server accepts. */
  readonly userAgent: string | undefined;
  readonly validate: ItemValidator | null;
  readonly maxItemBytes: number;
  readonly limits: OutboxLimits;
  readonly mirror: UnsentMirror;
  readonly report: Pick<StatusReporter, 'statusChanged' | 'dropped'>;
  /** Runs after every group commit: the queue may now be big enough to send. */
  readonly onWritten: () => void;
}

/** Capture: checks an item, fixes its id and time, and writes it to the outbox at once. */
export interface Capture extends Pick<Telemetry, 'captureEvent' | 'captureItem'> {
  /** Settles once every capture made so far is in storage (or held in memory, see `drain`). */
  written(): Promise<void>;
  /** Appends to storage; when it is out of space, the oldest make room first. */
  appendWithQuota(store: OutboxStorage, items: readonly OutboxItem[]): Promise<void>;
  /** Captures whose storage write has not completed yet, oldest first (for the rescue on unload). */
  unwritten(): OutboxItem[];
}

export function createCapture(deps: CaptureDeps): Capture {
  const { state, storageReady, clock, nextId, userAgent, validate, maxItemBytes, limits, mirror, report, onWritten } = deps;
  const writeQueue: Pending[] = [];
  /** Captured, storage write not completed: what a page going away right now would lose. */
  const unwritten = new Map<EventId, OutboxItem>();
  let writing: Promise<void> = Promise.resolve();
  let drainScheduled = false;

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
    mirror.remember(item);
    unwritten.set(item.id, item);
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
      const store = state.storage ?? (await storageReady);
      await appendWithQuota(store, items);
    } catch (err) {
      // Storage is unusable (not a quota we could make room for): keep the items in memory,
      // where the next flush still sends them, and say so.
      const room = Math.max(0, SPILL_MAX_ITEMS - state.spill.length);
      state.spill.push(...items.slice(0, room));
      if (items.length > room) report.dropped('quota', items.slice(room).map((i) => i.id), String(err));
      state.lastError = `outbox storage failed: ${err instanceof Error ? err.message : String(err)}`;
      report.statusChanged();
    }
    // Stored, or held in `state.spill`: either way no longer this map's to track.
    for (const p of batch) unwritten.delete(p.item.id);
    for (const p of batch) p.resolve(p.item.id);
    onWritten();
  }

  async function appendWithQuota(store: OutboxStorage, items: readonly OutboxItem[]): Promise<void> {
    let result;
    try {
      result = await store.append(items, limits);
    } catch (err) {
      if (!(err instanceof QuotaError)) throw err;
      // Out of space: give up the oldest tenth (at least as many as we add) and try once more.
      const freed = await store.removeOldest(Math.max(items.length, Math.ceil(state.queuedEvents / 10)));
      report.dropped('quota', freed, err.message);
      result = await store.append(items, limits);
    }
    state.queuedEvents = result.count;
    state.queuedBytes = result.bytes;
    report.dropped('cap', result.dropped);
    report.statusChanged();
  }

  return {
    captureEvent(eventType: string, eventData: JsonObject = {}): Promise<EventId> {
      if (state.destroyed) return Promise.reject(new Error('telemetry is destroyed'));
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
      if (state.destroyed) return Promise.reject(new Error('telemetry is destroyed'));
      if (itemType !== 'progress' && itemType !== 'assessment') return Promise.reject(new TypeError(`invalid item type ${String(itemType)}`));
      const now = clock.now();
      return enqueue(itemType, itemData, nextId(), now);
    },
    written: () => writing,
    appendWithQuota,
    unwritten: () => [...unwritten.values()],
  };
}
