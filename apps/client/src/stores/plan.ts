/**
 * The practice plan of the signed-in learner, computed on this device from the learner document
 * (offline too) with the model's {@link PlanModel}. The model keeps each card's replayed FSRS
 * state, so logging an assessment re-replays only the cards it touches instead of the whole
 * history; the plan updates in the same tick the document changes, whoever changed it.
 * Settings (interview date, daily minutes) live in the document and sync like everything else.
 */
import {
  PlanModel,
  readCoachingNote,
  settingsPatchSchema,
  type CoachingNote,
  type LearnerDocument,
  type LearnerSettings,
  type PlanCard,
  type PracticePlan,
  type SettingsPatch,
  type TopicState,
} from '@prepmate/crdt-model';
import { defineStore } from 'pinia';
import { computed, shallowRef, watch } from 'vue';
import { useSyncStore } from './sync';

const DAY_MS = 86_400_000;
/** How often the store checks whether the UTC day (and so the plan) has changed. */
const DAY_CHECK_MS = 60_000;

export const usePlanStore = defineStore('plan', () => {
  const sync = useSyncStore();
  /** Bumped when the model's input changed; the plan is recomputed lazily from it. */
  const revision = shallowRef(0);
  const settings = shallowRef<LearnerSettings>({});
  const note = shallowRef<CoachingNote | null>(null);
  /** The UTC day the plan is for (ms at its start); moves at midnight UTC. */
  const day = shallowRef(startOfDay(Date.now()));
  let model = new PlanModel();
  let detach: (() => void) | null = null;

  function attach(doc: LearnerDocument): () => void {
    model = new PlanModel();
    const facts = doc.facts();
    const topics: Record<string, TopicState> = { ...facts.topics };
    model.setFacts(facts);
    settings.value = doc.getSettings();
    note.value = readCoachingNote(doc.storedInsights());
    revision.value++;
    const off = doc.observe((change) => {
      let dirty = false;
      if (change.assessments.length > 0) {
        const added = [...doc.getAssessments(change.assessments).values()].filter((a) => a !== undefined);
        dirty = model.addAssessments(added).length > 0 || dirty;
      }
      if (change.topics.length > 0) {
        for (const id of change.topics) {
          const t = doc.getTopic(id);
          if (t) topics[id] = t;
          else delete topics[id];
        }
        model.setTopics({ ...topics });
        dirty = true;
      }
      if (change.settings) {
        settings.value = doc.getSettings();
        dirty = true;
      }
      if (change.insights) note.value = readCoachingNote(doc.storedInsights());
      if (dirty) revision.value++;
    });
    const timer = setInterval(() => {
      const today = startOfDay(Date.now());
      if (today !== day.value) day.value = today;
    }, DAY_CHECK_MS);
    return () => {
      off();
      clearInterval(timer);
    };
  }

  watch(
    () => sync.session,
    (session) => {
      detach?.();
      detach = null;
      model = new PlanModel();
      settings.value = {};
      note.value = null;
      revision.value++;
      if (session) detach = attach(session.document);
    },
    { immediate: true },
  );

  const plan = computed<PracticePlan>(() => {
    void revision.value;
    return model.plan({ now: day.value, settings: settings.value });
  });

  /** Each topic's card, for due dates and recall estimates beside the topic. */
  const topicCards = computed(() => {
    const out = new Map<string, PlanCard>();
    for (const card of plan.value.cards) if (card.kind === 'topic') out.set(card.label, card);
    return out;
  });

  /** The coaching note, only while it belongs to today's plan. */
  const coaching = computed(() => (note.value && note.value.planDay === plan.value.today ? note.value : null));

  /**
   * Sets or clears settings in the learner document (merged across devices like any field).
   * @throws ZodError when the patch is invalid (the form validates first).
   */
  function updateSettings(patch: SettingsPatch): boolean {
    const fields = settingsPatchSchema.parse(patch);
    const doc = sync.session?.document;
    if (!doc) throw new Error('No learner is signed in.');
    const changed = doc.updateSettings(fields);
    if (changed) sync.track('settings_updated', { fields: Object.keys(fields).filter((k) => fields[k as keyof SettingsPatch] !== undefined) });
    return changed;
  }

  return { plan, settings, topicCards, coaching, updateSettings };
});

function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}
