/**
 * The learner-editable records, engine-neutral: a topic's fields and a session's corrections,
 * each a set of stamped registers (registers.ts). Both engines hand their raw keys of one record
 * to these functions and store what they return, so the decisions are made in one place.
 */
import { z } from 'zod';
import { decodeStamp, encodeStamp, type HybridClock, type Stamp } from './hlc.js';
import {
  groupRegisters,
  legacyStamp,
  planDismissLosers,
  planRegisterWrite,
  resolveRegister,
  stampsOf,
  type RegisterGroup,
  type RegisterWrite,
} from './registers.js';
import {
  CORRECTION_FIELDS,
  assessmentCorrectionSchema,
  assessmentSchema,
  isoDateTimeSchema,
  readAssessment,
  topicNameSchema,
  topicPatchSchema,
  topicStatusSchema,
  type Assessment,
  type AssessmentCorrection,
  type CorrectionField,
  type TopicPatch,
  type TopicStatus,
} from './schemas.js';

/** The per-topic registers, in the order they are written. */
export const TOPIC_FIELDS = ['name', 'status', 'goal', 'notes', 'archived', 'deleted', 'updatedAt'] as const;
/** A topic register name. */
export type TopicField = (typeof TOPIC_FIELDS)[number];
/** Fields the learner edits and may be told about when a concurrent edit lost (`updatedAt` is bookkeeping). */
export const CONFLICT_FIELDS = ['name', 'status', 'goal', 'notes', 'archived', 'deleted'] as const satisfies readonly TopicField[];
/** A field whose losing values are reported. */
export type ConflictField = (typeof CONFLICT_FIELDS)[number];

/** The editable state of a topic (each field present once it was ever set). */
export interface TopicState {
  readonly name?: string;
  readonly status?: TopicStatus;
  readonly goal?: string;
  readonly notes?: string;
  readonly archived?: boolean;
  readonly deleted?: boolean;
  readonly updatedAt?: string;
}

/** A value that lost to a concurrent, later edit of the same field (kept until someone decides). */
export interface LosingValue {
  readonly value: string | boolean;
  /** The device that wrote it (the stamp's node). */
  readonly node: string;
  /** When it was written, ms since the epoch (the stamp's wall time). */
  readonly at: number;
  /** The encoded stamp; identifies this write. */
  readonly stamp: string;
}

/** A field of a topic that has losing values. */
export interface FieldConflict {
  readonly field: ConflictField;
  /** The current (winning) value. */
  readonly value: string | boolean | undefined;
  /** Newest first. */
  readonly losing: readonly LosingValue[];
}

const fieldSchemas: Readonly<Record<TopicField, z.ZodType<string | boolean>>> = {
  name: topicNameSchema,
  status: topicStatusSchema,
  goal: z.string(),
  notes: z.string(),
  archived: z.boolean(),
  deleted: z.boolean(),
  updatedAt: isoDateTimeSchema,
};

/** A raw value of a field, or `undefined` when it has the wrong type (foreign writers). */
function readField(field: TopicField, raw: unknown): string | boolean | undefined {
  const parsed = fieldSchemas[field].safeParse(raw);
  // A stored name is read as stored (normalising on read would make a valid name look changed).
  return parsed.success ? (field === 'name' ? (raw as string) : parsed.data) : undefined;
}

/** A topic record resolved: the state and the fields with losing values. */
export interface ResolvedTopic {
  readonly state: TopicState;
  readonly conflicts: readonly FieldConflict[];
}

/** Resolves a topic's raw keys (see registers.ts for the rule). */
export function resolveTopicRecord(raw: Iterable<readonly [string, unknown]>): ResolvedTopic {
  const groups = groupRegisters(raw);
  const fallback = legacyStamp(groups.get('updatedAt')?.plain?.value);
  const state: Record<string, string | boolean> = {};
  const conflicts: FieldConflict[] = [];
  for (const field of TOPIC_FIELDS) {
    const resolved = resolveRegister(field, groups.get(field), fallback);
    if (!resolved) continue;
    const value = readField(field, resolved.winner.value);
    if (value !== undefined) state[field] = value;
    if (field === 'updatedAt') continue;
    const losing: LosingValue[] = [];
    for (const e of resolved.losers) {
      const v = readField(field, e.value);
      if (v === undefined || e.stamp.node === '' || v === value) continue;
      losing.push({ value: v, node: e.stamp.node, at: e.stamp.wall, stamp: encodeStamp(e.stamp) });
    }
    if (losing.length > 0) conflicts.push({ field, value, losing });
  }
  return { state: state as TopicState, conflicts };
}

/** Sets `set` and deletes `delete` (both `[]` when nothing changes). */
function merge(writes: readonly RegisterWrite[]): RegisterWrite {
  return { set: writes.flatMap((w) => w.set), delete: writes.flatMap((w) => w.delete) };
}

const isEmpty = (w: RegisterWrite): boolean => w.set.length === 0 && w.delete.length === 0;

/**
 * The writes of a topic patch: one new stamp for the whole edit (above every stamp in the
 * record), one stamped key per field whose value changes. `null` when nothing changes.
 */
export function planTopicPatch(raw: Iterable<readonly [string, unknown]>, patch: TopicPatch, clock: HybridClock): RegisterWrite | null {
  const fields = topicPatchSchema.parse(patch);
  const entries = [...raw];
  const groups = groupRegisters(entries);
  const { state } = resolveTopicRecord(entries);
  const changed = TOPIC_FIELDS.filter((f) => fields[f] !== undefined && fields[f] !== state[f]);
  if (changed.length === 0) return null;
  const stamp = clock.next(stampsOf(groups));
  return merge(changed.map((f) => planRegisterWrite(f, groups.get(f), fields[f], stamp, true)));
}

/** Drops the losing values of one field (the learner keeps the current value); `null` when there are none. */
export function planTopicDismiss(raw: Iterable<readonly [string, unknown]>, field: ConflictField): RegisterWrite | null {
  const groups = groupRegisters(raw);
  const group = groups.get(field);
  const resolved = resolveRegister(field, group, legacyStamp(groups.get('updatedAt')?.plain?.value));
  if (!resolved || resolved.losers.length === 0) return null;
  const w = planDismissLosers(resolved, field, group, true);
  return isEmpty(w) ? null : w;
}

/** The current values of a session's corrections (`null`: the optional field was removed). */
export type CorrectionValues = Partial<Record<CorrectionField, unknown>>;

/** Resolves the corrections of one session (raw keys `field@stamp`). */
export function resolveCorrections(raw: Iterable<readonly [string, unknown]>): CorrectionValues {
  const groups = groupRegisters(raw);
  const out: CorrectionValues = {};
  for (const field of CORRECTION_FIELDS) {
    const g: RegisterGroup | undefined = groups.get(field);
    if (!g || g.entries.length === 0) continue;
    // Corrections are always stamped: plain keys are not ours and are ignored.
    out[field] = resolveRegister(field, { entries: g.entries }, legacyStamp(undefined))!.winner.value;
  }
  return out;
}

/**
 * A session as corrected: the stored fact with the corrected fields (`null` removes one).
 * `undefined` when the session is deleted. If the corrected fields together are not a valid
 * session (two devices corrected `questionsAttempted` and `correctAnswers` into a contradiction),
 * the original fact is shown: a deterministic choice every replica makes alike.
 */
export function applyCorrections(fact: Assessment, values: CorrectionValues): Assessment | undefined {
  if (values.deleted === true) return undefined;
  const keys = CORRECTION_FIELDS.filter((f) => f !== 'deleted' && values[f] !== undefined);
  if (keys.length === 0) return fact;
  const next: Record<string, unknown> = { ...fact };
  for (const k of keys) {
    if (values[k] === null) delete next[k];
    else next[k] = values[k];
  }
  return readAssessment(next) ?? fact;
}

/**
 * The writes of a correction of `fact` (as currently corrected by `raw`). Only fields that
 * change are written, under one new stamp. `null` when nothing changes.
 * @throws ZodError when the correction is invalid or would make an invalid session.
 */
export function planCorrection(
  fact: Assessment,
  raw: Iterable<readonly [string, unknown]>,
  correction: AssessmentCorrection,
  clock: HybridClock,
): RegisterWrite | null {
  const parsed = assessmentCorrectionSchema.parse(correction);
  const entries = [...raw];
  const groups = groupRegisters(entries);
  const current = resolveCorrections(entries);
  const shown = applyCorrections(fact, { ...current, deleted: false }) ?? fact;
  const changed = CORRECTION_FIELDS.filter((f) => {
    const v = parsed[f];
    if (v === undefined) return false;
    if (f === 'deleted') return v !== (current.deleted === true);
    const now = (shown as Record<string, unknown>)[f];
    return v === null ? now !== undefined : JSON.stringify(v) !== JSON.stringify(now);
  });
  if (changed.length === 0) return null;
  // The session the correction makes must be valid on its own.
  const values: CorrectionValues = { ...current };
  for (const f of changed) values[f] = parsed[f];
  const next: Record<string, unknown> = { ...fact };
  for (const f of CORRECTION_FIELDS) {
    if (f === 'deleted' || values[f] === undefined) continue;
    if (values[f] === null) delete next[f];
    else next[f] = values[f];
  }
  assessmentSchema.parse(next);
  const stamp: Stamp = clock.next(stampsOf(groups));
  return merge(changed.map((f) => planRegisterWrite(f, groups.get(f), parsed[f], stamp, false)));
}

/** The corrections map key of a session's field write: `<assessmentId>/<field>@<stamp>`. */
export function correctionKey(assessmentId: string, key: string): string {
  return `${assessmentId}/${key}`;
}

/** Splits a corrections map key into the session id and the register key; `null` when foreign. */
export function splitCorrectionKey(key: string): readonly [string, string] | null {
  const slash = key.indexOf('/');
  if (slash <= 0) return null;
  const rest = key.slice(slash + 1);
  const at = rest.indexOf('@');
  if (at <= 0 || !decodeStamp(rest.slice(at + 1))) return null;
  return [key.slice(0, slash), rest];
}

/**
 * The status a topic shows: the learner's choice when they made one; otherwise "in progress"
 * once it has a session, else "not started". Practice moves the status; it never overrides
 * the learner.
 */
export function effectiveTopicStatus(state: TopicState | undefined, sessionCount: number): TopicStatus {
  return state?.status ?? (sessionCount > 0 ? 'in_progress' : 'not_started');
}
