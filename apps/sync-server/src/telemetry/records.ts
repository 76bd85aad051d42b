import type { EventMetadata } from '@prepmate/crdt-model';
import type { TelemetryEventRecord } from '../storage/ports.js';
import { enrichTimes, trimUserAgent } from './enrich.js';

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

/** A validated event enriched with the server's view: times, flags, anonymised address. */
export function toEventRecord(input: EventInput, ctx: RecordContext): TelemetryEventRecord {
  const meta = input.metadata;
  const clientTimestamp = new Date(meta.clientTimestamp);
  const sentAt = meta.sentAt ? new Date(meta.sentAt) : ctx.sentAt;
  const times = enrichTimes(ctx.receivedAt, clientTimestamp, sentAt);
  // Copied key by key into a fresh object: the validated metadata is a loose object and
  // must not carry its identity (or prototype) into the store.
  let extra: Record<string, unknown> | null = null;
  for (const key of Object.keys(meta)) {
    if (KNOWN_METADATA.has(key)) continue;
    extra ??= {};
    extra[key] = (meta as Record<string, unknown>)[key];
  }
  return {
    userId: ctx.userId,
    eventType: input.eventType,
    eventData: input.eventData,
    metadata: {
      eventId: input.eventId,
      clientTimestamp: times.clientTimestamp,
      serverTimestamp: times.serverTimestamp,
      sentAt: times.sentAt,
      correctedTimestamp: times.correctedTimestamp,
      userAgent: trimUserAgent(meta.userAgent) ?? ctx.userAgent,
      ipAddress: ctx.ipAddress,
      ...(extra ? { extra } : {}),
      flags: times.flags,
    },
    status: 'completed',
    retryCount: 0,
    batchId: ctx.batchId,
    createdAt: ctx.receivedAt,
    updatedAt: ctx.receivedAt,
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
