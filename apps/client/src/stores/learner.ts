/**
 * A reactive mirror of the learner document. It subscribes to the document's deep changes
 * (`LearnerDocument.observe`: one callback per transaction with the ids it touched, i.e. what
 * `observeDeep` on the four maps reports) and re-reads only those entries: no polling, and a
 * remote edit shows up in the same tick it is applied. Derived values (mastery, weak areas,
 * trends) are computed here from the facts with the model's pure functions, so they are right
 * even before the server has written its `insights`.
 */
import {
  assertNotInFuture,
  assessmentSchema,
  compareAssessments,
  deriveTopicOfSorted,
  effectiveTopicStatus,
  sortAssessments,
  topicIdForName,
  topicNameKey,
  insightsOfTopics,
  topicNameSchema,
  topicPatchSchema,
  type Assessment,
  type TopicDerivation,
  type AssessmentCorrection,
  type AssessmentInput,
  type ConflictField,
  type Insights,
  type LearnerDocument,
  type LosingValue,
  type TopicPatch,
  type TopicState,
  type TopicStatus,
} from '@prepmate/crdt-model';
import { topicLabel } from '../format';
import { defineStore } from 'pinia';
import { computed, shallowRef, triggerRef, watch } from 'vue';
import { useSyncStore } from './sync';

/** A topic as the screens list it. */
export interface TopicSummary extends TopicState {
  readonly topicId: string;
  /** The learner's name for it, or a readable form of the id for topics made before names. */
  readonly label: string;
  /** What the topic shows: the learner's choice, else "in progress" once practised. */
  readonly status: TopicStatus;
  /** 0–1; `null` without sessions ("no data", not 0 %). */
  readonly mastery: number | null;
  readonly assessmentCount: number;
  readonly lastScore: number | null;
}

/** A field of a topic where this device's edit lost to a newer one made without seeing it. */
export interface MyLosingEdit {
  readonly field: ConflictField;
  /** The value the topic shows now. */
  readonly current: string | boolean | undefined;
  /** This device's value that lost (the newest, when several). */
  readonly mine: LosingValue;
}

/** Topics the app suggests before the learner has any. */
export const SUGGESTED_TOPICS = ['algorithms', 'data-structures', 'system-design', 'behavioral', 'sql', 'javascript'] as const;

export const useLearnerStore = defineStore('learner', () => {
  const sync = useSyncStore();
  const assessments = shallowRef<Readonly<Record<string, Assessment>>>({});
  const topics = shallowRef<Readonly<Record<string, TopicState>>>({});
  /**
   * Every session (deleted topics' too) in the model's order, kept sorted as sessions change:
   * logging one session into a year inserts it rather than sorting 20 000 again.
   */
  const sorted = shallowRef<readonly Assessment[]>([]);
  /** Bumped on every observed change; lets screens notice remote edits of one topic. */
  const revision = shallowRef(0);
  let detach: (() => void) | null = null;
  /**
   * Mastery and trend by topic, kept until one of the topic's sessions changes: logging one
   * session then re-derives one topic, not all of a year's sessions, for the topic list and the
   * insights alike. `sessionsChanged` is how often the topic's sessions changed since the
   * document was attached.
   */
  const topicCache = new Map<string, { readonly sessionsChanged: number; readonly derived: TopicDerivation }>();
  const sessionsChanged = new Map<string, number>();
  const touch = (topicId: string | undefined): void => {
    if (topicId !== undefined) sessionsChanged.set(topicId, (sessionsChanged.get(topicId) ?? 0) + 1);
  };

  function reset(): void {
    topicCache.clear();
    sessionsChanged.clear();
    assessments.value = {};
    sorted.value = [];
    topics.value = {};
    revision.value++;
  }

  /** Where `a` is or would go in `list` (sorted by `compareAssessments`). */
  function position(list: readonly Assessment[], a: Assessment): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareAssessments(list[mid]!, a) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `sorted` after the sessions `ids` changed from `before` to `after`. */
  function resort(ids: readonly string[], before: Readonly<Record<string, Assessment>>, after: Readonly<Record<string, Assessment>>): readonly Assessment[] {
    // Past a few dozen changes (a load, a merge after being offline), one sort is cheaper.
    if (ids.length > 64) return sortAssessments(Object.values(after));
    const list = [...sorted.value];
    for (const id of ids) {
      const old = before[id];
      if (old) {
        const at = position(list, old);
        if (list[at] === old) list.splice(at, 1);
        else return sortAssessments(Object.values(after));
      }
      const now = after[id];
      if (now) list.splice(position(list, now), 0, now);
    }
    return list;
  }

  function attach(doc: LearnerDocument): () => void {
    // Every session, deleted topics' too (as the change path keeps them): restoring a topic
    // brings its sessions back without a reload.
    const all = doc.assessments();
    const record: Record<string, Assessment> = {};
    for (const a of all) record[a.assessmentId] = a;
    assessments.value = record;
    sorted.value = sortAssessments(all);
    topics.value = doc.topics();
    revision.value++;
    return doc.observe((change) => {
      if (change.assessments.length > 0) {
        // Changed in place: copying a year of sessions for each one logged was most of the
        // task that saves it (≈ 20 ms for 20 000). Only this store writes the record.
        const current = assessments.value as Record<string, Assessment>;
        const before: Record<string, Assessment> = {};
        const read = doc.getAssessments(change.assessments);
        for (const id of change.assessments) {
          const old = current[id];
          const a = read.get(id);
          // A correction may move a session to another topic: both topics change.
          touch(old?.topicId);
          touch(a?.topicId);
          if (old) before[id] = old;
          if (a) current[id] = a;
          else delete current[id];
        }
        sorted.value = resort(change.assessments, before, current);
        triggerRef(assessments);
      }
      if (change.topics.length > 0) {
        const next = { ...topics.value };
        for (const id of change.topics) {
          const t = doc.getTopic(id);
          if (t) next[id] = t;
          else delete next[id];
        }
        topics.value = next;
      }
      revision.value++;
    });
  }

  watch(
    () => sync.session,
    (session) => {
      detach?.();
      detach = null;
      reset();
      if (session) detach = attach(session.document);
    },
    { immediate: true },
  );

  /** Sessions oldest first (stable order of the model), without those of deleted topics. */
  const timeline = computed(() => {
    const deleted = Object.keys(topics.value).filter((id) => topics.value[id]?.deleted === true);
    if (deleted.length === 0) return sorted.value;
    const gone = new Set(deleted);
    return sorted.value.filter((a) => !gone.has(a.topicId));
  });
  const recentAssessments = computed(() => [...timeline.value].reverse());

  /** The timeline's sessions by topic, each list in timeline order. */
  const sessionsByTopic = computed(() => {
    const byTopic = new Map<string, Assessment[]>();
    for (const a of timeline.value) {
      const list = byTopic.get(a.topicId);
      if (list) list.push(a);
      else byTopic.set(a.topicId, [a]);
    }
    return byTopic;
  });

  /** A topic's derivation from its (non-empty, sorted) sessions, from the cache while they are unchanged. */
  function derivedOf(topicId: string, sessions: readonly Assessment[]): TopicDerivation {
    const version = sessionsChanged.get(topicId) ?? 0;
    let cached = topicCache.get(topicId);
    if (cached?.sessionsChanged !== version) {
      cached = { sessionsChanged: version, derived: deriveTopicOfSorted(sessions) };
      topicCache.set(topicId, cached);
    }
    return cached.derived;
  }

  // The timeline is kept in `sortAssessments` order, so nothing here sorts it again, and only
  // topics whose sessions changed are derived again.
  const insights = computed<Insights>(() => {
    const derived = new Map<string, TopicDerivation>();
    for (const [topicId, sessions] of sessionsByTopic.value) derived.set(topicId, derivedOf(topicId, sessions));
    return insightsOfTopics(timeline.value, derived);
  });

  const topicList = computed<TopicSummary[]>(() => {
    const byTopic = sessionsByTopic.value;
    const ids = [...new Set([...Object.keys(topics.value), ...byTopic.keys()])].filter((id) => topics.value[id]?.deleted !== true);
    const list = ids.map((topicId): TopicSummary => {
      const sessions = byTopic.get(topicId) ?? [];
      const state = topics.value[topicId];
      return {
        ...state,
        topicId,
        label: labelOf(topicId),
        status: effectiveTopicStatus(state, sessions.length),
        mastery: sessions.length === 0 ? null : derivedOf(topicId, sessions).mastery,
        assessmentCount: sessions.length,
        lastScore: sessions.at(-1)?.score ?? null,
      };
    });
    // By name as people read it (locale order is fine here: it only orders a list on screen).
    return list.sort((a, b) => a.label.localeCompare(b.label) || (a.topicId < b.topicId ? -1 : 1));
  });
  const activeTopics = computed(() => topicList.value.filter((t) => t.archived !== true));
  const archivedTopics = computed(() => topicList.value.filter((t) => t.archived === true));

  function topic(topicId: string): TopicSummary | undefined {
    return topicList.value.find((t) => t.topicId === topicId);
  }

  /** The display name of a topic: its name, else a readable form of its id. */
  function labelOf(topicId: string): string {
    return topics.value[topicId]?.name ?? topicLabel(topicId);
  }

  /**
   * The topic a typed name means: an existing topic whose name (or id) has the same key, else
   * the id a new topic of that name gets (the same on every device).
   * @throws ZodError when the name is not a valid topic name.
   */
  function resolveTopicName(name: string): string {
    const valid = topicNameSchema.parse(name);
    const key = topicNameKey(valid);
    const existing = Object.keys(topics.value).find((id) => topics.value[id]?.deleted !== true && (topicNameKey(labelOf(id)) === key || id === key));
    if (existing) return existing;
    // The derived id may belong to a topic since renamed to something else: take the next free
    // one ("-2", "-3", …) rather than log into the renamed topic.
    const base = topicIdForName(valid);
    let id = base;
    for (let n = 2; topics.value[id] && topicNameKey(labelOf(id)) !== key && id !== key; n++) id = `${base}-${n}`;
    return id;
  }

  /**
   * Opens or creates the topic called `name` and returns its id. A deleted topic of that name
   * is restored (with its sessions) rather than shadowed by a second one.
   * @throws ZodError when the name is not a valid topic name.
   */
  function createTopic(name: string): string {
    const valid = topicNameSchema.parse(name);
    const id = resolveTopicName(valid);
    // A name typed as the id itself ("sql", "system-design") keeps the readable label ("SQL").
    const named = valid === id ? {} : { name: valid };
    const state = requireDocument().getTopic(id);
    if (!state) updateTopic(id, named);
    else if (state.deleted === true) updateTopic(id, { deleted: false, ...named });
    return id;
  }

  /** This device's edits of `topicId` that lost to newer edits made without seeing them. */
  function myLosingEdits(topicId: string): MyLosingEdit[] {
    // Read the mirror so that screens recompute when the topic changes.
    void topics.value[topicId];
    void revision.value;
    const doc = sync.session?.document;
    if (!doc) return [];
    const out: MyLosingEdit[] = [];
    for (const c of doc.topicConflicts(topicId)) {
      const mine = c.losing.find((l) => l.node === doc.node);
      if (mine) out.push({ field: c.field, current: c.value, mine });
    }
    return out;
  }

  /** "Restore mine": writes this device's losing value again, as a new edit that wins everywhere. */
  function restoreMine(topicId: string, field: ConflictField): boolean {
    const edit = myLosingEdits(topicId).find((e) => e.field === field);
    if (!edit) return false;
    return updateTopic(topicId, { [field]: edit.mine.value } as Omit<TopicPatch, 'updatedAt'>);
  }

  /** "Keep this": forgets the losing values of the field on every device. */
  function keepCurrent(topicId: string, field: ConflictField): boolean {
    return requireDocument().dismissTopicConflict(topicId, field);
  }

  function assessmentsOf(topicId: string): Assessment[] {
    return recentAssessments.value.filter((a) => a.topicId === topicId);
  }

  function requireDocument(): LearnerDocument {
    const doc = sync.session?.document;
    if (!doc) throw new Error('No learner is signed in.');
    return doc;
  }

  /**
   * Records an assessment (an immutable fact) and reports it. Returns `false` when an
   * assessment with this id already exists.
   * @throws ZodError when the input is invalid (the form validates first).
   */
  function logAssessment(input: AssessmentInput): boolean {
    const fact = assessmentSchema.parse(input);
    assertNotInFuture(fact.completedAt);
    const added = requireDocument().recordAssessment(fact);
    if (added) {
      sync.track('assessment_logged', {
        assessmentId: fact.assessmentId,
        topicId: fact.topicId,
        kind: fact.kind ?? 'assessment',
        score: fact.score,
      });
    }
    return added;
  }

  /**
   * Sets some fields of a topic (each one a last-writer-wins register in the document, so two
   * devices editing different fields both keep their edit) and reports which fields changed.
   */
  function updateTopic(topicId: string, patch: Omit<TopicPatch, 'updatedAt'>): boolean {
    const fields = topicPatchSchema.parse(patch);
    const doc = requireDocument();
    const current = doc.getTopic(topicId);
    const changedFields = (['name', 'status', 'goal', 'notes', 'archived', 'deleted'] as const).filter((k) => fields[k] !== undefined && fields[k] !== current?.[k]);
    // Only real changes move `updatedAt`: a no-op save must not win a last-writer-wins race.
    if (current && changedFields.length === 0) return false;
    doc.updateTopic(topicId, { ...fields, updatedAt: new Date().toISOString() });
    sync.track('topic_updated', { topicId, fields: changedFields });
    return true;
  }

  /**
   * Corrects a logged session (the original stays in the document; the correction wins).
   * @throws ZodError when the correction is invalid or dates the session in the future.
   */
  function correctSession(assessmentId: string, correction: AssessmentCorrection): boolean {
    if (correction.completedAt) assertNotInFuture(correction.completedAt);
    const changed = requireDocument().correctAssessment(assessmentId, correction);
    if (changed) sync.track('session_corrected', { assessmentId, fields: Object.keys(correction).filter((k) => k !== 'deleted') });
    return changed;
  }

  /** Deletes a session (a tombstone: undoable, and every device leaves it out of its values). */
  function deleteSession(assessmentId: string): boolean {
    const changed = requireDocument().correctAssessment(assessmentId, { deleted: true });
    if (changed) sync.track('session_deleted', { assessmentId });
    return changed;
  }

  function restoreSession(assessmentId: string): boolean {
    return requireDocument().correctAssessment(assessmentId, { deleted: false });
  }

  /**
   * Renames a topic (its id, and so its sessions and links, stay).
   * @throws ZodError when the name is not a valid topic name.
   */
  function renameTopic(topicId: string, name: string): boolean {
    return updateTopic(topicId, { name: topicNameSchema.parse(name) });
  }

  function setArchived(topicId: string, archived: boolean): boolean {
    return updateTopic(topicId, { archived });
  }

  /** Deletes a topic (a tombstone: its sessions leave every value until it is restored). */
  function setDeleted(topicId: string, deleted: boolean): boolean {
    return updateTopic(topicId, { deleted });
  }

  return {
    assessments,
    activeTopics,
    archivedTopics,
    labelOf,
    resolveTopicName,
    createTopic,
    myLosingEdits,
    restoreMine,
    keepCurrent,
    correctSession,
    deleteSession,
    restoreSession,
    renameTopic,
    setArchived,
    setDeleted,
    topics,
    revision,
    timeline,
    recentAssessments,
    insights,
    topicList,
    topic,
    assessmentsOf,
    logAssessment,
    updateTopic,
  };
});
