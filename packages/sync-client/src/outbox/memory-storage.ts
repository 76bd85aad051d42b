import type { EventId } from '../ids.js';
import { overflowCount, type OutboxStorage } from './storage.js';
import type { AppendResult, OutboxItem, OutboxLimits, OutboxStats } from './types.js';

/**
 * Outbox storage in memory: for tests, and as the fallback where nothing durable exists.
 * Items survive only as long as the object; the telemetry status then shows `durable: false`.
 */
export function createMemoryOutboxStorage(): OutboxStorage {
  // Ids sort by capture time, but appends from several generators may interleave; a sorted
  // array keeps "oldest first" exact at the cost of an insertion that is O(n) only when out of order.
  let items: OutboxItem[] = [];
  const ids = new Set<string>();
  let bytes = 0;
  let closed = false;

  const check = (): void => {
    if (closed) throw new Error('outbox storage is closed');
  };
  const removeWhere = (pred: (item: OutboxItem) => boolean): EventId[] => {
    const gone: EventId[] = [];
    items = items.filter((item) => {
      if (!pred(item)) return true;
      gone.push(item.id);
      ids.delete(item.id);
      bytes -= item.size;
      return false;
    });
    return gone;
  };

  return {
    durable: false,
    async append(newItems: readonly OutboxItem[], limits: OutboxLimits): Promise<AppendResult> {
      check();
      for (const item of newItems) {
        if (ids.has(item.id)) continue;
        ids.add(item.id);
        bytes += item.size;
        const last = items[items.length - 1];
        if (!last || last.id < item.id) items.push(item);
        else {
          let i = items.length - 1;
          while (i > 0 && items[i - 1]!.id > item.id) i--;
          items.splice(i, 0, item);
        }
      }
      const drop = overflowCount(items, { count: items.length, bytes }, limits);
      if (drop === 0) return { count: items.length, bytes, dropped: [] };
      // Copy only when something is dropped: at 100 000 queued a copy per capture would dominate.
      const gone = items.splice(0, drop);
      for (const item of gone) {
        ids.delete(item.id);
        bytes -= item.size;
      }
      return { count: items.length, bytes, dropped: gone.map((i) => i.id) };
    },
    async peek(maxItems: number, maxBytes: number): Promise<OutboxItem[]> {
      check();
      const out: OutboxItem[] = [];
      let total = 0;
      for (const item of items) {
        if (out.length >= maxItems || (out.length > 0 && total + item.size > maxBytes)) break;
        out.push(item);
        total += item.size;
      }
      return out;
    },
    async remove(toRemove: readonly EventId[]): Promise<void> {
      check();
      const set = new Set<string>(toRemove);
      removeWhere((item) => set.has(item.id));
    },
    async removeExpired(createdBefore: number): Promise<EventId[]> {
      check();
      return removeWhere((item) => item.createdAt < createdBefore);
    },
    async removeOldest(count: number): Promise<EventId[]> {
      check();
      const victims = new Set(items.slice(0, Math.max(0, count)).map((i) => i.id));
      return removeWhere((item) => victims.has(item.id));
    },
    async stats(): Promise<OutboxStats> {
      check();
      return { count: items.length, bytes };
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}
