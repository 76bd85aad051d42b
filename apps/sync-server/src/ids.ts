/**
 * Branded ids on the server: a plain string cannot be passed where a learner id, a document name
 * or an event id is expected, so one cannot be mistaken for another. `UserId` and `DocName` are
 * the crdt-model's (its schemas brand what they parse); brands are given where a value is
 * validated (token verification, request parsing) or read back from the store, which only holds
 * validated values.
 */
import type { DocName, UserId } from '@prepmate/crdt-model';

export type { DocName, UserId };

declare const eventIdBrand: unique symbol;
/** A telemetry event's client-generated id. */
export type EventId = string & { readonly [eventIdBrand]: 'EventId' };

/** For a value already validated (schemas, tokens) or read back from the store. */
export const asUserId = (value: string): UserId => value as UserId;
export const asDocName = (value: string): DocName => value as DocName;
export const asEventId = (value: string): EventId => value as EventId;

/** A learner's main document is named by their id. */
export const learnerDocName = (userId: UserId): DocName => asDocName(userId);
