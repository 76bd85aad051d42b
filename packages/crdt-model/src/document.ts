/**
 * The learner document over a `Y.Doc` (schema version 1, docs/crdt-model.md):
 *
 * - `getMap('assessments')`: assessmentId → plain JSON object, a grow-only map of immutable facts;
 * - `getMap('topics')`: topicId → `Y.Map` of per-field registers (`status`, `goal`, `notes`,
 *   `updatedAt`, `name`, `archived`, `deleted`), created deterministically (see deterministic.ts);
 *   each field is a plain key (the current value) plus stamped `field@<stamp>` keys that decide
 *   concurrent edits by the time of the edit (see registers.ts);
 * - `getMap('corrections')`: `<assessmentId>/<field>@<stamp>` → value, corrections and deletions
 *   of sessions (the facts themselves never change);
 * - `getMap('insights')`: derived values, one key per insight, written only when they change;
 * - `getMap('meta')`: `schemaVersion`;
 * - `getMap('settings')`: learner settings, one last-writer-wins key each (see settings.ts).
 */
import { toBase64 } from 'lib0/buffer';
import * as Y from 'yjs';
import { deriveInsights, type Insights } from './derive.js';
import { applyDeterministic, genesisUpdate, topicCreationUpdate } from './deterministic.js';
import { canonicalJson, type JsonObject } from './json.js';
import { CURRENT_SCHEMA_VERSION, MigrationRegistry, type SchemaStatus } from './migrations.js';
import { HybridClock, encodeStamp, randomNodeId } from './hlc.js';
import {
  buildLearnerJSON,
  compactAssessment,
  readStoredAssessment,
  type LearnerChange,
  type LearnerDocumentJSON,
  type LearnerFacts,
  type LearnerModelEngine,
  type LearnerReplica,
  type ReplicaOptions,
} from './model.js';
import { LOCAL_ORIGIN, REMOTE_ORIGIN, isOrigin, type Origin } from './origin.js';
import {
  applyCorrections,
  correctionKey,
  planCorrection,
  planTopicDismiss,
  planTopicPatch,
  resolveCorrections,
  resolveTopicRecord,
  splitCorrectionKey,
  type ConflictField,
  type FieldConflict,
  type TopicState,
} from './records.js';
import type { RegisterWrite } from './registers.js';
import {
  assessmentSchema,
  idSchema,
  type Assessment,
  type AssessmentCorrection,
  type AssessmentInput,
  type Progress,
  type TopicPatch,
} from './schemas.js';
import { SETTINGS_KEYS, readSettings, settingsPatchSchema, type LearnerSettings, type SettingsPatch } from './settings.js';

/** Options of a {@link LearnerDocument}. */
export interface LearnerDocumentOptions {
  /** Migration steps `ensureSchema` may run (default: none; version 1 is current). */
  readonly migrations?: MigrationRegistry<LearnerDocument>;
  /** The device id in this replica's edit stamps (see {@link ReplicaOptions.node}). */
  readonly node?: string;
  /** The wall clock of the edit stamps. Default `Date.now`. */
  readonly now?: () => number;
}

/** The typed learner document over Yjs; the engine the server and the SDK use. */
/** A session as its corrections leave it (`undefined` when deleted); nearly every session has none and reads as recorded. */
function corrected(fact: Assessment | undefined, corrections: readonly [string, unknown][] | undefined): Assessment | undefined {
  return fact && corrections ? applyCorrections(fact, resolveCorrections(corrections)) : fact;
}

export class LearnerDocument implements LearnerReplica {
  readonly engine = 'yjs';
  /** The underlying document, for providers and persistence. */
  readonly doc: Y.Doc;
  readonly assessmentsMap: Y.Map<unknown>;
  readonly topicsMap: Y.Map<unknown>;
  readonly insightsMap: Y.Map<unknown>;
  readonly metaMap: Y.Map<unknown>;
  readonly correctionsMap: Y.Map<unknown>;
  readonly #clock: HybridClock;
  /** A root map, so it needs no creation (and no migration): every replica has the same one. */
  readonly settingsMap: Y.Map<unknown>;
  readonly #migrations: MigrationRegistry<LearnerDocument>;
  readonly #cleanups = new Set<() => void>();
  /**
   * Stored assessments as read and validated, by the stored value: a fact never changes under its
   * key (corrections live beside it), so each is validated once, not on every read; a big
   * document is read in full on load and again for each transaction that touches it.
   */
  readonly #readFacts = new WeakMap<object, Assessment | null>();
  /** The change of a transaction, built once for all {@link observe} listeners (null: none of theirs). */
  readonly #changes = new WeakMap<Y.Transaction, LearnerChange | null>();
  /**
   * The last {@link getAssessments} of a change's ids, until the next transaction starts: every
   * observer of a change reads the same sessions (a new device's first sync: all of them).
   */
  #lastRead: { readonly ids: readonly string[]; readonly read: ReadonlyMap<string, Assessment | undefined> } | null = null;
  /** The (frozen) session lists of the changes {@link observe} reported. */
  readonly #changeLists = new WeakSet<object>();

  constructor(doc: Y.Doc = new Y.Doc(), options: LearnerDocumentOptions = {}) {
    this.doc = doc;
    this.assessmentsMap = doc.getMap('assessments');
    this.topicsMap = doc.getMap('topics');
    this.insightsMap = doc.getMap('insights');
    this.metaMap = doc.getMap('meta');
    this.correctionsMap = doc.getMap('corrections');
    this.#clock = new HybridClock(options.node ?? randomNodeId(), options.now);
    this.settingsMap = doc.getMap('settings');
    this.#migrations = options.migrations ?? new MigrationRegistry<LearnerDocument>();
    const forgetRead = (): void => {
      this.#lastRead = null;
    };
    doc.on('beforeTransaction', forgetRead);
    this.#cleanups.add(() => doc.off('beforeTransaction', forgetRead));
  }

  get node(): string {
    return this.#clock.node;
  }

  /** The stamp of this replica's last edit (encoded), if it made one. */
  lastStamp(): string | null {
    const last = this.#clock.last;
    return last ? encodeStamp(last) : null;
  }

  /** `meta.schemaVersion`, or `null` before {@link ensureSchema} (or before the first sync). */
  schemaVersion(): number | null {
    const v = this.metaMap.get('schemaVersion');
    return typeof v === 'number' && Number.isInteger(v) ? v : null;
  }

  /**
   * Initialises `meta.schemaVersion` (deterministically, so replicas that do it concurrently
   * agree) and runs the registered migrations up to the latest registered version. Call it after
   * the first sync where possible, so that a replica does not migrate what the server already did.
   */
  ensureSchema(): SchemaStatus {
    if (this.metaMap.get('schemaVersion') === undefined) {
      this.doc.transact((tr) => {
        applyDeterministic(tr, genesisUpdate());
        // The genesis struct exists but its value was overwritten or removed by a foreign writer.
        if (this.metaMap.get('schemaVersion') === undefined) this.metaMap.set('schemaVersion', CURRENT_SCHEMA_VERSION);
      }, migrationOrigin(0, CURRENT_SCHEMA_VERSION));
    }
    let version = this.schemaVersion();
    if (version === null) return { version: 0, migrated: [], supported: false };
    const target = this.#migrations.latestVersion();
    const migrated: number[] = [];
    while (version < target) {
      const from: number = version;
      const to = from + 1;
      const step = this.#migrations.step(to);
      if (!step) break;
      this.doc.transact(() => {
        step(this, { from, to });
        this.metaMap.set('schemaVersion', to);
      }, migrationOrigin(from, to));
      migrated.push(to);
      version = to;
    }
    return { version, migrated, supported: version <= target };
  }

  /**
   * Records an assessment. Idempotent by `assessmentId`: if the id is known, nothing is written
   * and the stored fact is kept even if the new one differs (facts are immutable).
   * @throws ZodError when the assessment is invalid.
   */
  recordAssessment(assessment: AssessmentInput, origin: Origin = LOCAL_ORIGIN): boolean {
    const fact = compactAssessment(assessmentSchema.parse(assessment));
    if (this.assessmentsMap.has(fact.assessmentId)) return false;
    this.doc.transact(() => this.assessmentsMap.set(fact.assessmentId, fact), origin);
    return true;
  }

  /**
   * Sets the given fields of a topic, creating its `Y.Map` deterministically on first use so
   * that concurrent first edits of different fields on two replicas both survive. Each changed
   * field gets a stamped write and its plain value; fields whose value is unchanged are not
   * rewritten (no tombstones, and a no-op save cannot win a race).
   * @throws ZodError when the topicId or the patch is invalid.
   */
  updateTopic(topicId: string, patch: TopicPatch, origin: Origin = LOCAL_ORIGIN): boolean {
    const id = idSchema.parse(topicId);
    let changed = false;
    const existing = this.#topicMap(id);
    const plan = planTopicPatch(existing ? existing.entries() : [], patch, this.#clock);
    if (existing && !plan) return false;
    this.doc.transact((tr) => {
      let map = this.#topicMap(id);
      if (!map) {
        map = this.#createTopicMap(tr, id);
        changed = true;
      }
      if (plan) changed = applyWrite(map, plan, (k) => k) || changed;
    }, origin);
    return changed;
  }

  topicConflicts(topicId: string): FieldConflict[] {
    const map = this.#topicMap(topicId);
    return map ? [...resolveTopicRecord(map.entries()).conflicts] : [];
  }

  dismissTopicConflict(topicId: string, field: ConflictField, origin: Origin = LOCAL_ORIGIN): boolean {
    const map = this.#topicMap(topicId);
    const plan = map ? planTopicDismiss(map.entries(), field) : null;
    if (!map || !plan) return false;
    this.doc.transact(() => applyWrite(map, plan, (k) => k), origin);
    return true;
  }

  /**
   * Corrects or deletes a session (see {@link LearnerReplica.correctAssessment}). The writes are
   * stamped registers in `corrections`, merged like topic fields.
   */
  correctAssessment(assessmentId: string, correction: AssessmentCorrection, origin: Origin = LOCAL_ORIGIN): boolean {
    const fact = this.getRecordedAssessment(assessmentId);
    if (!fact) throw new Error(`no session with id "${assessmentId}"`);
    const plan = planCorrection(fact, this.#correctionEntries(assessmentId), correction, this.#clock);
    if (!plan) return false;
    this.doc.transact(() => applyWrite(this.correctionsMap, plan, (k) => correctionKey(assessmentId, k)), origin);
    return true;
  }

  getRecordedAssessment(assessmentId: string): Assessment | undefined {
    return this.#readFact(assessmentId, this.assessmentsMap.get(assessmentId));
  }

  #readFact(key: string, raw: unknown): Assessment | undefined {
    if (typeof raw !== 'object' || raw === null) return readStoredAssessment(key, raw);
    const known = this.#readFacts.get(raw);
    if (known !== undefined) return known !== null && known.assessmentId === key ? known : readStoredAssessment(key, raw);
    const fact = readStoredAssessment(key, raw);
    this.#readFacts.set(raw, fact ?? null);
    return fact;
  }

  isAssessmentDeleted(assessmentId: string): boolean {
    return this.getRecordedAssessment(assessmentId) !== undefined && resolveCorrections(this.#correctionEntries(assessmentId)).deleted === true;
  }

  /** Merges a `progress` batch item (see {@link updateTopic}). */
  applyProgress(progress: Progress, origin: Origin = LOCAL_ORIGIN): boolean {
    const { topicId, ...patch } = progress;
    return this.updateTopic(topicId, patch, origin);
  }

  /**
   * Stores insights key by key, rewriting only keys whose canonical JSON changed, so that an
   * unchanged derivation produces no update at all. Keys this version does not know are kept.
   */
  writeInsights(insights: Insights = this.derive(), origin: Origin = LOCAL_ORIGIN): boolean {
    let changed = false;
    const entries = Object.entries(insights) as [string, unknown][];
    const stale = entries.filter(([key, value]) => canonicalJson(this.insightsMap.get(key)) !== canonicalJson(value));
    if (stale.length === 0) return false;
    this.doc.transact(() => {
      for (const [key, value] of stale) {
        // Stored as plain JSON: a fresh deep copy so the caller's object is never shared.
        this.insightsMap.set(key, JSON.parse(JSON.stringify(value)) as unknown);
        changed = true;
      }
    }, origin);
    return changed;
  }

  getAssessment(assessmentId: string): Assessment | undefined {
    return this.getAssessments([assessmentId]).get(assessmentId);
  }

  /**
   * {@link getAssessment} of many sessions at once (what an observer reads after a change): the
   * corrections are grouped once for all of them, not once per session.
   */
  getAssessments(assessmentIds: Iterable<string>): ReadonlyMap<string, Assessment | undefined> {
    if (this.#lastRead && this.#lastRead.ids === assessmentIds) return this.#lastRead.read;
    const corrections = this.#allCorrections();
    const out = new Map<string, Assessment | undefined>();
    for (const id of assessmentIds) {
      out.set(id, corrected(this.getRecordedAssessment(id), corrections.get(id)));
    }
    // Only a change's own list is remembered (frozen: its identity says which sessions were read),
    // and only outside a transaction: the next one, which could change them, forgets it as it starts.
    if (this.#changeLists.has(assessmentIds) && this.doc._transaction === null) this.#lastRead = { ids: assessmentIds as readonly string[], read: out };
    return out;
  }

  /** All sessions as corrected, without deleted ones (invalid values written by foreign clients are skipped). */
  assessments(): Assessment[] {
    const corrections = this.#allCorrections();
    const out: Assessment[] = [];
    this.assessmentsMap.forEach((raw, key) => {
      const a = corrected(this.#readFact(key, raw), corrections.get(key));
      if (a) out.push(a);
    });
    return out;
  }

  getTopic(topicId: string): TopicState | undefined {
    const map = this.#topicMap(topicId);
    return map ? resolveTopicRecord(map.entries()).state : undefined;
  }

  /**
   * Sets (or, with `null`, deletes) learner settings; unchanged values are not rewritten.
   * @throws ZodError when the patch is invalid.
   */
  updateSettings(patch: SettingsPatch, origin: Origin = LOCAL_ORIGIN): boolean {
    const fields = settingsPatchSchema.parse(patch);
    let changed = false;
    this.doc.transact(() => {
      for (const key of SETTINGS_KEYS) {
        const value = fields[key];
        if (value === undefined) continue;
        if (value === null) {
          if (this.settingsMap.has(key)) {
            this.settingsMap.delete(key);
            changed = true;
          }
        } else if (this.settingsMap.get(key) !== value) {
          this.settingsMap.set(key, value);
          changed = true;
        }
      }
    }, origin);
    return changed;
  }

  getSettings(): LearnerSettings {
    return readSettings((key) => this.settingsMap.get(key));
  }

  /** Every topic's state by topicId, deleted topics included (their `deleted` flag says so). */
  topics(): Record<string, TopicState> {
    const topics: Record<string, TopicState> = {};
    this.topicsMap.forEach((value, key) => {
      if (value instanceof Y.Map) topics[key] = resolveTopicRecord((value as Y.Map<unknown>).entries()).state;
    });
    return topics;
  }

  facts(): LearnerFacts {
    const topics = this.topics();
    const assessments: Record<string, Assessment> = {};
    for (const a of this.assessments()) if (topics[a.topicId]?.deleted !== true) assessments[a.assessmentId] = a;
    return { assessments, topics, settings: this.getSettings() };
  }

  /** Insights of {@link facts} (corrected sessions, without deleted sessions and topics). */
  derive(): Insights {
    return deriveInsights(Object.values(this.facts().assessments));
  }

  /** What is stored in `insights`. */
  storedInsights(): JsonObject {
    return this.insightsMap.toJSON() as JsonObject;
  }

  toJSON(): LearnerDocumentJSON {
    return buildLearnerJSON(this.facts(), this.storedInsights(), this.schemaVersion());
  }

  /**
   * Calls `listener` once per transaction that touched the learner maps (deeply: the same
   * changes `observeDeep` reports), with the ids that changed.
   */
  observe(listener: (change: LearnerChange) => void): () => void {
    const handler = (tr: Y.Transaction): void => {
      let change = this.#changes.get(tr);
      if (change === undefined) {
        change = this.#changeOf(tr);
        this.#changes.set(tr, change);
      }
      if (change) listener(change);
    };
    this.doc.on('afterTransaction', handler);
    const off = (): void => {
      this.doc.off('afterTransaction', handler);
      this.#cleanups.delete(off);
    };
    this.#cleanups.add(off);
    return off;
  }

  /** What a transaction changed of the learner maps (null: nothing), as {@link observe} reports it. */
  #changeOf(tr: Y.Transaction): LearnerChange | null {
    let aEvents: readonly Y.YEvent<Y.AbstractType<unknown>>[] | undefined;
    let tEvents: readonly Y.YEvent<Y.AbstractType<unknown>>[] | undefined;
    let cEvents: readonly Y.YEvent<Y.AbstractType<unknown>>[] | undefined;
    let insights = false;
    let meta = false;
    let settings = false;
    for (const [changed, events] of tr.changedParentTypes) {
      // Compared as plain objects: Yjs types the map's keys with an incompatible event type.
      const type: object = changed;
      if (type === this.assessmentsMap) aEvents = events;
      else if (type === this.topicsMap) tEvents = events;
      else if (type === this.insightsMap) insights = true;
      else if (type === this.metaMap) meta = true;
      else if (type === this.correctionsMap) cEvents = events;
      else if (type === this.settingsMap) settings = true;
    }
    if (!aEvents && !tEvents && !cEvents && !insights && !meta && !settings) return null;
    const assessments = new Set<string>();
    for (const ev of aEvents ?? []) if (ev instanceof Y.YMapEvent) for (const k of ev.keysChanged) assessments.add(k);
    for (const ev of cEvents ?? []) {
      if (ev instanceof Y.YMapEvent) for (const k of ev.keysChanged) {
        const split = splitCorrectionKey(k);
        if (split) assessments.add(split[0]);
      }
    }
    const topics = new Set<string>();
    for (const ev of tEvents ?? []) {
      if (ev.target === this.topicsMap && ev instanceof Y.YMapEvent) for (const k of ev.keysChanged) topics.add(k);
      else {
        const key = ev.target._item?.parentSub;
        if (key) topics.add(key);
      }
    }
    const ids = Object.freeze([...assessments].sort());
    this.#changeLists.add(ids);
    return {
      origin: isOrigin(tr.origin) ? tr.origin : undefined,
      local: tr.local,
      assessments: ids,
      topics: [...topics].sort(),
      insights,
      meta,
      ...(settings ? { settings } : {}),
    };
  }

  onUpdate(listener: (update: Uint8Array) => void): () => void {
    const handler = (update: Uint8Array, _origin: unknown, _doc: Y.Doc, tr: Y.Transaction): void => {
      if (tr.local) listener(update);
    };
    this.doc.on('update', handler);
    const off = (): void => {
      this.doc.off('update', handler);
      this.#cleanups.delete(off);
    };
    this.#cleanups.add(off);
    return off;
  }

  applyUpdate(update: Uint8Array, origin: Origin = REMOTE_ORIGIN): void {
    Y.applyUpdate(this.doc, update, origin);
  }

  syncState(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  encodeDiff(remoteSyncState?: Uint8Array): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc, remoteSyncState);
  }

  save(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc);
  }

  /**
   * The encoded state after a merge round-trip. `encodeStateAsUpdate` can split equal content
   * into differently merged structs depending on arrival order; `mergeUpdates` normalises that.
   */
  fingerprint(): string {
    return toBase64(Y.mergeUpdates([Y.encodeStateAsUpdate(this.doc)]));
  }

  destroy(): void {
    for (const off of [...this.#cleanups]) off();
  }

  #topicMap(topicId: string): Y.Map<unknown> | undefined {
    const value = this.topicsMap.get(topicId);
    return value instanceof Y.Map ? (value as Y.Map<unknown>) : undefined;
  }

  /** The raw register keys of one session's corrections. */
  #correctionEntries(assessmentId: string): [string, unknown][] {
    return this.#allCorrections().get(assessmentId) ?? [];
  }

  /** Corrections grouped by session (one pass over the map; corrections are few). */
  #allCorrections(): Map<string, [string, unknown][]> {
    const out = new Map<string, [string, unknown][]>();
    this.correctionsMap.forEach((value, key) => {
      const split = splitCorrectionKey(key);
      if (!split) return;
      const list = out.get(split[0]);
      if (list) list.push([split[1], value]);
      else out.set(split[0], [[split[1], value]]);
    });
    return out;
  }

  #createTopicMap(tr: Y.Transaction, topicId: string): Y.Map<unknown> {
    applyDeterministic(tr, topicCreationUpdate(topicId));
    const created = this.#topicMap(topicId);
    if (created) return created;
    // The deterministic struct already existed and was overwritten or deleted by a foreign
    // writer (this API never does either); fall back to an ordinary nested map.
    const map = new Y.Map<unknown>();
    this.topicsMap.set(topicId, map);
    return map;
  }
}

/** Stores a register write into `map`, naming keys with `keyOf`. `true` when anything was written. */
function applyWrite(map: Y.Map<unknown>, write: RegisterWrite, keyOf: (key: string) => string): boolean {
  for (const key of write.delete) map.delete(keyOf(key));
  for (const [key, value] of write.set) map.set(keyOf(key), value);
  return write.set.length > 0 || write.delete.length > 0;
}

function migrationOrigin(from: number, to: number): Origin {
  return { kind: 'migration', from, to };
}

/** The Yjs engine (the default; what the server and the SDK use). */
export const yjsEngine: LearnerModelEngine<LearnerDocument> = Object.freeze({
  name: 'yjs',
  create(options: ReplicaOptions = {}): LearnerDocument {
    const ld = new LearnerDocument(newDoc(options), clockOptions(options));
    ld.ensureSchema();
    return ld;
  },
  load(bytes: Uint8Array, options: ReplicaOptions = {}): LearnerDocument {
    const doc = newDoc(options);
    Y.applyUpdate(doc, bytes, { kind: 'persistence' } satisfies Origin);
    return new LearnerDocument(doc, clockOptions(options));
  },
});

function clockOptions(options: ReplicaOptions): LearnerDocumentOptions {
  return { ...(options.node !== undefined ? { node: options.node } : {}), ...(options.now ? { now: options.now } : {}) };
}

function newDoc(options: ReplicaOptions): Y.Doc {
  const doc = new Y.Doc();
  if (options.replicaId !== undefined) doc.clientID = options.replicaId;
  return doc;
}
