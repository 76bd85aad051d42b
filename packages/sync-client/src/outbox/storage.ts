import type { EventId } from '../ids.js';
import type { AppendResult, OutboxItem, OutboxLimits, OutboxStats } from './types.js';

/**
 * The outbox's persistence port. Adapters: IndexedDB (browser), a JSON-lines journal file
 * (Node), memory (tests, or when nothing durable exists). All of them pass the one conformance
 * suite in `test/outbox-storage.conformance.ts`.
 *
 * Every method is atomic: several tabs may share one IndexedDB database and call these
 * concurrently, and the count/byte accounting must stay exact, so capping happens inside
 * `append` rather than as a separate read-then-delete by the caller.
 */
export interface OutboxStorage {
  /** `false` when items do not survive a restart (the memory adapter). Default true. */
  readonly durable?: boolean;
  /**
   * Adds items (an id already present is ignored, so a retried append is harmless), then drops
   * the oldest items until `limits` hold. Resolves once the items are durable as far as the
   * adapter can make them (IndexedDB: transaction complete; file: written and fsynced per policy).
   * Rejects with a {@link QuotaError} when the backing store is full.
   */
  append(items: readonly OutboxItem[], limits: OutboxLimits): Promise<AppendResult>;
  /** Oldest first: at most `maxItems` items, and at most `maxBytes` in total (but always at least one item when any exists). */
  peek(maxItems: number, maxBytes: number): Promise<OutboxItem[]>;
  /** Removes these ids; unknown ids are ignored. */
  remove(ids: readonly EventId[]): Promise<void>;
  /** Removes every item created before `createdBefore` (ms); returns their ids. */
  removeExpired(createdBefore: number): Promise<EventId[]>;
  /** Removes up to `count` oldest items (used to make room after a quota error); returns their ids. */
  removeOldest(count: number): Promise<EventId[]>;
  stats(): Promise<OutboxStats>;
  /** Releases handles; further calls reject. */
  close(): Promise<void>;
}

/** The backing store is out of space (IndexedDB `QuotaExceededError`, `ENOSPC`). */
export class QuotaError extends Error {
  override readonly name = 'QuotaError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Shared by adapters: choose which of `items` (oldest first) must go so that `stats` fits `limits`. */
export function overflowCount(items: readonly { size: number }[], stats: OutboxStats, limits: OutboxLimits): number {
  let { count, bytes } = stats;
  let drop = 0;
  while ((count > limits.maxItems || bytes > limits.maxBytes) && drop < items.length) {
    bytes -= items[drop]!.size;
    count--;
    drop++;
  }
  return drop;
}

/** UTF-8 length of a string without allocating an encoded copy (captureEvent is on the hot path). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
