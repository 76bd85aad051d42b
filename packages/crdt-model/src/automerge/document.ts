/**
 * The learner model on Automerge, behind the same {@link LearnerReplica} interface as the Yjs
 * document, so one convergence suite and one benchmark run over both.
 *
 * Automerge is not bound by the Yjs wire shape of the learner document (docs/crdt-model.md), and it has the same pitfall as
 * Yjs (a map key holding a nested object is one register; two replicas that each create the
 * object concurrently keep only one of them), so the shape avoids nested creation entirely:
 *
 * - the root maps come from one *genesis change* made with a fixed actor and timestamp, byte-
 *   identical on every replica (each replica loads it instead of creating its own root maps);
 * - `assessments`: assessmentId → canonical JSON of the fact as a scalar string (an opaque
 *   value, like Yjs' `ContentAny`, rather than one op per field or per character);
 * - `topicFields`: `"<topicId>/<field>"` → value, flat per-field registers (`/` is not an id
 *   character), plus `"<topicId>/"` marking that the topic exists; stamped writes are
 *   `"<topicId>/<field>@<stamp>"` → canonical JSON of the value (same rule as Yjs, registers.ts);
 * - `corrections`: `"<assessmentId>/<field>@<stamp>"` → canonical JSON, as in the Yjs document;
 * - `insights`: key → canonical JSON; `meta.schemaVersion`;
 * - learner settings as `settings/<key>` registers of `meta` (a map every replica already has,
 *   so settings need no new root map, which concurrent replicas would each create).
 */
import * as A from '@automerge/automerge';
import { deriveInsights, type Insights } from '../derive.js';
import { canonicalJson, type JsonObject, type JsonValue } from '../json.js';
import { CURRENT_SCHEMA_VERSION, MigrationRegistry, type SchemaStatus } from '../migrations.js';
import { HybridClock, encodeStamp, randomNodeId } from '../hlc.js';
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
} from '../model.js';
import { LOCAL_ORIGIN, REMOTE_ORIGIN, type Origin } from '../origin.js';
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
} from '../records.js';
import type { RegisterWrite } from '../registers.js';
import { assessmentSchema, idSchema, type Assessment, type AssessmentCorrection, type AssessmentInput, type Progress, type TopicPatch } from '../schemas.js';
import { SETTINGS_KEYS, readSettings, settingsPatchSchema, type LearnerSettings, type SettingsPatch } from '../settings.js';

/** The Automerge document's shape (what `A.load(...)` of a saved learner document shows). */
export interface AutomergeLearnerShape {
  assessments: Record<string, string>;
  topicFields: Record<string, string | boolean>;
  corrections: Record<string, string>;
  insights: Record<string, string>;
  meta: { schemaVersion: number };
}

/** The low-level (WASM) document handle. */
type Handle = ReturnType<typeof A.getBackend>;

/** What a migration step gets: the low-level handle and the ids of the root maps. */
export interface AutomergeMigrationTarget {
  readonly handle: Handle;
  readonly objects: Readonly<Record<keyof AutomergeLearnerShape, string>>;
}

/** Automerge actor of the genesis change; never used by a live replica. */
const GENESIS_ACTOR = '00000000000000000000000000000000';

/** The genesis document: empty root maps and `schemaVersion = 1`, identical everywhere. */
export function automergeGenesis(): Uint8Array {
  const doc = A.change(A.init<AutomergeLearnerShape>({ actor: GENESIS_ACTOR }), { time: 0 }, (d) => {
    d.assessments = {};
    d.topicFields = {};
    d.corrections = {};
    d.insights = {};
    d.meta = { schemaVersion: CURRENT_SCHEMA_VERSION };
  });
  return A.save(doc);
}

/** Options of an {@link AutomergeLearnerDocument}. */
export interface AutomergeLearnerDocumentOptions {
  readonly migrations?: MigrationRegistry<AutomergeMigrationTarget>;
  /** The device id in this replica's edit stamps. */
  readonly node?: string;
  /** The wall clock of the edit stamps. Default `Date.now`. */
  readonly now?: () => number;
}

const topicKey = (topicId: string, key: string): string => `${topicId}/${key}`;
const SETTINGS_PREFIX = 'settings/';
const ROOTS = ['assessments', 'topicFields', 'corrections', 'insights', 'meta'] as const;

/** Stamped values are canonical JSON (Automerge scalars cannot hold arrays); plain ones are as written. */
function decodeRegisterValue(key: string, value: unknown): unknown {
  return key.includes('@') ? parseStored(value) : value;
}

/**
 * The learner document on Automerge. It works on the low-level document handle rather than the
 * immutable JS proxy API: the proxy API copies a changed map's materialised object on every
 * change, which makes recording one fact into a 20 000-entry map O(n) and the benchmark O(n²);
 * the handle is what Yjs effectively is, a mutable CRDT with point reads.
 */
export class AutomergeLearnerDocument implements LearnerReplica {
  readonly engine = 'automerge';
  readonly #h: Handle;
  readonly #objects: Record<(typeof ROOTS)[number], string>;
  readonly #migrations: MigrationRegistry<AutomergeMigrationTarget>;
  readonly #clock: HybridClock;
  readonly #updateListeners = new Set<(update: Uint8Array) => void>();
  readonly #changeListeners = new Set<(change: LearnerChange) => void>();

  /** Takes a handle that already holds the genesis (see {@link createAutomergeEngine}). */
  constructor(handle: Handle, options: AutomergeLearnerDocumentOptions = {}) {
    this.#h = handle;
    const objects = {} as Record<(typeof ROOTS)[number], string>;
    for (const root of ROOTS) {
      const value = handle.getWithType('_root', root);
      if (!value || value[0] !== 'map') throw new Error(`not a learner document: root "${root}" is missing`);
      objects[root] = value[1] as string;
    }
    this.#objects = objects;
    this.#migrations = options.migrations ?? new MigrationRegistry<AutomergeMigrationTarget>();
    this.#clock = new HybridClock(options.node ?? randomNodeId(), options.now);
  }

  get node(): string {
    return this.#clock.node;
  }

  /** The stamp of this replica's last edit (encoded), if it made one. */
  lastStamp(): string | null {
    const last = this.#clock.last;
    return last ? encodeStamp(last) : null;
  }

  /** The low-level document handle. */
  get handle(): Handle {
    return this.#h;
  }

  schemaVersion(): number | null {
    const v = this.#h.get(this.#objects.meta, 'schemaVersion');
    return typeof v === 'number' ? v : null;
  }

  ensureSchema(): SchemaStatus {
    let version = this.schemaVersion() ?? CURRENT_SCHEMA_VERSION;
    const target = this.#migrations.latestVersion();
    const migrated: number[] = [];
    while (version < target) {
      const from: number = version;
      const to = from + 1;
      const step = this.#migrations.step(to);
      if (!step) break;
      this.#commit({ kind: 'migration', from, to }, () => {
        step({ handle: this.#h, objects: this.#objects }, { from, to });
        this.#h.put(this.#objects.meta, 'schemaVersion', to, 'uint');
      });
      migrated.push(to);
      version = to;
    }
    return { version, migrated, supported: version <= target };
  }

  recordAssessment(assessment: AssessmentInput, origin: Origin = LOCAL_ORIGIN): boolean {
    const fact = compactAssessment(assessmentSchema.parse(assessment));
    if (this.#h.get(this.#objects.assessments, fact.assessmentId) !== undefined) return false;
    this.#commit(origin, () => this.#h.put(this.#objects.assessments, fact.assessmentId, canonicalJson(fact)));
    return true;
  }

  updateTopic(topicId: string, patch: TopicPatch, origin: Origin = LOCAL_ORIGIN): boolean {
    const id = idSchema.parse(topicId);
    const obj = this.#objects.topicFields;
    const exists = this.#h.get(obj, topicKey(id, '')) !== undefined;
    const plan = planTopicPatch(this.#topicEntries(id), patch, this.#clock);
    if (exists && !plan) return false;
    this.#commit(origin, () => {
      if (!exists) this.#h.put(obj, topicKey(id, ''), '');
      if (plan) this.#store(obj, plan, (k) => topicKey(id, k));
    });
    return true;
  }

  topicConflicts(topicId: string): FieldConflict[] {
    return [...resolveTopicRecord(this.#topicEntries(topicId)).conflicts];
  }

  dismissTopicConflict(topicId: string, field: ConflictField, origin: Origin = LOCAL_ORIGIN): boolean {
    const plan = planTopicDismiss(this.#topicEntries(topicId), field);
    if (!plan) return false;
    this.#commit(origin, () => this.#store(this.#objects.topicFields, plan, (k) => topicKey(topicId, k)));
    return true;
  }

  correctAssessment(assessmentId: string, correction: AssessmentCorrection, origin: Origin = LOCAL_ORIGIN): boolean {
    const fact = this.getRecordedAssessment(assessmentId);
    if (!fact) throw new Error(`no session with id "${assessmentId}"`);
    const plan = planCorrection(fact, this.#correctionEntries().get(assessmentId) ?? [], correction, this.#clock);
    if (!plan) return false;
    this.#commit(origin, () => this.#store(this.#objects.corrections, plan, (k) => correctionKey(assessmentId, k)));
    return true;
  }

  getRecordedAssessment(assessmentId: string): Assessment | undefined {
    return readStoredAssessment(assessmentId, parseStored(this.#h.get(this.#objects.assessments, assessmentId)));
  }

  isAssessmentDeleted(assessmentId: string): boolean {
    return this.getRecordedAssessment(assessmentId) !== undefined && resolveCorrections(this.#correctionEntries().get(assessmentId) ?? []).deleted === true;
  }

  applyProgress(progress: Progress, origin: Origin = LOCAL_ORIGIN): boolean {
    const { topicId, ...patch } = progress;
    return this.updateTopic(topicId, patch, origin);
  }

  writeInsights(insights: Insights = this.derive(), origin: Origin = LOCAL_ORIGIN): boolean {
    const obj = this.#objects.insights;
    const stale = Object.entries(insights)
      .map(([key, value]) => [key, canonicalJson(value)] as const)
      .filter(([key, json]) => this.#h.get(obj, key) !== json);
    if (stale.length === 0) return false;
    this.#commit(origin, () => {
      for (const [key, json] of stale) this.#h.put(obj, key, json);
    });
    return true;
  }

  getAssessment(assessmentId: string): Assessment | undefined {
    const fact = this.getRecordedAssessment(assessmentId);
    return fact && applyCorrections(fact, resolveCorrections(this.#correctionEntries().get(assessmentId) ?? []));
  }

  assessments(): Assessment[] {
    const obj = this.#objects.assessments;
    const corrections = this.#correctionEntries();
    const out: Assessment[] = [];
    for (const key of this.#h.keys(obj)) {
      const fact = readStoredAssessment(key, parseStored(this.#h.get(obj, key)));
      const a = fact && applyCorrections(fact, resolveCorrections(corrections.get(key) ?? []));
      if (a) out.push(a);
    }
    return out;
  }

  getTopic(topicId: string): TopicState | undefined {
    if (this.#h.get(this.#objects.topicFields, topicKey(topicId, '')) === undefined) return undefined;
    return resolveTopicRecord(this.#topicEntries(topicId)).state;
  }

  updateSettings(patch: SettingsPatch, origin: Origin = LOCAL_ORIGIN): boolean {
    const fields = settingsPatchSchema.parse(patch);
    const obj = this.#objects.meta;
    const writes: [string, string | number | null][] = [];
    for (const key of SETTINGS_KEYS) {
      const value = fields[key];
      if (value === undefined) continue;
      const current = this.#h.get(obj, SETTINGS_PREFIX + key);
      if (value === null ? current !== undefined : current !== value) writes.push([SETTINGS_PREFIX + key, value]);
    }
    if (writes.length === 0) return false;
    this.#commit(origin, () => {
      for (const [key, value] of writes) {
        if (value === null) this.#h.delete(obj, key);
        else if (typeof value === 'number') this.#h.put(obj, key, value, 'int');
        else this.#h.put(obj, key, value);
      }
    });
    return true;
  }

  getSettings(): LearnerSettings {
    return readSettings((key) => this.#h.get(this.#objects.meta, SETTINGS_PREFIX + key));
  }

  facts(): LearnerFacts {
    const obj = this.#objects.topicFields;
    const raw = new Map<string, [string, unknown][]>();
    for (const key of this.#h.keys(obj)) {
      const slash = key.indexOf('/');
      if (slash <= 0) continue;
      const topicId = key.slice(0, slash);
      const rest = key.slice(slash + 1);
      const fields = raw.get(topicId) ?? [];
      fields.push([rest, decodeRegisterValue(rest, this.#h.get(obj, key))]);
      raw.set(topicId, fields);
    }
    const topics: Record<string, TopicState> = {};
    for (const [topicId, fields] of raw) if (fields.some(([k]) => k === '')) topics[topicId] = resolveTopicRecord(fields).state;
    const assessments: Record<string, Assessment> = {};
    for (const a of this.assessments()) if (topics[a.topicId]?.deleted !== true) assessments[a.assessmentId] = a;
    return { assessments, topics, settings: this.getSettings() };
  }

  derive(): Insights {
    return deriveInsights(Object.values(this.facts().assessments));
  }

  storedInsights(): JsonObject {
    const obj = this.#objects.insights;
    const out: JsonObject = {};
    for (const key of this.#h.keys(obj)) {
      const parsed = parseStored(this.#h.get(obj, key));
      if (parsed !== undefined) out[key] = parsed;
    }
    return out;
  }

  toJSON(): LearnerDocumentJSON {
    return buildLearnerJSON(this.facts(), this.storedInsights(), this.schemaVersion());
  }

  observe(listener: (change: LearnerChange) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  onUpdate(listener: (update: Uint8Array) => void): () => void {
    this.#updateListeners.add(listener);
    return () => this.#updateListeners.delete(listener);
  }

  /** Takes changes or saved documents in any order; Automerge queues changes whose deps are missing. */
  applyUpdate(update: Uint8Array, origin: Origin = REMOTE_ORIGIN): void {
    const before = this.#changeListeners.size > 0 ? this.#h.getHeads() : undefined;
    this.#h.loadIncremental(update);
    if (before) this.#emitChange(before, origin, false);
  }

  /**
   * A version vector (actor → highest sequence number), as JSON. Heads alone cannot drive a
   * one-shot diff: after both replicas diverged, neither knows the other's heads.
   */
  syncState(): Uint8Array {
    const clock: Record<string, number> = {};
    for (const meta of this.#h.getChangesMeta([])) clock[meta.actor] = Math.max(clock[meta.actor] ?? 0, meta.seq);
    return new TextEncoder().encode(JSON.stringify(clock));
  }

  /** The changes the holder of `remoteSyncState` lacks, concatenated (what `saveIncremental` emits). */
  encodeDiff(remoteSyncState?: Uint8Array): Uint8Array {
    if (!remoteSyncState) return this.#h.save();
    const clock = decodeClock(remoteSyncState);
    const chunks: Uint8Array[] = [];
    for (const meta of this.#h.getChangesMeta([])) {
      if (meta.seq <= (clock.get(meta.actor) ?? 0)) continue;
      const change = this.#h.getChangeByHash(meta.hash);
      if (change) chunks.push(change);
    }
    return concat(chunks);
  }

  save(): Uint8Array {
    return this.#h.save();
  }

  /**
   * Sorted heads: hashes over the whole change history, equal iff the histories are. (`save()`
   * bytes are not compared: they list changes in arrival order, which differs between replicas.)
   */
  fingerprint(): string {
    return [...this.#h.getHeads()].sort().join(',');
  }

  destroy(): void {
    this.#updateListeners.clear();
    this.#changeListeners.clear();
  }

  /** The raw register keys of one topic (prefix scan of the flat map). */
  #topicEntries(topicId: string): [string, unknown][] {
    const obj = this.#objects.topicFields;
    const prefix = topicKey(topicId, '');
    const out: [string, unknown][] = [];
    for (const key of this.#h.keys(obj)) {
      if (!key.startsWith(prefix) || key === prefix) continue;
      const rest = key.slice(prefix.length);
      out.push([rest, decodeRegisterValue(rest, this.#h.get(obj, key))]);
    }
    return out;
  }

  /** Corrections grouped by session. */
  #correctionEntries(): Map<string, [string, unknown][]> {
    const obj = this.#objects.corrections;
    const out = new Map<string, [string, unknown][]>();
    for (const key of this.#h.keys(obj)) {
      const split = splitCorrectionKey(key);
      if (!split) continue;
      const list = out.get(split[0]) ?? [];
      list.push([split[1], parseStored(this.#h.get(obj, key))]);
      out.set(split[0], list);
    }
    return out;
  }

  /** Writes a register plan into a flat map; stamped values as canonical JSON. */
  #store(obj: string, write: RegisterWrite, keyOf: (key: string) => string): void {
    for (const key of write.delete) this.#h.delete(obj, keyOf(key));
    for (const [key, value] of write.set) {
      if (key.includes('@')) this.#h.put(obj, keyOf(key), canonicalJson(value as JsonValue));
      else this.#h.put(obj, keyOf(key), value as string | boolean);
    }
  }

  #commit(origin: Origin, write: () => void): void {
    const before = this.#changeListeners.size > 0 ? this.#h.getHeads() : undefined;
    write();
    if (this.#h.commit() === null) return;
    const change = this.#h.getLastLocalChange();
    if (change) for (const listener of this.#updateListeners) listener(change);
    if (before) this.#emitChange(before, origin, true);
  }

  #emitChange(before: A.Heads, origin: Origin, local: boolean): void {
    const collector = new PatchCollector();
    collector.callback(this.#h.diff(before, this.#h.getHeads()));
    const change = collector.result(origin, local);
    if (!change) return;
    for (const listener of this.#changeListeners) listener(change);
  }
}

/** Gathers the ids touched by Automerge patches into a {@link LearnerChange}. */
class PatchCollector {
  readonly #assessments = new Set<string>();
  readonly #topics = new Set<string>();
  #insights = false;
  #meta = false;
  #settings = false;

  readonly callback = (patches: A.Patch[]): void => {
    for (const patch of patches) {
      const [root, key] = patch.path;
      if (root === 'assessments' && typeof key === 'string') this.#assessments.add(key);
      else if (root === 'topicFields' && typeof key === 'string') this.#topics.add(key.slice(0, key.indexOf('/')));
      else if (root === 'corrections' && typeof key === 'string') {
        const split = splitCorrectionKey(key);
        if (split) this.#assessments.add(split[0]);
      }
      else if (root === 'insights') this.#insights = true;
      else if (root === 'meta' && typeof key === 'string' && key.startsWith(SETTINGS_PREFIX)) this.#settings = true;
      else if (root === 'meta') this.#meta = true;
    }
  };

  result(origin: Origin, local: boolean): LearnerChange | undefined {
    if (this.#assessments.size === 0 && this.#topics.size === 0 && !this.#insights && !this.#meta && !this.#settings) return undefined;
    return {
      origin,
      local,
      assessments: [...this.#assessments].sort(),
      topics: [...this.#topics].sort(),
      insights: this.#insights,
      meta: this.#meta,
      ...(this.#settings ? { settings: true } : {}),
    };
  }
}

function parseStored(value: unknown): JsonValue | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return JSON.parse(value) as JsonValue;
  } catch {
    // Written by a foreign writer; a value that is not JSON is treated as absent.
    return undefined;
  }
}

function decodeClock(bytes: Uint8Array): Map<string, number> {
  const clock = new Map<string, number>();
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof parsed === 'object' && parsed !== null) {
      for (const [actor, seq] of Object.entries(parsed)) if (typeof seq === 'number') clock.set(actor, seq);
    }
  } catch {
    // An unreadable state is treated as empty: the diff is then everything, which is safe.
  }
  return clock;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function actorOf(replicaId: number | undefined): string | undefined {
  // Automerge actors are hex; a fixed id makes tests and the benchmark reproducible.
  return replicaId === undefined ? undefined : (replicaId + 1).toString(16).padStart(32, '0');
}

/** Builds the Automerge engine; the genesis document is computed once per engine. */
export function createAutomergeEngine(): LearnerModelEngine<AutomergeLearnerDocument> {
  const genesis = automergeGenesis();
  const init = (bytes: Uint8Array, options: ReplicaOptions): AutomergeLearnerDocument => {
    const actor = actorOf(options.replicaId);
    // The JS proxy document is only used to load; from then on the replica owns the handle.
    return new AutomergeLearnerDocument(A.getBackend(A.load<AutomergeLearnerShape>(bytes, actor ? { actor } : undefined)), {
      ...(options.node !== undefined ? { node: options.node } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  };
  return Object.freeze({
    name: 'automerge',
    create: (options: ReplicaOptions = {}) => init(genesis, options),
    load: (bytes: Uint8Array, options: ReplicaOptions = {}) => init(bytes, options),
  });
}
