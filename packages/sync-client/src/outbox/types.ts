import type { EventId } from '../ids.js';

/** A JSON value as it travels in a request body. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object (event data, item data). */
export type JsonObject = { [key: string]: JsonValue };

/** The kinds of item the batch endpoint accepts (docs/api.md). */
export type ItemType = 'event' | 'progress' | 'assessment';

/**
 * One queued item, exactly as it is stored. `itemData` is the `itemData` of the batch request,
 * fixed at capture (eventId, clientTimestamp); only `metadata.sentAt` is added on each send.
 */
export interface OutboxItem {
  /** Primary key; for events it is also `itemData.eventId`. Sorting ids sorts by capture time. */
  readonly id: EventId;
  readonly itemType: ItemType;
  readonly itemData: JsonObject;
  /** Capture time, ms since epoch; items older than `maxEventAgeMs` expire. */
  readonly createdAt: number;
  /** UTF-8 size of `JSON.stringify(itemData)`, bytes; counted against the byte cap and the batch size. */
  readonly size: number;
}

/** The outbox's size bounds. Oldest items are dropped first when either is exceeded. */
export interface OutboxLimits {
  /** Largest number of queued items. */
  readonly maxItems: number;
  /** Largest total `size` of queued items, bytes. */
  readonly maxBytes: number;
}

/** Count and total size of what is queued. */
export interface OutboxStats {
  readonly count: number;
  readonly bytes: number;
}

/** What an append did. */
export interface AppendResult extends OutboxStats {
  /** Ids of the oldest items removed to stay within the limits (may include just-appended ones). */
  readonly dropped: readonly EventId[];
}
