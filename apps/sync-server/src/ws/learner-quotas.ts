/**
 * Quotas one learner shares over all its sockets on this instance: how many sockets are open and
 * how many update bytes per second they may write (one token bucket per learner). Owned by the
 * endpoint; a learner's entry lives while it has a socket open or its write budget is still
 * refilling (so closing and reconnecting does not refill it), so memory follows the learners
 * connected in the last `burst / rate` seconds, not everyone who ever connected.
 *
 * Per instance, not global: with several instances (`REDIS_URL`) a learner may hold this many
 * sockets and this write rate on each of them. A global count would cost a Redis round trip per
 * upgrade and per frame, and a crashed instance would leave counts nobody decrements.
 */

export interface LearnerQuotaLimits {
  /** Sockets one learner may hold open (`SYNC_MAX_SOCKETS_PER_LEARNER`). */
  readonly maxSocketsPerLearner: number;
  /** Sustained update bytes per second (`SYNC_WRITE_BYTES_PER_SECOND`). */
  readonly writeBytesPerSecond: number;
  /** Bucket size, bytes (`SYNC_WRITE_BURST_BYTES`). */
  readonly writeBurstBytes: number;
}

interface LearnerEntry {
  sockets: number;
  /** Bytes left in the bucket; may go below zero by the last frame admitted. */
  budget: number;
  refilledAt: number;
}

export interface LearnerQuotas {
  /** Counts a new socket of `learner`; false (and nothing counted) when the learner is at the cap. */
  openSocket(learner: string): boolean;
  /** The socket opened by a successful {@link openSocket} closed. */
  closeSocket(learner: string): void;
  /**
   * Takes `bytes` of update from `learner`'s budget. A frame is admitted while any budget is left
   * (so one message of any accepted size gets through a full bucket) and then paid in full; once
   * the budget is spent, frames are refused until it refills. Over `t` seconds a learner writes at
   * most `burst + rate × t` plus one message.
   */
  takeWriteBytes(learner: string, bytes: number, now: number): boolean;
  /** Forgets learners without sockets whose budget has refilled (the endpoint's ping timer calls it). */
  sweep(now: number): void;
  /** Open sockets of `learner` (tests, status). */
  sockets(learner: string): number;
}

export function createLearnerQuotas(limits: LearnerQuotaLimits): LearnerQuotas {
  const learners = new Map<string, LearnerEntry>();
  const refill = (entry: LearnerEntry, now: number): void => {
    entry.budget = Math.min(limits.writeBurstBytes, entry.budget + (Math.max(0, now - entry.refilledAt) / 1000) * limits.writeBytesPerSecond);
    entry.refilledAt = now;
  };
  const forgettable = (entry: LearnerEntry, now: number): boolean => {
    refill(entry, now);
    return entry.sockets <= 0 && entry.budget >= limits.writeBurstBytes;
  };
  return {
    openSocket(learner) {
      let entry = learners.get(learner);
      if (entry && entry.sockets >= limits.maxSocketsPerLearner) return false;
      if (!entry) {
        entry = { sockets: 0, budget: limits.writeBurstBytes, refilledAt: performance.now() };
        learners.set(learner, entry);
      }
      entry.sockets += 1;
      return true;
    },
    closeSocket(learner) {
      const entry = learners.get(learner);
      if (!entry) return;
      entry.sockets -= 1;
      // Kept while the budget refills: otherwise a reconnect would start from a full bucket.
      if (forgettable(entry, performance.now())) learners.delete(learner);
    },
    takeWriteBytes(learner, bytes, now) {
      const entry = learners.get(learner);
      if (!entry) return true;
      refill(entry, now);
      if (entry.budget <= 0) return false;
      entry.budget -= bytes;
      return true;
    },
    sweep(now) {
      for (const [learner, entry] of learners) if (forgettable(entry, now)) learners.delete(learner);
    },
    sockets: (learner) => learners.get(learner)?.sockets ?? 0,
  };
}
