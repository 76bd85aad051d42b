import type { BatchItem } from '@prepmate/crdt-model';
import type { ItemValidation } from './parse.js';

/** Worker answer for a valid item whose parsed form is its input unchanged. */
export const SAME_AS_INPUT = 1;
export type WorkerResult = ItemValidation | typeof SAME_AS_INPUT;

const EVENT_KEYS: ReadonlySet<string> = new Set(['eventId', 'eventType', 'eventData', 'metadata']);

/**
 * True for an `event` item whose `itemData` has its own `eventId` and only the event schema's keys. For such an item
 * (once it validated) the parse result equals the input: `eventItemSchema` strips only unknown
 * top-level keys, `eventData` is returned as is, loose `metadata` keeps every key, and nothing
 * is transformed. Progress and assessment items are always copied (their strings are trimmed).
 */
export function isVerbatimEvent(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null || (raw as { itemType?: unknown }).itemType !== 'event') return false;
  const data = (raw as { itemData?: unknown }).itemData;
  if (typeof data !== 'object' || data === null) return false;
  // An id given only in `metadata` is lifted to `itemData.eventId` by validation: not verbatim.
  if (typeof (data as { eventId?: unknown }).eventId !== 'string') return false;
  for (const key of Object.keys(data)) if (!EVENT_KEYS.has(key)) return false;
  return true;
}

/** The main thread's view of a worker answer for `raw`. */
export function resultOf(raw: unknown, result: WorkerResult): ItemValidation {
  if (result !== SAME_AS_INPUT) return result;
  return { ok: true, item: { itemType: 'event', itemData: (raw as { itemData: BatchItem['itemData'] }).itemData } as BatchItem };
}
