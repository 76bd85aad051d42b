/**
 * zod schemas shared by the server (validation of REST bodies) and the SDK (validation before
 * anything enters the outbox). Every limit comes from {@link LIMITS}; every error is a zod issue
 * with a field path, which the server turns into the `details` of a 400 response.
 */
import { z } from 'zod';
import { LIMITS } from './limits.js';
import { FORBIDDEN_KEYS, inspectJson, jsonByteLength, type JsonObject } from './json.js';

const ID_CHARS = /^[A-Za-z0-9_-]+$/;
const GENERIC_ID_CHARS = /^[A-Za-z0-9_.:-]+$/;
const EVENT_TYPE_CHARS = /^[a-z0-9_.:-]+$/;
/** Ids become object keys (documents, derived records); these would reach a prototype. */
const notForbidden = (s: string): boolean => !FORBIDDEN_KEYS.has(s);
const RESERVED = 'reserved name';

/** A learner's id (JWT `sub`): 1–128 characters of `[A-Za-z0-9_-]`. Branded: parse once at the boundary. */
export const userIdSchema = z
  .string()
  .min(1)
  .max(LIMITS.maxIdLength)
  .regex(ID_CHARS, 'only letters, digits, "_" and "-"')
  .refine(notForbidden, RESERVED)
  .brand<'UserId'>();
/** A parsed {@link userIdSchema}. */
export type UserId = z.output<typeof userIdSchema>;

/**
 * A document name: `<userId>` or `<userId>/<name>`, `<name>` with the userId charset and at most
 * 128 characters. Branded so that only parsed names reach the document manager.
 */
export const docNameSchema = z
  .string()
  .min(1)
  .max(LIMITS.maxIdLength + 1 + LIMITS.maxDocNameLength)
  .refine((s) => ownerOfDocName(s) !== null, 'must be "<userId>" or "<userId>/<name>" of [A-Za-z0-9_-]')
  .brand<'DocName'>();
/** A parsed {@link docNameSchema}. */
export type DocName = z.output<typeof docNameSchema>;

/**
 * The userId that owns a document name, or `null` if the name is malformed. Authorization is
 * `ownerOfDocName(name) === token.sub`.
 */
export function ownerOfDocName(docName: string): string | null {
  const slash = docName.indexOf('/');
  const owner = slash === -1 ? docName : docName.slice(0, slash);
  if (owner.length === 0 || owner.length > LIMITS.maxIdLength || !ID_CHARS.test(owner) || FORBIDDEN_KEYS.has(owner)) return null;
  if (slash !== -1) {
    const name = docName.slice(slash + 1);
    if (name.length === 0 || name.length > LIMITS.maxDocNameLength || !ID_CHARS.test(name)) return null;
  }
  return owner;
}

/** Ids of facts and requests (assessmentId, topicId, eventId, batchId): 1–128 of `[A-Za-z0-9_.:-]`. */
export const idSchema = z
  .string()
  .min(1)
  .max(LIMITS.maxIdLength)
  .regex(GENERIC_ID_CHARS, 'only letters, digits, "_", ".", ":" and "-"')
  .refine(notForbidden, RESERVED);

/** An ISO-8601 date-time with `Z` or a numeric offset, e.g. `2025-01-31T10:00:00.000Z`. */
export const isoDateTimeSchema = z.iso.datetime({ offset: true });

/** An event type: 1–64 characters of `[a-z0-9_.:-]`. */
export const eventTypeSchema = z
  .string()
  .min(1)
  .max(LIMITS.maxEventTypeLength)
  .regex(EVENT_TYPE_CHARS, 'only lowercase letters, digits, "_", ".", ":" and "-"');

/** Adds one zod issue per JSON problem, so the client sees the exact path of each. */
function checkJsonObject(
  value: unknown,
  ctx: z.RefinementCtx,
  maxBytes: number,
  what: string,
): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: `${what} must be a JSON object` });
    return;
  }
  const problems = inspectJson(value, LIMITS.maxJsonDepth);
  for (const p of problems) ctx.addIssue({ code: 'custom', message: p.message, path: p.path });
  if (problems.length > 0) return;
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short text is within the limit without being
  // encoded: this runs for every ingested event, and encoding was half of its cost.
  if ((JSON.stringify(value) ?? '').length * 3 <= maxBytes) return;
  const bytes = jsonByteLength(value);
  if (bytes > maxBytes) {
    ctx.addIssue({ code: 'too_big', maximum: maxBytes, origin: 'string', inclusive: true, message: `${what} is ${bytes} bytes serialized; at most ${maxBytes}` });
  }
}

/**
 * `eventData`: a plain JSON object of at most 32 KiB serialized, without `__proto__`,
 * `constructor` or `prototype` keys at any depth.
 */
export const eventDataSchema = z
  .custom<JsonObject>(() => true)
  .superRefine((value, ctx) => checkJsonObject(value, ctx, LIMITS.maxEventDataBytes, 'eventData'));

/**
 * Event metadata. Known fields are checked; a few extra small fields pass through (total
 * metadata at most 4 KiB), because SDK versions add diagnostics the server only stores.
 */
export const eventMetadataSchema = z
  .looseObject({
    clientTimestamp: isoDateTimeSchema,
    sentAt: isoDateTimeSchema.optional(),
    userAgent: z.string().max(LIMITS.maxUserAgentLength).optional(),
    eventId: idSchema.optional(),
  })
  .superRefine((value, ctx) => checkJsonObject(value, ctx, LIMITS.maxMetadataBytes, 'metadata'));
/** Parsed event metadata. */
export type EventMetadata = z.output<typeof eventMetadataSchema>;

/** Body of `POST /api/telemetry/track`. */
export const trackRequestSchema = z.object({
  eventType: eventTypeSchema,
  eventData: eventDataSchema,
  metadata: eventMetadataSchema,
});
/** A parsed track request. */
export type TrackRequest = z.output<typeof trackRequestSchema>;

/** An `event` batch item: a track request with a required, client-made `eventId`. */
export const eventItemSchema = z.object({
  eventId: idSchema,
  eventType: eventTypeSchema,
  eventData: eventDataSchema,
  metadata: eventMetadataSchema,
});
/** A parsed event item. */
export type EventItem = z.output<typeof eventItemSchema>;

const DATE_TIME = isoDateTimeSchema._zod.def.pattern;
const isDateTime = (v: unknown): v is string => typeof v === 'string' && (DATE_TIME === undefined || DATE_TIME.test(v));
const isId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= LIMITS.maxIdLength && GENERIC_ID_CHARS.test(v) && notForbidden(v);

/** The longest text `JSON.stringify` writes for a finite number (`-0.000001` and 17 digits is 26). */
const MAX_NUMBER_TEXT = 32;
/** The longest text `JSON.stringify` writes for one UTF-16 code unit of a string (`\uXXXX`). */
const MAX_CHAR_TEXT = 6;

/**
 * -1 unless `inspectJson(value, maxDepth)` would find nothing (plain objects and arrays of
 * strings, booleans, null and finite numbers, no forbidden key); else a length that
 * `JSON.stringify(value)` cannot exceed, found on the same walk without serialising.
 */
function cleanJsonBound(value: unknown, depthLeft: number): number {
  if (value === null) return 4;
  if (typeof value === 'string') return 2 + MAX_CHAR_TEXT * value.length;
  if (typeof value === 'boolean') return 5;
  if (typeof value === 'number') return Number.isFinite(value) ? MAX_NUMBER_TEXT : -1;
  if (typeof value !== 'object' || depthLeft <= 0) return -1;
  let bound = 2;
  if (Array.isArray(value)) {
    for (const item of value) {
      const b = cleanJsonBound(item, depthLeft - 1);
      if (b < 0) return -1;
      bound += b + 1;
    }
    return bound;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return -1;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return -1;
    const b = cleanJsonBound((value as Record<string, unknown>)[key], depthLeft - 1);
    if (b < 0) return -1;
    // `"key":value,`
    bound += 4 + MAX_CHAR_TEXT * key.length + b;
  }
  return bound;
}

/**
 * A plain JSON object that `checkJsonObject` accepts without needing to encode it. The size is
 * judged on the walk's bound when that is small enough (the usual event: no serialising at all),
 * else on the serialised text, as `checkJsonObject` judges it first.
 */
function isSmallJsonObject(value: unknown, maxBytes: number): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const bound = cleanJsonBound(value, LIMITS.maxJsonDepth);
  if (bound < 0) return false;
  return bound * 3 <= maxBytes || (JSON.stringify(value) ?? '').length * 3 <= maxBytes;
}

/**
 * {@link eventItemSchema}'s verdict on the common, valid event item, reached without zod
 * (ingestion checks every item of every batch; the schema walk was most of a batch's validation
 * time). Answers the object the schema would answer, or `null` whenever anything is unusual —
 * an invalid item, or a valid one near a limit — and the caller then asks the schema, which
 * decides and words the error. So it can accept only what the schema accepts.
 */
export function eventItemFastPath(value: unknown): EventItem | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { eventId, eventType, eventData, metadata } = value as Record<string, unknown>;
  if (!isId(eventId)) return null;
  if (typeof eventType !== 'string' || eventType.length < 1 || eventType.length > LIMITS.maxEventTypeLength || !EVENT_TYPE_CHARS.test(eventType)) return null;
  if (!isSmallJsonObject(eventData, LIMITS.maxEventDataBytes)) return null;
  if (!isSmallJsonObject(metadata, LIMITS.maxMetadataBytes)) return null;
  const m = metadata as Record<string, unknown>;
  if (!isDateTime(m['clientTimestamp'])) return null;
  if (m['sentAt'] !== undefined && !isDateTime(m['sentAt'])) return null;
  if (m['userAgent'] !== undefined && (typeof m['userAgent'] !== 'string' || m['userAgent'].length > LIMITS.maxUserAgentLength)) return null;
  if (m['eventId'] !== undefined && !isId(m['eventId'])) return null;
  // The schema answers a new metadata object (it is a loose object: unknown keys kept) and
  // `eventData` as given; the keys of the item outside the schema are dropped, as zod does.
  return { eventId, eventType, eventData, metadata: { ...(metadata as EventItem['metadata']) } };
}

/** The fields of an assessment, before the cross-field check. */
const assessmentFields = {
  assessmentId: idSchema,
  topicId: idSchema,
  kind: z.string().min(1).max(LIMITS.maxKindLength).optional(),
  score: z.number().min(0).max(100),
  durationSec: z.number().min(0).max(LIMITS.maxDurationSec).optional(),
  questionsAttempted: z.number().int().min(0).max(LIMITS.maxQuestions).optional(),
  correctAnswers: z.number().int().min(0).max(LIMITS.maxQuestions).optional(),
  weakAreas: z
    .array(z.string().trim().min(1).max(LIMITS.maxWeakAreaLength))
    .max(LIMITS.maxWeakAreas)
    .optional(),
  completedAt: isoDateTimeSchema,
};

/** An assessment: an immutable fact, identified by `assessmentId`; `kind` is free text (e.g. `mock_interview`). */
export const assessmentSchema = z
  .object(assessmentFields)
  .superRefine((a, ctx) => {
    if (a.correctAnswers !== undefined && a.questionsAttempted !== undefined && a.correctAnswers > a.questionsAttempted) {
      ctx.addIssue({ code: 'custom', message: 'correctAnswers cannot exceed questionsAttempted', path: ['correctAnswers'] });
    }
  });
/** An assessment as stored: an immutable fact. */
export type Assessment = z.output<typeof assessmentSchema>;

const ASSESSMENT_KEYS = new Set(Object.keys(assessmentFields));
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= LIMITS.maxQuestions;
const isWeakArea = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= LIMITS.maxWeakAreaLength && v.trim() === v;

/**
 * {@link assessmentSchema}'s verdict on the usual, valid stored fact, reached without zod: a
 * year's document holds tens of thousands of facts, each read through the schema when it is
 * loaded, and the schema walk was the largest part of deriving a dashboard. Answers the object the
 * schema would answer (a new object, keys in the schema's order), or `null` whenever anything is
 * unusual — an unknown or `undefined`-valued key, text the schema would trim, any value out of
 * range — and the caller then asks the schema. So it can accept only what the schema accepts.
 */
export function assessmentFastPath(value: unknown): Assessment | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  for (const key in v) if (!ASSESSMENT_KEYS.has(key) || v[key] === undefined) return null;
  const { assessmentId, topicId, kind, score, durationSec, questionsAttempted, correctAnswers, weakAreas, completedAt } = v;
  if (!isId(assessmentId) || !isId(topicId)) return null;
  if (kind !== undefined && (typeof kind !== 'string' || kind.length < 1 || kind.length > LIMITS.maxKindLength)) return null;
  if (typeof score !== 'number' || !(score >= 0 && score <= 100)) return null;
  if (durationSec !== undefined && (typeof durationSec !== 'number' || !(durationSec >= 0 && durationSec <= LIMITS.maxDurationSec))) return null;
  if (questionsAttempted !== undefined && !isCount(questionsAttempted)) return null;
  if (correctAnswers !== undefined && !isCount(correctAnswers)) return null;
  if (correctAnswers !== undefined && questionsAttempted !== undefined && correctAnswers > questionsAttempted) return null;
  if (weakAreas !== undefined && (!Array.isArray(weakAreas) || weakAreas.length > LIMITS.maxWeakAreas || !weakAreas.every(isWeakArea))) return null;
  if (!isDateTime(completedAt)) return null;
  const out: Record<string, unknown> = { assessmentId, topicId };
  if (kind !== undefined) out['kind'] = kind;
  out['score'] = score;
  if (durationSec !== undefined) out['durationSec'] = durationSec;
  if (questionsAttempted !== undefined) out['questionsAttempted'] = questionsAttempted;
  if (correctAnswers !== undefined) out['correctAnswers'] = correctAnswers;
  if (weakAreas !== undefined) out['weakAreas'] = [...(weakAreas as string[])];
  out['completedAt'] = completedAt;
  return out as Assessment;
}

/** `value` as {@link assessmentSchema} reads it (through {@link assessmentFastPath} when usual), or `undefined` when invalid. */
export function readAssessment(value: unknown): Assessment | undefined {
  const fast = assessmentFastPath(value);
  if (fast !== null) return fast;
  const parsed = assessmentSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
/** What callers pass to record an assessment. */
export type AssessmentInput = z.input<typeof assessmentSchema>;

/** The statuses a topic can have. */
export const topicStatusSchema = z.enum(['not_started', 'in_progress', 'completed']);
/** A topic status. */
export type TopicStatus = z.output<typeof topicStatusSchema>;

/**
 * Control characters, and the bidi embeddings/overrides/isolates that could make a name display
 * as something else (`dir="auto"` and `<bdi>` isolate names; they need no marks of their own).
 */
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/**
 * A topic's display name: any Unicode text ("C++", "C#", "機械学習", Arabic, emoji) of 1–80 code
 * points after NFC normalisation, trimming and collapsing whitespace; no control characters or
 * bidi overrides. The topic's id is separate (see `topicIdForName`).
 */
export const topicNameSchema = z
  .string()
  .transform((s) => s.normalize('NFC').replace(/\s+/gu, ' ').trim())
  .pipe(
    z
      .string()
      .min(1, 'a topic name cannot be empty')
      .refine((s) => [...s].length <= LIMITS.maxTopicNameLength, `at most ${LIMITS.maxTopicNameLength} characters`)
      .refine((s) => !NAME_FORBIDDEN.test(s), 'no control characters or direction overrides'),
  );

/** The learner-editable fields of a topic; each is an independent last-writer-wins register. */
export const topicPatchSchema = z.object({
  /** Display name; the id never changes (renaming writes this). */
  name: topicNameSchema.optional(),
  status: topicStatusSchema.optional(),
  goal: z.string().max(LIMITS.maxGoalLength).optional(),
  notes: z.string().max(LIMITS.maxNotesLength).optional(),
  /** Hidden from the active list; its sessions still count. */
  archived: z.boolean().optional(),
  /** A tombstone: the topic and its sessions leave every list and derived value; `false` restores it. */
  deleted: z.boolean().optional(),
  updatedAt: isoDateTimeSchema.optional(),
});
/** A change to some fields of a topic. */
export type TopicPatch = z.output<typeof topicPatchSchema>;

/**
 * A correction of a logged session: the fields to change (`null` removes an optional field),
 * or `deleted: true` (a tombstone; `false` restores the session). The stored fact never changes.
 */
export const assessmentCorrectionSchema = z.object({
  topicId: assessmentFields.topicId.optional(),
  kind: assessmentFields.kind.unwrap().nullable().optional(),
  score: assessmentFields.score.optional(),
  durationSec: assessmentFields.durationSec.unwrap().nullable().optional(),
  questionsAttempted: assessmentFields.questionsAttempted.unwrap().nullable().optional(),
  correctAnswers: assessmentFields.correctAnswers.unwrap().nullable().optional(),
  weakAreas: assessmentFields.weakAreas.unwrap().nullable().optional(),
  completedAt: assessmentFields.completedAt.optional(),
  deleted: z.boolean().optional(),
});
/** A parsed correction. */
export type AssessmentCorrection = z.output<typeof assessmentCorrectionSchema>;
/** The fields a correction can carry, in the order they are written. */
export const CORRECTION_FIELDS = ['topicId', 'kind', 'score', 'durationSec', 'questionsAttempted', 'correctAnswers', 'weakAreas', 'completedAt', 'deleted'] as const;
/** A correctable field. */
export type CorrectionField = (typeof CORRECTION_FIELDS)[number];

/**
 * Refuses a session dated more than `LIMITS.maxFutureSkewMs` after `now`. Applied where a
 * session is entered or corrected, never when stored facts are read (reads must not depend on
 * a clock, or replicas would disagree).
 * @throws z.ZodError with path `completedAt`.
 */
export function assertNotInFuture(completedAt: string, now: number = Date.now()): void {
  const at = Date.parse(completedAt);
  if (Number.isFinite(at) && at > now + LIMITS.maxFutureSkewMs) {
    throw new z.ZodError([{ code: 'custom', path: ['completedAt'], message: 'a session cannot be dated in the future', input: completedAt }]);
  }
}

/** A `progress` batch item: a topic patch naming its topic. */
export const progressSchema = topicPatchSchema.extend({ topicId: idSchema });
/** A parsed progress item. */
export type Progress = z.output<typeof progressSchema>;

/** One item of a batch, discriminated by `itemType`. */
export const batchItemSchema = z.discriminatedUnion('itemType', [
  z.object({ itemType: z.literal('event'), itemData: eventItemSchema }),
  z.object({ itemType: z.literal('progress'), itemData: progressSchema }),
  z.object({ itemType: z.literal('assessment'), itemData: assessmentSchema }),
]);
/** A parsed batch item. */
export type BatchItem = z.output<typeof batchItemSchema>;
/** The item types of a batch. */
export type BatchItemType = BatchItem['itemType'];

/**
 * The body of `POST /api/telemetry/batch` with at most `maxItems` items (the server passes
 * `MAX_BATCH_ITEMS`). Items are validated as a whole here; a server that wants per-item
 * results can validate `items` as `z.array(z.unknown())` and each item with {@link batchItemSchema}.
 */
export function makeBatchRequestSchema(maxItems: number = LIMITS.maxBatchItems) {
  if (!Number.isInteger(maxItems) || maxItems < 1) throw new RangeError(`maxItems must be a positive integer, got ${maxItems}`);
  return z.object({
    batchId: idSchema,
    items: z.array(batchItemSchema).min(1).max(maxItems),
  });
}

/** {@link makeBatchRequestSchema} at the default of 500 items. */
export const batchRequestSchema = makeBatchRequestSchema();
/** A parsed batch request. */
export type BatchRequest = z.output<typeof batchRequestSchema>;

/** One validation problem as the REST error `details` carry it. */
export interface ValidationDetail {
  /** Dotted path to the field, e.g. `items.3.itemData.score`; empty for the whole body. */
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** Turns a zod error into REST error details with dotted field paths. */
export function validationDetails(error: z.ZodError): ValidationDetail[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((p) => String(p)).join('.'),
    code: issue.code,
    message: issue.message,
  }));
}
