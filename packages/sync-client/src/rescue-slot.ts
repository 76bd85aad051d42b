import type { RescueStore } from './ports.js';

/**
 * One instance's key in a {@link RescueStore} (`<prefix><instanceId>`), and the keys other
 * instances under the same prefix left behind. Shared by the outbox and the document: both copy
 * what they have not written yet when the page goes away, and take it back at the next start.
 * The store may refuse or throw at any time (quota, storage disabled): a rescue is best effort,
 * never a reason to fail.
 */
export interface RescueSlot {
  /** Writes this instance's copy (replacing the previous one); a refusal is ignored. */
  save(value: string): void;
  /** Removes this instance's copy, if it wrote one. */
  clear(): void;
  /** The copies other instances left under the prefix. */
  leftovers(): { key: string; value: string }[];
  remove(key: string): void;
}

export function createRescueSlot(store: RescueStore, prefix: string, instanceId: string): RescueSlot {
  const ownKey = `${prefix}${instanceId}`;
  let saved = false;
  const remove = (key: string): void => {
    try {
      store.remove(key);
    } catch {
      // a copy left behind is harmless: whoever takes it back de-duplicates
    }
  };
  return {
    save(value) {
      try {
        store.set(ownKey, value);
        saved = true;
      } catch {
        // quota or storage disabled: nothing more a page going away can do
      }
    },
    clear() {
      if (!saved) return;
      remove(ownKey);
      saved = false;
    },
    leftovers() {
      const out: { key: string; value: string }[] = [];
      try {
        for (const key of store.keys()) {
          if (!key.startsWith(prefix) || key === ownKey) continue;
          out.push({ key, value: store.get(key) ?? '' });
        }
      } catch {
        // unreadable store: nothing to take back
      }
      return out;
    },
    remove,
  };
}
