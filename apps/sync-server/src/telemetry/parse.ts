import { z } from 'zod';
import {
  LIMITS,
  assertNotInFuture,
  assessmentSchema,
  eventItemFastPath,
  eventItemSchema,
  idSchema,
  progressSchema,
  inspectJson,
  isoDateTimeSchema,
  trackRequestSchema,
  validationDetails,
  type BatchItem,
  type TrackRequest,
} from '@prepmate/crdt-model';
import { ApiError } from '../errors.js';

/**
 * Prototype-pollution keys and runaway nesting are refused on the raw parsed JSON, before any
 * schema copies it: a zod object parser that copies unknown keys with `out[key] = value` would
 * turn an own `__proto__` property into the copy's prototype, where later checks cannot see it.
 * The margin covers the levels above `eventData` (item → itemData → eventData).
 */
const RAW_DEPTH = LIMITS.maxJsonDepth + 3;

const FORBIDDEN: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * True when `value` has a forbidden key or nests deeper than `RAW_DEPTH`. Allocation-free on the
 * common clean path (this runs for every item of every batch); the detailed walk with paths
 * runs only for the rare bad item.
 */
function needsInspection(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth >= RAW_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (needsInspection(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (FORBIDDEN.has(key)) return true;
    if (needsInspection((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

function rawProblems(value: unknown): { path: string; message: string }[] {
  if (!needsInspection(value, 0)) return [];
  return inspectJson(value, RAW_DEPTH).map((p) => ({ path: p.path.map(String).join('.'), message: p.message }));
}

function details(error: z.ZodError): { path: string; message: string }[] {
  return validationDetails(error).map((d) => ({ path: d.path, message: d.message }));
}

/** Parses the body of `POST /telemetry/track`; 400 with field paths otherwise. */
export function parseTrackBody(body: unknown): TrackRequest {
  const problems = rawProblems(body);
  if (problems.length > 0) throw new ApiError('VALIDATION_FAILED', 'The event is not valid', problems);
  const parsed = trackRequestSchema.safeParse(body);
  if (!parsed.success) throw new ApiError('VALIDATION_FAILED', 'The event is not valid', details(parsed.error));
  return parsed.data;
}

/**
 * The batch envelope only: items stay unknown here and are validated one by one, so that one
 * bad item is rejected on its own instead of failing the whole batch.
 */
export function makeBatchEnvelopeSchema(maxItems: number) {
  return z.object({
    batchId: idSchema,
    sentAt: isoDateTimeSchema.optional(),
    items: z.array(z.unknown()).min(1).max(maxItems),
  });
}
export type BatchEnvelope = z.output<ReturnType<typeof makeBatchEnvelopeSchema>>;

export function parseBatchEnvelope(schema: ReturnType<typeof makeBatchEnvelopeSchema>, body: unknown): BatchEnvelope {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('VALIDATION_FAILED', 'The batch must be a JSON object', [{ path: '', message: 'expected an object' }]);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ApiError('VALIDATION_FAILED', 'The batch is not valid', details(parsed.error));
  return parsed.data;
}

/**
 * Why one batch item was refused (its entry in the batch answer). `QUOTA_EXCEEDED`: the item
 * would change a learner document that has reached `SYNC_MAX_DOCUMENT_BYTES`; nothing of it is
 * stored, and a client may keep it and send it again later.
 */
export interface ItemError {
  readonly code: 'VALIDATION_FAILED' | 'FORBIDDEN' | 'QUOTA_EXCEEDED';
  readonly message: string;
  readonly details?: readonly { readonly path: string; readonly message: string }[];
}

export type ItemValidation = { readonly ok: true; readonly item: BatchItem } | { readonly ok: false; readonly error: ItemError };

const itemDataSchemas = { event: eventItemSchema, progress: progressSchema, assessment: assessmentSchema } as const;
const ITEM_TYPES = Object.keys(itemDataSchemas) as (keyof typeof itemDataSchemas)[];

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An event item's id may sit in `itemData.eventId` (the SDK) or in `itemData.metadata.eventId`
 * (where `/track` takes it): one from `metadata` is lifted to `itemData.eventId`. Given in both
 * places, they must agree — two ids for one event would make deduplication depend on which one
 * a reader picks.
 */
function placeEventId(itemData: unknown): { ok: true; itemData: unknown } | { ok: false; error: ItemError } {
  if (!isPlainObject(itemData) || !isPlainObject(itemData['metadata'])) return { ok: true, itemData };
  const inMetadata = itemData['metadata']['eventId'];
  if (inMetadata === undefined) return { ok: true, itemData };
  const top = itemData['eventId'];
  if (top === undefined) return { ok: true, itemData: { ...itemData, eventId: inMetadata } };
  if (top === inMetadata) return { ok: true, itemData };
  return {
    ok: false,
    error: {
      code: 'VALIDATION_FAILED',
      message: 'The item is not valid',
      details: [{ path: 'itemData.metadata.eventId', message: 'differs from itemData.eventId; give the event id once, or the same id in both places' }],
    },
  };
}

/**
 * One batch item, with the crdt-model's schema of its `itemType` (what `batchItemSchema` does,
 * dispatched here directly: this runs for every item of every batch, and the union's own
 * dispatch is measurable at 200 000 items).
 */
export function validateItem(raw: unknown): ItemValidation {
  const problems = rawProblems(raw);
  if (problems.length > 0) return { ok: false, error: { code: 'VALIDATION_FAILED', message: 'The item is not valid', details: problems } };
  const itemType = typeof raw === 'object' && raw !== null ? (raw as { itemType?: unknown }).itemType : undefined;
  if (typeof itemType !== 'string' || !Object.hasOwn(itemDataSchemas, itemType)) {
    return {
      ok: false,
      error: { code: 'VALIDATION_FAILED', message: 'The item is not valid', details: [{ path: 'itemType', message: `expected one of ${ITEM_TYPES.join(', ')}` }] },
    };
  }
  const type = itemType as keyof typeof itemDataSchemas;
  let itemData = (raw as { itemData?: unknown }).itemData;
  if (type === 'event') {
    const placed = placeEventId(itemData);
    if (!placed.ok) return { ok: false, error: placed.error };
    itemData = placed.itemData;
    // The common valid event without the schema walk; anything unusual goes to the schema below.
    const fast = eventItemFastPath(itemData);
    if (fast) return { ok: true, item: { itemType: 'event', itemData: fast } };
  }
  const parsed = itemDataSchemas[type].safeParse(itemData);
  if (!parsed.success) {
    const itemDetails = details(parsed.error).map((d) => ({ path: d.path ? `itemData.${d.path}` : 'itemData', message: d.message }));
    return { ok: false, error: { code: 'VALIDATION_FAILED', message: 'The item is not valid', details: itemDetails } };
  }
  // The app refuses a session dated in the future; a REST client gets the same answer, or one
  // such session would become every device's "latest" and stretch the charts to that date.
  if (type === 'assessment' && futureDated((parsed.data as { completedAt: string }).completedAt)) {
    return {
      ok: false,
      error: { code: 'VALIDATION_FAILED', message: 'The item is not valid', details: [{ path: 'itemData.completedAt', message: `a session cannot be dated more than ${LIMITS.maxFutureSkewMs / 60_000} minutes in the future` }] },
    };
  }
  return { ok: true, item: { itemType: type, itemData: parsed.data } as BatchItem };
}

function futureDated(completedAt: string): boolean {
  try {
    assertNotInFuture(completedAt);
    return false;
  } catch {
    return true;
  }
}

/** The `userId` field of a raw item, if any (service tokens act for learners per item). */
export function requestedUserId(raw: unknown): unknown {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as { userId?: unknown }).userId : undefined;
}
