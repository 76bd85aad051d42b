/**
 * Editing helpers of the topic screen: the length limits the model enforces, shown while typing,
 * and a status list that saves on a deliberate choice rather than on every arrow key.
 */
import { computed, ref, type ComputedRef } from 'vue';

/** Asked before an in-app navigation would throw an unsaved draft away. */
export const LEAVE_DRAFT_QUESTION = 'You have unsaved changes on this page. Leave without saving them?';

export interface TextLimit {
  /** Characters beyond the limit; 0 when the text fits. */
  readonly over: ComputedRef<number>;
  /** The visible counter, naming the excess when there is one. */
  readonly message: ComputedRef<string>;
  /** Changes only when the text crosses the limit, so a live region speaks once, not per key. */
  readonly announcement: ComputedRef<string>;
}

/**
 * A counter for a field the model limits to `max` characters (UTF-16 units, as the schema counts).
 * The field has no `maxlength`: a browser would cut a paste without a word; here the text stays
 * and the learner is told how much to remove.
 */
export function useTextLimit(text: () => string, max: number): TextLimit {
  const over = computed(() => Math.max(0, text().length - max));
  const message = computed(() => {
    const n = text().length;
    return over.value > 0
      ? `${n} / ${max} characters: ${over.value} too many. Shorten it to save.`
      : `${n} / ${max} characters`;
  });
  const announcement = computed(() => (over.value > 0 ? `Too long to save: the limit is ${max} characters.` : ''));
  return { over, message, announcement };
}

/** Keys that move the choice of a closed select without opening its list. */
const STEPPING_KEYS = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown']);

export interface StatusCommit {
  /** What the select shows: the pending choice, else the saved value. */
  readonly shown: ComputedRef<string>;
  /** A keyboard choice waits for Enter or blur. */
  readonly pending: ComputedRef<boolean>;
  onKeydown(event: KeyboardEvent): void;
  onChange(event: Event): void;
  /** Saves the pending choice, if any. */
  commit(): void;
}

/**
 * Browsers fire `change` for every arrow key on a closed select, so saving on `change` wrote one
 * status per key press while the learner was only looking through the list. A choice made by
 * stepping keys is kept pending until Enter or leaving the list; a pick with the pointer or from
 * the opened list (Space, Alt+Down) saves at once.
 */
export function useStatusCommit(saved: () => string, save: (value: string) => void): StatusCommit {
  const choice = ref<string | null>(null);
  let stepping = false;
  const shown = computed(() => choice.value ?? saved());
  const pending = computed(() => choice.value !== null && choice.value !== saved());
  function commit(): void {
    const value = choice.value;
    choice.value = null;
    stepping = false;
    if (value !== null && value !== saved()) save(value);
  }
  return {
    shown,
    pending,
    onKeydown(event) {
      if (event.key === 'Enter') {
        event.preventDefault();
        commit();
        return;
      }
      // Type-ahead (a letter) steps like an arrow; Space, F4 and Alt+arrows open the list instead.
      stepping = !event.altKey && (STEPPING_KEYS.has(event.key) || (event.key.length === 1 && event.key !== ' '));
    },
    onChange(event) {
      const value = (event.target as HTMLSelectElement).value;
      if (stepping) {
        choice.value = value;
        return;
      }
      choice.value = value;
      commit();
    },
    commit,
  };
}
