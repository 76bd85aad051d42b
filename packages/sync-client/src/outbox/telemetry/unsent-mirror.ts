import type { EventId } from '../../ids.js';
import type { OutboxItem } from '../types.js';

/** Bound of the mirror; past it the oldest items are only in storage. */
const MIRROR_MAX_BYTES = 256 * 1024;

/**
 * In-memory copy of this instance's unsent items, for the synchronous unload send: on `pagehide`
 * the keepalive requests must start before the handler returns, too soon to read them back from
 * storage.
 */
export interface UnsentMirror {
  remember(item: OutboxItem): void;
  /** Sent, dropped, or sent by another tab: no longer this instance's to send on unload. */
  forget(ids: readonly EventId[]): void;
  /** Oldest first (insertion order). */
  values(): Iterable<OutboxItem>;
}

export function createUnsentMirror(): UnsentMirror {
  const mirror = new Map<EventId, OutboxItem>();
  let mirrorBytes = 0;
  return {
    remember(item) {
      mirror.set(item.id, item);
      mirrorBytes += item.size;
      // Oldest out first; they stay in storage, only the unload fast path loses sight of them.
      for (const [id, old] of mirror) {
        if (mirrorBytes <= MIRROR_MAX_BYTES) break;
        mirror.delete(id);
        mirrorBytes -= old.size;
      }
    },
    forget(ids) {
      for (const id of ids) {
        const item = mirror.get(id);
        if (item) {
          mirror.delete(id);
          mirrorBytes -= item.size;
        }
      }
    },
    values: () => mirror.values(),
  };
}
