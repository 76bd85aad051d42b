/**
 * The engine-neutral learner model: facts, views and the replica interface that both the Yjs
 * (default) and the Automerge implementation satisfy, so one convergence suite runs over both.
 */
import { deriveInsights, computeTopicMastery, type Insights } from './derive.js';
import type { JsonObject } from './json.js';
import type { SchemaStatus } from './migrations.js';
import type { Origin } from './origin.js';
import type { ConflictField, FieldConflict, TopicState } from './records.js';
import { readAssessment, type Assessment, type AssessmentCorrection, type AssessmentInput, type TopicPatch } from './schemas.js';
import type { LearnerSettings, SettingsPatch } from './settings.js';

export { TOPIC_FIELDS, CONFLICT_FIELDS, effectiveTopicStatus } from './records.js';
export type { TopicField, TopicState, ConflictField, FieldConflict, LosingValue } from './records.js';

/** A topic as `toJSON()` and `GET /api/progress` show it: its state plus derived mastery. */
export interface TopicView extends TopicState {
  /** Recency-weighted mean score, 0–1 (0 without assessments, which a screen shows as "no data", not 0 %). */
  readonly mastery: number;
}

/**
 * The facts of a learner: the inputs of every derived value. `assessments` are the sessions as
 * corrected, without deleted sessions and without the sessions of deleted topics.
 */
export interface LearnerFacts {
  readonly assessments: Readonly<Record<string, Assessment>>;
  readonly topics: Readonly<Record<string, TopicState>>;
  /** The learner's settings (interview date, daily minutes); absent where a reader has none. */
  readonly settings?: LearnerSettings;
}

/** The learner document as JSON (the `data` of `GET /api/progress`, without `userId`). */
export interface LearnerDocumentJSON {
  readonly schemaVersion: number | null;
  /** Every topic with state or assessments, with its mastery. */
  readonly topics: Readonly<Record<string, TopicView>>;
  readonly assessments: Readonly<Record<string, Assessment>>;
  /** What is stored in `insights` (written by the server), which may lag the facts. */
  readonly insights: Readonly<JsonObject>;
}

/** What one transaction changed, as passed to `observe` callbacks. */
export interface LearnerChange {
  /** The typed origin, or `undefined` when a foreign writer (e.g. a provider) used its own. */
  readonly origin: Origin | undefined;
  /** `true` when the change was made on this replica (not applied from an update). */
  readonly local: boolean;
  /** assessmentIds added, corrected or deleted (or, from foreign writers, replaced). */
  readonly assessments: readonly string[];
  /** topicIds whose state changed. */
  readonly topics: readonly string[];
  readonly insights: boolean;
  readonly meta: boolean;
  /** `true` when a learner setting changed (absent otherwise). */
  readonly settings?: boolean;
}

/** Options of a new or loaded replica. */
export interface ReplicaOptions {
  /**
   * A fixed replica identity (Yjs clientID / Automerge actor) for reproducible tests and
   * benchmarks. Leave unset in applications: two live replicas must never share one.
   */
  readonly replicaId?: number;
  /**
   * The device id that stamps this replica's edits (1–64 of `[A-Za-z0-9_-]`); stable per device
   * so that the app can tell which losing values are the learner's own on this device.
   * Default: random per replica.
   */
  readonly node?: string;
  /** The wall clock of the edit stamps (tests). Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * One replica of a learner's document. Writes take an optional {@link Origin} (default local);
 * `onUpdate` emits the bytes of this replica's own changes, `applyUpdate` takes anyone's, in any
 * order, any number of times.
 */
export interface LearnerReplica {
  /** `yjs` or `automerge`. */
  readonly engine: string;
  /** Records an immutable fact; `false` (and nothing written) when the id is already known. */
  recordAssessment(assessment: AssessmentInput, origin?: Origin): boolean;
  /** Sets the given topic fields (stamped, see docs/crdt-model.md); `false` when nothing changed. */
  updateTopic(topicId: string, patch: TopicPatch, origin?: Origin): boolean;
  /** The topic's fields whose concurrent edits lost, with the losing values. */
  topicConflicts(topicId: string): FieldConflict[];
  /** Forgets the losing values of a field (the learner keeps the current one); `false` when there were none. */
  dismissTopicConflict(topicId: string, field: ConflictField, origin?: Origin): boolean;
  /**
   * Corrects or deletes (`deleted: true`) a known session; the stored fact stays as it was.
   * `false` when nothing changed.
   * @throws ZodError when the correction is invalid; Error when the session is unknown.
   */
  correctAssessment(assessmentId: string, correction: AssessmentCorrection, origin?: Origin): boolean;
  /** The session as recorded, before corrections (also for deleted sessions). */
  getRecordedAssessment(assessmentId: string): Assessment | undefined;
  /** `true` when the session exists and is deleted. */
  isAssessmentDeleted(assessmentId: string): boolean;
  /** The device id in this replica's stamps. */
  readonly node: string;
  /** The encoded stamp of this replica's last edit, `null` before its first. */
  lastStamp(): string | null;
  /** Stores insights (default: derived from the facts) key by key, only keys that changed. */
  writeInsights(insights?: Insights, origin?: Origin): boolean;
  /** The session as corrected; `undefined` when unknown or deleted. */
  getAssessment(assessmentId: string): Assessment | undefined;
  getTopic(topicId: string): TopicState | undefined;
  /** Sets or (with `null`) clears learner settings; `false` when nothing changed. */
  updateSettings(patch: SettingsPatch, origin?: Origin): boolean;
  getSettings(): LearnerSettings;
  facts(): LearnerFacts;
  /** Insights derived from the facts now (not what is stored). */
  derive(): Insights;
  toJSON(): LearnerDocumentJSON;
  /** Sets `meta.schemaVersion` on a new document and runs pending migrations. */
  ensureSchema(): SchemaStatus;
  /** Calls `listener` after every transaction that changed the learner data. Returns an unsubscribe. */
  observe(listener: (change: LearnerChange) => void): () => void;
  /** Emits the encoded change of every local transaction. Returns an unsubscribe. */
  onUpdate(listener: (update: Uint8Array) => void): () => void;
  applyUpdate(update: Uint8Array, origin?: Origin): void;
  /** What this replica has (Yjs state vector / Automerge heads), for {@link encodeDiff}. */
  syncState(): Uint8Array;
  /** What a replica with `remoteSyncState` lacks (everything when omitted). */
  encodeDiff(remoteSyncState?: Uint8Array): Uint8Array;
  /** The whole document, loadable with the engine's `load`. */
  save(): Uint8Array;
  /** A string equal on two replicas exactly when they hold the same encoded state. */
  fingerprint(): string;
  /** Releases listeners. */
  destroy(): void;
}

/** A factory of replicas; `yjsEngine` and `automergeEngine` implement it. */
export interface LearnerModelEngine<R extends LearnerReplica = LearnerReplica> {
  readonly name: string;
  create(options?: ReplicaOptions): R;
  load(bytes: Uint8Array, options?: ReplicaOptions): R;
}

/**
 * Reads a stored assessment defensively: documents are writable by any Yjs client, so a value
 * that is not a valid fact under its own key is ignored rather than trusted.
 */
export function readStoredAssessment(key: string, raw: unknown): Assessment | undefined {
  const fact = readAssessment(raw);
  return fact?.assessmentId === key ? fact : undefined;
}

/** Builds {@link LearnerDocumentJSON} (keys sorted, so both engines print the same JSON). */
export function buildLearnerJSON(facts: LearnerFacts, insights: JsonObject, schemaVersion: number | null): LearnerDocumentJSON {
  const byTopic = new Map<string, Assessment[]>();
  for (const a of Object.values(facts.assessments)) {
    const list = byTopic.get(a.topicId);
    if (list) list.push(a);
    else byTopic.set(a.topicId, [a]);
  }
  const ids = [...new Set([...Object.keys(facts.topics), ...byTopic.keys()])].sort();
  const topics: Record<string, TopicView> = {};
  for (const id of ids) topics[id] = { ...facts.topics[id], mastery: computeTopicMastery(byTopic.get(id) ?? []) };
  const assessments: Record<string, Assessment> = {};
  for (const id of Object.keys(facts.assessments).sort()) assessments[id] = facts.assessments[id]!;
  return { schemaVersion, topics, assessments, insights };
}

/** Derived insights of a replica's facts. */
export function deriveFromFacts(facts: LearnerFacts): Insights {
  return deriveInsights(Object.values(facts.assessments));
}

/** Copies only defined fields, so a stored fact never contains `undefined` (Yjs rejects it). */
export function compactAssessment(a: Assessment): Assessment {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
  return out as Assessment;
}
