import type { RescueStore } from '../../ports.js';
import { createRescueSlot } from '../../rescue-slot.js';
import type { OutboxItem } from '../types.js';

/** Most JSON one instance writes to the rescue store; `localStorage` holds about 5 MB per origin. */
const RESCUE_MAX_CHARS = 1024 * 1024;
const PREFIX = 'prepmate-outbox-rescue:';

export interface RescueDeps {
  readonly store: RescueStore;
  /** The outbox scope (the user): one user's rescued captures never reach another's outbox. */
  readonly scope: string;
  /** This instance, so that two tabs going away at once do not overwrite each other. */
  readonly instanceId: string;
  /** Captures not yet durable in the outbox storage, oldest first. */
  readonly unwritten: () => OutboxItem[];
}

/**
 * The last resort for captures when the page goes away. A capture is written to IndexedDB at
 * once, but that write needs the page to live a few milliseconds more: in Chromium, events
 * captured offline just before their tab closed were lost (3 of 10 closes lost 4 of 5 events). On
 * `hidden` and `pagehide` the captures not yet durable are copied, synchronously, into the rescue
 * store (`localStorage`); the next start in any tab of this user appends them to the outbox. Ids
 * already there are ignored and the server de-duplicates by `eventId`, so a rescued event that
 * was delivered after all is still stored once.
 */
export interface Rescue {
  /** Copies the unwritten captures into the store (or removes this instance's copy when there are none). */
  save(): void;
  /** Once every capture is durable: this instance's copy is no longer needed. */
  clearIfWritten(): void;
  /** What earlier pages of this scope left; `done()` removes it once it is safely stored. */
  pending(): { items: OutboxItem[]; done(): void };
}

export function createRescue({ store, scope, instanceId, unwritten }: RescueDeps): Rescue {
  const slot = createRescueSlot(store, `${PREFIX}${encodeURIComponent(scope)}:`, instanceId);
  return {
    save() {
      const items = unwritten();
      if (items.length === 0) return slot.clear();
      let json = JSON.stringify(items);
      // Over the cap: keep the oldest that fit (they have waited longest).
      for (let n = items.length; json.length > RESCUE_MAX_CHARS && n > 1; ) {
        n = Math.max(1, Math.floor(n / 2));
        json = JSON.stringify(items.slice(0, n));
      }
      slot.save(json);
    },
    clearIfWritten() {
      if (unwritten().length === 0) slot.clear();
    },
    pending() {
      const left = slot.leftovers();
      const items: OutboxItem[] = [];
      for (const { value } of left) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(value);
        } catch {
          continue; // not ours to read; removed with the rest
        }
        if (Array.isArray(parsed)) for (const v of parsed) if (isOutboxItem(v)) items.push(v);
      }
      return { items, done: () => left.forEach(({ key }) => slot.remove(key)) };
    },
  };
}

/** The store is readable by any script of the origin: take only what has the shape we wrote. */
function isOutboxItem(value: unknown): value is OutboxItem {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['id'] === 'string' &&
    (v['itemType'] === 'event' || v['itemType'] === 'progress' || v['itemType'] === 'assessment') &&
    typeof v['itemData'] === 'object' && v['itemData'] !== null && !Array.isArray(v['itemData']) &&
    typeof v['createdAt'] === 'number' &&
    typeof v['size'] === 'number'
  );
}
