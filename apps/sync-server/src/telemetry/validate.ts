import { z } from 'zod';
import {
  LIMITS,
  batchItemSchema,
  idSchema,
  inspectJson,
  isoDateTimeSchema,
  trackRequestSchema,
  validationDetails,
  type BatchItem,
  type TrackRequest,
} from '@prepmate/crdt-model';
import { ApiError } from '../errors.js';
import type { ItemError } from './types.js';

/**
 * Prototype-pollution keys and runaway nesting are refused on the raw parsed JSON, before any
 * schema copies it: a zod object parser that copies unknown keys with `out[key] = value` would
 * turn an own `__proto__` property into the copy's prototype, where later checks cannot see it.
 * The margin covers the levels above `eventData` (item → itemData → eventData).
 */
const RAW_DEPTH = LIMITS.maxJsonDepth + 3;

function rawProblems(value: unknown): { path: string; message: string }[] {
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

export type ItemValidation = { readonly ok: true; readonly item: BatchItem } | { readonly ok: false; readonly error: ItemError };

/** One batch item, with the crdt-model's schema of its `itemType`. */
export function validateItem(raw: unknown): ItemValidation {
  const problems = rawProblems(raw);
  if (problems.length > 0) return { ok: false, error: { code: 'VALIDATION_FAILED', message: 'The item is not valid', details: problems } };
  const parsed = batchItemSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: { code: 'VALIDATION_FAILED', message: 'The item is not valid', details: details(parsed.error) } };
  return { ok: true, item: parsed.data };
}

/** The `userId` field of a raw item, if any (service tokens act for learners per item). */
export function requestedUserId(raw: unknown): unknown {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as { userId?: unknown }).userId : undefined;
}
