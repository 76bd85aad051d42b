import { LIMITS, batchItemSchema, validationDetails } from '@prepmate/crdt-model';
import type { ItemType, JsonObject } from './types.js';

/** Checks an item before it is queued; returns a message naming every problem, or `null`. */
export type ItemValidator = (itemType: ItemType, itemData: JsonObject) => string | null;

/**
 * The server's own schema (crdt-model's `batchItemSchema`, the same limits): an item the server
 * would reject for good is refused at capture, with the reason, instead of sitting in the outbox
 * until it is sent and then dropped.
 */
export const validateBatchItem: ItemValidator = (itemType, itemData) => {
  const parsed = batchItemSchema.safeParse({ itemType, itemData });
  if (parsed.success) return null;
  return validationDetails(parsed.error)
    .map((d) => `${d.path.replace(/^itemData\.?/, '') || itemType}: ${d.message}`)
    .join('; ');
};

/** `metadata.userAgent` longer than the server accepts is cut, not refused: it is diagnostics. */
export const MAX_USER_AGENT_LENGTH = LIMITS.maxUserAgentLength;
