/**
 * The learner model on Automerge, behind the same {@link LearnerReplica} interface as the Yjs
 * document, so one convergence suite and one benchmark run over both.
 *
 * Automerge is not bound by the Yjs wire shape of CONTRACT §6, and it has the same pitfall as
 * Yjs (a map key holding a nested object is one register; two replicas that each create the
 * object concurrently keep only one of them), so the shape avoids nested creation entirely:
 *
 * - the root maps come from one *genesis change* made with a fixed actor and timestamp, byte-
 *   identical on every replica (each replica loads it instead of creating its own root maps);
 * - `assessments`: assessmentId → canonical JSON of the fact as an `ImmutableString` (an opaque
 *   value, like Yjs' `ContentAny`; Automerge strings would otherwise be collaborative text);
 * - `topicFields`: `"<topicId>/<field>"` → value, flat per-field registers (`/` is not an id
 *   character), plus `"<topicId>/"` marking that the topic exists;
 * - `insights`: key → canonical JSON; `meta.schemaVersion`.
 */
import * as A from '@automerge/automerge';
import { deriveInsights, type Insights } from '../derive.js';
import { canonicalJson, type JsonObject, type JsonValue } from '../json.js';
import { CURRENT_SCHEMA_VERSION, MigrationRegistry, type SchemaStatus } from '../migrations.js';
import {
  TOPIC_FIELDS,
  buildLearnerJSON,
  compactAssessment,
  readStoredAssessment,
  readTopicState,
  type LearnerChange,
  type LearnerDocumentJSON,
  type LearnerFacts,
  type LearnerModelEngine,
  type LearnerReplica,
  type ReplicaOptions,
  type TopicField,
  type TopicState,
} from '../model.js';
import { LOCAL_ORIGIN, REMOTE_ORIGIN, type Origin } from '../origin.js';
import { assessmentSchema, idSchema, topicPatchSchema, type Assessment, type AssessmentInput, type Progress, type TopicPatch } from '../schemas.js';

/** The Automerge document's shape. */
export interface AutomergeLearnerShape {
  assessments: Record<string, A.ImmutableString>;
  topicFields: Record<string, A.ImmutableString>;
  insights: Record<string, A.ImmutableString>;
  meta: { schemaVersion: number };
}

/** Automerge actor of the genesis change; never used by a live replica. */
const GENESIS_ACTOR = '00000000000000000000000000000000';

/** The genesis document: empty root maps and `schemaVersion = 1`, identical everywhere. */
export function automergeGenesis(): Uint8Array {
  const doc = A.change(A.init<AutomergeLearnerShape>({ actor: GENESIS_ACTOR }), { time: 0 }, (d) => {
    d.assessments = {};
    d.topicFields = {};
    d.insights = {};
    d.meta = { schemaVersion: CURRENT_SCHEMA_VERSION };
  });
  return A.save(doc);
}

/** Options of an {@link AutomergeLearnerDocument}. */
export interface AutomergeLearnerDocumentOptions {
  readonly migrations?: MigrationRegistry<AutomergeLearnerShape>;
}

const topicKey = (topicId: string, field: TopicField | ''): string => `${topicId}/${field}`;

/** The learner document on Automerge. */
export class AutomergeLearnerDocument implements LearnerReplica {
  readonly engine = 'automerge';
  #doc: A.Doc<AutomergeLearnerShape>;
  readonly #migrations: MigrationRegistry<AutomergeLearnerShape>;
  readonly #updateListeners = new Set<(update: Uint8Array) => void>();
  readonly #changeListeners = new Set<(change: LearnerChange) => void>();

  constructor(doc: A.Doc<AutomergeLearnerShape>, options: AutomergeLearnerDocumentOptions = {}) {
    this.#doc = doc;
    this.#migrations = options.migrations ?? new MigrationRegistry<AutomergeLearnerShape>();
  }

  /** The current (immutable) Automerge document. */
  get doc(): A.Doc<AutomergeLearnerShape> {
    return this.#doc;
  }

  schemaVersion(): number | null {
    const v = this.#doc.meta?.schemaVersion;
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
      this.#change({ kind: 'migration', from, to }, (d) => {
        step(d, { from, to });
        d.meta.schemaVersion = to;
      });
      migrated.push(to);
      version = to;
    }
    return { version, migrated, supported: version <= target };
  }

  recordAssessment(assessment: AssessmentInput, origin: Origin = LOCAL_ORIGIN): boolean {
    const fact = compactAssessment(assessmentSchema.parse(assessment));
    if (this.#doc.assessments[fact.assessmentId] !== undefined) return false;
    const value = new A.ImmutableString(canonicalJson(fact));
    this.#change(origin, (d) => {
      d.assessments[fact.assessmentId] = value;
    });
    return true;
  }

  updateTopic(topicId: string, patch: TopicPatch, origin: Origin = LOCAL_ORIGIN): boolean {
    const id = idSchema.parse(topicId);
    const fields = topicPatchSchema.parse(patch);
    const current = this.#doc.topicFields;
    const writes: [string, string][] = [];
    if (current[topicKey(id, '')] === undefined) writes.push([topicKey(id, ''), '']);
    for (const field of TOPIC_FIELDS) {
      const value = fields[field];
      if (value !== undefined && current[topicKey(id, field)]?.val !== value) writes.push([topicKey(id, field), value]);
    }
    if (writes.length === 0) return false;
    this.#change(origin, (d) => {
      for (const [key, value] of writes) d.topicFields[key] = new A.ImmutableString(value);
    });
    return true;
  }

  applyProgress(progress: Progress, origin: Origin = LOCAL_ORIGIN): boolean {
    const { topicId, ...patch } = progress;
    return this.updateTopic(topicId, patch, origin);
  }

  writeInsights(insights: Insights = this.derive(), origin: Origin = LOCAL_ORIGIN): boolean {
    const stale = Object.entries(insights)
      .map(([key, value]) => [key, canonicalJson(value)] as const)
      .filter(([key, json]) => this.#doc.insights[key]?.val !== json);
    if (stale.length === 0) return false;
    this.#change(origin, (d) => {
      for (const [key, json] of stale) d.insights[key] = new A.ImmutableString(json);
    });
    return true;
  }

  getAssessment(assessmentId: string): Assessment | undefined {
    return readStoredAssessment(assessmentId, parseStored(this.#doc.assessments[assessmentId]));
  }

  assessments(): Assessment[] {
    const out: Assessment[] = [];
    for (const [key, value] of Object.entries(this.#doc.assessments)) {
      const a = readStoredAssessment(key, parseStored(value));
      if (a) out.push(a);
    }
    return out;
  }

  getTopic(topicId: string): TopicState | undefined {
    const fields = this.#doc.topicFields;
    if (fields[topicKey(topicId, '')] === undefined) return undefined;
    return readTopicState((f) => fields[topicKey(topicId, f)]?.val);
  }

  facts(): LearnerFacts {
    const assessments: Record<string, Assessment> = {};
    for (const a of this.assessments()) assessments[a.assessmentId] = a;
    const raw = new Map<string, Map<string, string>>();
    for (const [key, value] of Object.entries(this.#doc.topicFields)) {
      const slash = key.indexOf('/');
      if (slash <= 0) continue;
      const topicId = key.slice(0, slash);
      const fields = raw.get(topicId) ?? new Map<string, string>();
      fields.set(key.slice(slash + 1), value.val);
      raw.set(topicId, fields);
    }
    const topics: Record<string, TopicState> = {};
    for (const [topicId, fields] of raw) if (fields.has('')) topics[topicId] = readTopicState((f) => fields.get(f));
    return { assessments, topics };
  }

  derive(): Insights {
    return deriveInsights(this.assessments());
  }

  storedInsights(): JsonObject {
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(this.#doc.insights)) {
      const parsed = parseStored(value);
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
    const collector = this.#changeListeners.size > 0 ? new PatchCollector() : undefined;
    this.#doc = A.loadIncremental(this.#doc, update, collector ? { patchCallback: collector.callback } : undefined);
    if (collector) this.#emitChange(collector, origin, false);
  }

  /** The heads, as JSON text. */
  syncState(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(A.getHeads(this.#doc)));
  }

  encodeDiff(remoteSyncState?: Uint8Array): Uint8Array {
    if (!remoteSyncState) return A.save(this.#doc);
    const heads = decodeHeads(remoteSyncState).filter((h) => A.hasHeads(this.#doc, [h]));
    return A.saveSince(this.#doc, heads);
  }

  save(): Uint8Array {
    return A.save(this.#doc);
  }

  /** Sorted heads: they are hashes over the whole change history, equal iff the histories are. */
  fingerprint(): string {
    return [...A.getHeads(this.#doc)].sort().join(',');
  }

  destroy(): void {
    this.#updateListeners.clear();
    this.#changeListeners.clear();
  }

  #change(origin: Origin, fn: (d: AutomergeLearnerShape) => void): void {
    const before = A.getHeads(this.#doc);
    const collector = this.#changeListeners.size > 0 ? new PatchCollector() : undefined;
    this.#doc = A.change(this.#doc, collector ? { patchCallback: collector.callback } : {}, fn);
    if (sameHeads(before, A.getHeads(this.#doc))) return;
    const change = A.getLastLocalChange(this.#doc);
    if (change) for (const listener of this.#updateListeners) listener(change);
    if (collector) this.#emitChange(collector, origin, true);
  }

  #emitChange(collector: PatchCollector, origin: Origin, local: boolean): void {
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

  readonly callback = (patches: A.Patch[]): void => {
    for (const patch of patches) {
      const [root, key] = patch.path;
      if (root === 'assessments' && typeof key === 'string') this.#assessments.add(key);
      else if (root === 'topicFields' && typeof key === 'string') this.#topics.add(key.slice(0, key.indexOf('/')));
      else if (root === 'insights') this.#insights = true;
      else if (root === 'meta') this.#meta = true;
    }
  };

  result(origin: Origin, local: boolean): LearnerChange | undefined {
    if (this.#assessments.size === 0 && this.#topics.size === 0 && !this.#insights && !this.#meta) return undefined;
    return {
      origin,
      local,
      assessments: [...this.#assessments].sort(),
      topics: [...this.#topics].sort(),
      insights: this.#insights,
      meta: this.#meta,
    };
  }
}

function parseStored(value: A.ImmutableString | undefined): JsonValue | undefined {
  if (value === undefined || typeof value.val !== 'string') return undefined;
  try {
    return JSON.parse(value.val) as JsonValue;
  } catch {
    // Written by a foreign writer; a value that is not JSON is treated as absent.
    return undefined;
  }
}

function decodeHeads(bytes: Uint8Array): string[] {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return Array.isArray(parsed) ? parsed.filter((h): h is string => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)) : [];
  } catch {
    return [];
  }
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((h, i) => h === b[i]);
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
    return new AutomergeLearnerDocument(A.load<AutomergeLearnerShape>(bytes, actor ? { actor } : undefined));
  };
  return Object.freeze({
    name: 'automerge',
    create: (options: ReplicaOptions = {}) => init(genesis, options),
    load: (bytes: Uint8Array, options: ReplicaOptions = {}) => init(bytes, options),
  });
}
