/**
 * A reactive mirror of the learner document. It subscribes to the document's deep changes
 * (`LearnerDocument.observe`: one callback per transaction with the ids it touched, i.e. what
 * `observeDeep` on the four maps reports) and re-reads only those entries: no polling, and a
 * remote edit shows up in the same tick it is applied. Derived values (mastery, weak areas,
 * trends) are computed here from the facts with the model's pure functions, so they are right
 * even before the server has written its `insights`.
 */
import {
  assessmentSchema,
  computeTopicMastery,
  deriveInsights,
  sortAssessments,
  topicPatchSchema,
  type Assessment,
  type AssessmentInput,
  type Insights,
  type LearnerDocument,
  type TopicPatch,
  type TopicState,
} from '@prepmate/crdt-model';
import { defineStore } from 'pinia';
import { computed, shallowRef, watch } from 'vue';
import { useSyncStore } from './sync';

/** A topic as the screens list it. */
export interface TopicSummary extends TopicState {
  readonly topicId: string;
  /** 0–1; 0 without assessments. */
  readonly mastery: number;
  readonly assessmentCount: number;
  readonly lastScore: number | null;
}

/** Topics the app suggests before the learner has any. */
export const SUGGESTED_TOPICS = ['algorithms', 'data-structures', 'system-design', 'behavioral', 'sql', 'javascript'] as const;

export const useLearnerStore = defineStore('learner', () => {
  const sync = useSyncStore();
  const assessments = shallowRef<Readonly<Record<string, Assessment>>>({});
  const topics = shallowRef<Readonly<Record<string, TopicState>>>({});
  /** Bumped on every observed change; lets screens notice remote edits of one topic. */
  const revision = shallowRef(0);
  let detach: (() => void) | null = null;

  function reset(): void {
    assessments.value = {};
    topics.value = {};
    revision.value++;
  }

  function attach(doc: LearnerDocument): () => void {
    const facts = doc.facts();
    assessments.value = facts.assessments;
    topics.value = facts.topics;
    revision.value++;
    return doc.observe((change) => {
      if (change.assessments.length > 0) {
        const next = { ...assessments.value };
        for (const id of change.assessments) {
          const a = doc.getAssessment(id);
          if (a) next[id] = a;
          else delete next[id];
        }
        assessments.value = next;
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

  /** Assessments oldest first (stable order of the model). */
  const timeline = computed(() => sortAssessments(Object.values(assessments.value)));
  const recentAssessments = computed(() => [...timeline.value].reverse());
  const insights = computed<Insights>(() => deriveInsights(timeline.value));

  const topicList = computed<TopicSummary[]>(() => {
    const byTopic = new Map<string, Assessment[]>();
    for (const a of timeline.value) {
      const list = byTopic.get(a.topicId);
      if (list) list.push(a);
      else byTopic.set(a.topicId, [a]);
    }
    const ids = [...new Set([...Object.keys(topics.value), ...byTopic.keys()])].sort();
    return ids.map((topicId) => {
      const list = byTopic.get(topicId) ?? [];
      return {
        ...topics.value[topicId],
        topicId,
        mastery: computeTopicMastery(list),
        assessmentCount: list.length,
        lastScore: list.at(-1)?.score ?? null,
      };
    });
  });

  function topic(topicId: string): TopicSummary | undefined {
    return topicList.value.find((t) => t.topicId === topicId);
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
    const changedFields = (['status', 'goal', 'notes'] as const).filter((k) => fields[k] !== undefined && fields[k] !== current?.[k]);
    // Only real changes move `updatedAt`: a no-op save must not win a last-writer-wins race.
    if (current && changedFields.length === 0) return false;
    doc.updateTopic(topicId, { ...fields, updatedAt: new Date().toISOString() });
    sync.track('topic_updated', { topicId, fields: changedFields });
    return true;
  }

  return {
    assessments,
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
