import { isoToMs, type EventMetadata } from '@prepmate/crdt-model';
import type { TelemetryEventRecord } from '../storage/ports.js';
import { FUTURE_TOLERANCE_MS, SKEW_TOLERANCE_MS, trimUserAgent, type TimestampFlag } from './enrich.js';

export interface EventInput {
  readonly eventId: string;
  readonly eventType: string;
  readonly eventData: Record<string, unknown>;
  readonly metadata: EventMetadata;
}

export interface RecordContext {
  readonly userId: string;
  readonly receivedAt: Date;
  /** Already anonymised (once per request, not per event). */
  readonly ipAddress: string | null;
  /** Already trimmed; used when the event's metadata has none. */
  readonly userAgent: string | null;
  readonly batchId: string | null;
  /** Batch-level `sentAt`, used when the event's metadata has none. */
  readonly sentAt: Date | null;
}

const KNOWN_METADATA = new Set(['clientTimestamp', 'sentAt', 'userAgent', 'eventId']);

/** The `flags` of an event with none (nearly all): one frozen array shared, not one per event. */
const NO_FLAGS: readonly TimestampFlag[] = Object.freeze([]);

/**
 * A validated event enriched with the server's view: times, flags, anonymised address
 * (`enrichTimes`'s rules, written out here so that an event costs only its record, its metadata
 * and its two Dates: this runs for every event of every batch).
 */
export function toEventRecord(input: EventInput, ctx: RecordContext): TelemetryEventRecord {
  const meta = input.metadata;
  const receivedAt = ctx.receivedAt;
  const received = receivedAt.getTime();
  // Both times passed the ISO date-time schema, which is what `isoToMs` reads (the usual form
  // from its digits: `Date`'s string parser was most of an event's enrichment).
  const clientTimestamp = new Date(isoToMs(meta.clientTimestamp));
  const client = clientTimestamp.getTime();
  const sentAt = meta.sentAt ? new Date(isoToMs(meta.sentAt)) : ctx.sentAt;
  // `receivedAt − (sentAt − clientTimestamp)`: the event time on the server's clock.
  const correctedTimestamp = sentAt ? new Date(received - (sentAt.getTime() - client)) : null;
  const future = client - received > FUTURE_TOLERANCE_MS;
  // Without `sentAt` an old clientTimestamp is indistinguishable from an offline device
  // catching up, so skew is judged only on the send time.
  const skew = !!sentAt && Math.abs(sentAt.getTime() - received) > SKEW_TOLERANCE_MS;
  let flags: readonly TimestampFlag[] = NO_FLAGS;
  if (future || skew) {
    const list: TimestampFlag[] = [];
    if (future) list.push('future_timestamp');
    if (skew) list.push('clock_skew');
    flags = list;
  }
  // Copied key by key into a fresh object: the validated metadata is a loose object and
  // must not carry its identity (or prototype) into the store.
  let extra: Record<string, unknown> | null = null;
  for (const key in meta) {
    if (!Object.hasOwn(meta, key) || KNOWN_METADATA.has(key)) continue;
    extra ??= {};
    extra[key] = (meta as Record<string, unknown>)[key];
  }
  return {
    userId: ctx.userId,
    eventType: input.eventType,
    eventData: input.eventData,
    metadata: {
      eventId: input.eventId,
      clientTimestamp,
      serverTimestamp: receivedAt,
      sentAt,
      correctedTimestamp,
      userAgent: trimUserAgent(meta.userAgent) ?? ctx.userAgent,
      ipAddress: ctx.ipAddress,
      ...(extra ? { extra } : {}),
      flags,
    },
    status: 'completed',
    retryCount: 0,
    batchId: ctx.batchId,
    createdAt: receivedAt,
    updatedAt: receivedAt,
  };
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** The JSON shape of a stored event in API answers and exports. */
export function eventToJson(record: TelemetryEventRecord): Record<string, unknown> {
  const m = record.metadata;
  return {
    eventId: m.eventId,
    eventType: record.eventType,
    eventData: record.eventData,
    metadata: {
      eventId: m.eventId,
      clientTimestamp: iso(m.clientTimestamp),
      serverTimestamp: iso(m.serverTimestamp),
      sentAt: iso(m.sentAt),
      correctedTimestamp: iso(m.correctedTimestamp),
      userAgent: m.userAgent ?? null,
      ipAddress: m.ipAddress ?? null,
      flags: m.flags ?? [],
      ...(m.extra ? { extra: m.extra } : {}),
    },
    status: record.status,
    batchId: record.batchId,
    createdAt: iso(record.createdAt),
  };
}
