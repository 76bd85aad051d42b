import type { EventId } from '../../ids.js';
import type { LifecycleSignal } from '../../ports.js';
import type { BatchTransport } from '../transport.js';
import type { OutboxItem } from '../types.js';
import { applyResults, emptySendResult, wire, WIRE_OVERHEAD_PER_BATCH, WIRE_OVERHEAD_PER_ITEM } from './batch-results.js';
import type { Sender } from './sender.js';
import type { TelemetryState } from './state.js';
import type { StatusReporter } from './status.js';
import type { UnsentMirror } from './unsent-mirror.js';

export interface UnloadDeps {
  readonly state: TelemetryState;
  readonly transport: BatchTransport;
  readonly batchSize: number;
  /** Body limit of one keepalive request. */
  readonly keepaliveChunkBytes: number;
  readonly mirror: UnsentMirror;
  readonly sender: Pick<Sender, 'inFlight' | 'settle'>;
  readonly report: Pick<StatusReporter, 'refreshStats'>;
}

/**
 * The lifecycle listener: when the page may be going away, hands this instance's unsent items
 * (from memory, synchronously) to keepalive requests, which the browser lets outlive the page.
 */
export function createUnloadFlush({ state, transport, batchSize, keepaliveChunkBytes, mirror, sender, report }: UnloadDeps): (signal: LifecycleSignal) => void {
  /** Items of keepalive requests not answered yet. */
  const unloadInFlight = new Set<EventId>();

  return function onLifecycle(signal: LifecycleSignal): void {
    if (state.destroyed || state.learnerErased || !transport.sendNow) return;
    // Hidden, the page lives on and its batch request in flight will complete: do not send those
    // twice. On pagehide the browser cancels ordinary requests, so they go again with keepalive
    // (the server de-duplicates by eventId if the first one made it after all).
    const skip = (id: EventId): boolean => unloadInFlight.has(id) || (signal === 'hidden' && sender.inFlight.has(id));
    const items = [...mirror.values(), ...state.spill].filter((i) => !skip(i.id));
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
      if (!part || state.destroyed) return;
      const pending = transport.sendNow?.(wire(part));
      if (!pending) return;
      for (const item of part) unloadInFlight.add(item.id);
      void pending
        .then(async (outcome) => {
          if (outcome.kind !== 'results') return;
          const res = emptySendResult();
          applyResults(part, outcome.results, res);
          // Only confirmed items are deleted; rejected ones go through the normal path later.
          res.rejected = [];
          if (state.storage && !state.destroyed) {
            await sender.settle(state.storage, res);
            await report.refreshStats(state.storage);
          }
          sendChunk(i + 1);
        })
        .catch(() => undefined)
        .finally(() => {
          for (const item of part) unloadInFlight.delete(item.id);
        });
    };
    sendChunk(0);
  };
}
