import type { Assessment } from '@prepmate/crdt-model';
import type { EventKey, Store } from '../storage/ports.js';
import { EVENTS_PER_LEARNER, eventSamples, sampleOf } from './samples.js';

/**
 * The samples of each learner's most recent events, kept between insights refreshes so that a
 * refresh reads from the store only the events stored since the last one (`recentEvents` with a
 * position), not the same 200 rows every time. What `read` answers is always what
 * `eventSamples` of a complete read would give: the store proves each incremental answer or
 * gives a complete one (any event deleted since, a store without a shared insertion order).
 */
export interface RecentSamples {
  /** The scored samples among the learner's {@link EVENTS_PER_LEARNER} most recent events, newest first. */
  read(userId: string): Promise<Assessment[]>;
  /** Drops what is kept of the learner (erasure): nothing derived from erased events stays in memory. */
  forget(userId: string): void;
}

export interface RecentSamplesLimits {
  /** Learners kept at most; the least recently refreshed go first. Default 2 000. */
  readonly maxLearners?: number;
  /** Estimated bytes kept at most, all learners together. Default 32 MiB. */
  readonly maxBytes?: number;
  /** A learner whose samples are estimated larger is not kept (read completely each time). Default 1 MiB. */
  readonly maxLearnerBytes?: number;
  /** A learner not refreshed for this long is forgotten at the next read of anyone. Default 10 min. */
  readonly idleMs?: number;
  /** Monotonic ms (tests). */
  readonly now?: () => number;
}

interface Kept {
  /** The learner's most recent events, newest first: each one's place in the order, and its sample (null: not scored). */
  readonly keys: readonly EventKey[];
  readonly samples: readonly (Assessment | null)[];
  /** The store's position of the read these came from. */
  readonly position: string;
  readonly bytes: number;
  readonly usedAt: number;
}

/** Per event: the key, the array slots, the object headers. */
const ENTRY_BYTES = 96;
const stringBytes = (s: string): number => 16 + 2 * s.length;

function sampleBytes(s: Assessment | null): number {
  if (s === null) return ENTRY_BYTES;
  let n = ENTRY_BYTES + 64 + stringBytes(s.assessmentId) + stringBytes(s.topicId) + stringBytes(s.completedAt);
  for (const area of s.weakAreas ?? []) n += 8 + stringBytes(area);
  return n;
}

/** a ranks before b in the newest-first order. */
const before = (a: EventKey, b: EventKey): boolean => a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.seq > b.seq);

export function createRecentSamples(store: Pick<Store, 'telemetry'>, limits: RecentSamplesLimits = {}): RecentSamples {
  const maxLearners = limits.maxLearners ?? 2_000;
  const maxBytes = limits.maxBytes ?? 32 * 1024 * 1024;
  const maxLearnerBytes = limits.maxLearnerBytes ?? 1024 * 1024;
  const idleMs = limits.idleMs ?? 10 * 60_000;
  const now = limits.now ?? (() => performance.now());
  /** In order of last use, least recent first (a Map keeps insertion order; a use re-inserts). */
  const learners = new Map<string, Kept>();
  let bytes = 0;
  /** Bumped by every `forget`: a read that started before one does not keep what it read. */
  let forgets = 0;

  function drop(userId: string): void {
    const kept = learners.get(userId);
    if (kept === undefined) return;
    learners.delete(userId);
    bytes -= kept.bytes;
  }

  function keep(userId: string, kept: Kept): void {
    drop(userId);
    if (kept.bytes > maxLearnerBytes) return;
    learners.set(userId, kept);
    bytes += kept.bytes;
    const idleBefore = kept.usedAt - idleMs;
    for (const [id, k] of learners) {
      if (learners.size <= maxLearners && bytes <= maxBytes && k.usedAt >= idleBefore) break;
      if (id === userId) break;
      drop(id);
    }
  }

  return {
    async read(userId) {
      const started = forgets;
      const kept = learners.get(userId);
      const full = kept !== undefined && kept.keys.length >= EVENTS_PER_LEARNER;
      const page = await store.telemetry.recentEvents(userId, {
        limit: EVENTS_PER_LEARNER,
        ...(kept === undefined ? {} : { after: { position: kept.position, oldest: full ? kept.keys[EVENTS_PER_LEARNER - 1]! : null } }),
      });
      if (page.resume === null) return eventSamples(page.events);
      const fresh = page.events.map(sampleOf);
      let keys: readonly EventKey[] = page.resume.keys;
      let samples: readonly (Assessment | null)[] = fresh;
      if (page.incremental && kept !== undefined) {
        // Two newest-first lists without a common event (the new ones were stored after the
        // position, the kept ones at or before it): merged, the first EVENTS_PER_LEARNER are
        // the learner's most recent events.
        const mergedKeys: EventKey[] = [];
        const mergedSamples: (Assessment | null)[] = [];
        let i = 0;
        let j = 0;
        while (mergedKeys.length < EVENTS_PER_LEARNER && (i < keys.length || j < kept.keys.length)) {
          if (j >= kept.keys.length || (i < keys.length && before(keys[i]!, kept.keys[j]!))) {
            mergedKeys.push(keys[i]!);
            mergedSamples.push(fresh[i]!);
            i++;
          } else {
            mergedKeys.push(kept.keys[j]!);
            mergedSamples.push(kept.samples[j]!);
            j++;
          }
        }
        keys = mergedKeys;
        samples = mergedSamples;
      }
      if (forgets === started) {
        let size = 0;
        for (const s of samples) size += sampleBytes(s);
        keep(userId, { keys, samples, position: page.resume.position, bytes: size, usedAt: now() });
      }
      const out: Assessment[] = [];
      for (const s of samples) if (s !== null) out.push(s);
      return out;
    },

    forget(userId) {
      forgets += 1;
      drop(userId);
    },
  };
}
