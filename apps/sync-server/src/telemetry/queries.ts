import { z } from 'zod';
import { eventTypeSchema, isoDateTimeSchema, validationDetails } from '@prepmate/crdt-model';
import { ApiError } from '../errors.js';
import { eventToJson } from './records.js';
import type { TelemetryDeps } from './types.js';

const eventQuerySchema = z.object({
  since: isoDateTimeSchema.optional(),
  eventType: eventTypeSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().min(1).max(1024).optional(),
});

export interface EventListing {
  readonly events: readonly Record<string, unknown>[];
  readonly nextCursor: string | null;
}

/** `GET /telemetry/events`: query strings validated here, so the store gets typed values only. */
export async function listEvents(deps: Pick<TelemetryDeps, 'store'>, userId: string, query: Record<string, unknown>): Promise<EventListing> {
  const parsed = eventQuerySchema.safeParse(query);
  if (!parsed.success) {
    throw new ApiError('VALIDATION_FAILED', 'Invalid query parameters', validationDetails(parsed.error).map((d) => ({ path: d.path, message: d.message })));
  }
  const q = parsed.data;
  // A tampered cursor is rejected by the store (InvalidCursorError); the error middleware answers 400.
  const page = await deps.store.telemetry.listEvents(userId, {
    limit: q.limit,
    ...(q.since ? { since: new Date(q.since) } : {}),
    ...(q.eventType ? { eventType: q.eventType } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return { events: page.events.map(eventToJson), nextCursor: page.nextCursor };
}
